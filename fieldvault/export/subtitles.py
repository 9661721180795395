"""Subtitles (SRT and WebVTT) of each interview, one cue per transcript segment."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fieldvault.export import timecode
from fieldvault.export.model import ExportTranscript, labelled, speaker_label

__all__ = ["srt", "vtt"]

# A cue must last; a zero-length segment is shown for this long.
_MIN_CUE_S = 0.5


def _cues(transcript: ExportTranscript) -> list[tuple[float, float, str, str]]:
    cues = []
    for segment in transcript.clean_segments:
        end = segment.end if segment.end > segment.start else segment.start + _MIN_CUE_S
        cues.append((segment.start, end, speaker_label(segment.speaker, transcript), segment.text))
    return cues


def srt(transcript: ExportTranscript) -> str:
    """SubRip: numbered cues, ``hh:mm:ss,mmm --> hh:mm:ss,mmm``, the text as ``Label: text``."""
    blocks = [
        f"{number}\n{timecode.srt(start)} --> {timecode.srt(end)}\n"
        f"{labelled(who, text.replace('-->', '->'))}"
        for number, (start, end, who, text) in enumerate(_cues(transcript), start=1)
    ]
    return "\n\n".join(blocks) + "\n"


def vtt(transcript: ExportTranscript) -> str:
    """WebVTT with voice spans (``<v Label>text``)."""
    blocks = ["WEBVTT"]
    for start, end, who, text in _cues(transcript):
        voice = f"<v {escape(who.replace('>', ''))}>" if who else ""
        blocks.append(
            f"{timecode.vtt(start)} --> {timecode.vtt(end)}\n"
            f"{voice}{escape(text.replace('-->', '->'))}"
        )
    return "\n\n".join(blocks) + "\n"
