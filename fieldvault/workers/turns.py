"""Speakers onto transcript segments, word by word: a segment is split where the speaker changes.

Pure functions over the engine's segments (with their word timestamps) and the diarizer's turns.
A word goes to the turn that overlaps it most, or to the nearest turn where none overlaps it; a
segment without words goes by its whole span. Speakers are named ``speaker-1``, ``speaker-2``, …
in the order in which they first speak.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from fieldvault.workers.diarization import SpeakerTurn
from fieldvault.workers.transcription import Segment, Word


def _overlap(start: float, end: float, turn: SpeakerTurn) -> float:
    return max(0.0, min(end, turn.end) - max(start, turn.start))


def _distance(start: float, end: float, turn: SpeakerTurn) -> float:
    return max(turn.start - end, start - turn.end, 0.0)


def speaker_at(start: float, end: float, turns: Sequence[SpeakerTurn]) -> int:
    """The speaker of the turn that overlaps ``[start, end]`` most, else of the nearest turn."""
    best = max(turns, key=lambda t: _overlap(start, end, t))
    if _overlap(start, end, best) > 0:
        return best.speaker
    # A zero-length word inside a turn has no overlap but distance 0: the nearest is that turn.
    return min(turns, key=lambda t: _distance(start, end, t)).speaker


def _texts(segment: Segment, groups: list[list[Word]]) -> list[str]:
    """Each group's part of the segment's own text (spacing kept), or its words joined."""
    cuts: list[int] = []
    at = 0
    for group in groups:
        found = segment.text.find(group[0].text, at)
        if found < 0:
            return [" ".join(w.text for w in group) for group in groups]
        cuts.append(found)
        for word in group:
            hit = segment.text.find(word.text, at)
            if hit < 0:
                return [" ".join(w.text for w in group) for group in groups]
            at = hit + len(word.text)
    bounds = [*cuts[1:], len(segment.text)]
    return [segment.text[a:b].strip() for a, b in zip(cuts, bounds, strict=True)]


def split(segment: Segment, turns: Sequence[SpeakerTurn]) -> list[tuple[int, Segment]]:
    """The segment cut where its words' speaker changes, each part with its speaker index."""
    if not segment.words:
        return [(speaker_at(segment.start, segment.end, turns), segment)]
    keyed = [(speaker_at(w.start, w.end, turns), w) for w in segment.words]
    runs = [(who, [w for _, w in run]) for who, run in itertools.groupby(keyed, lambda k: k[0])]
    if len(runs) == 1:
        return [(runs[0][0], segment)]
    texts = _texts(segment, [words for _, words in runs])
    return [
        (
            who,
            dataclasses.replace(
                segment,
                start=words[0].start,
                end=words[-1].end,
                text=text,
                words=words,
                suspect=list(segment.suspect),
            ),
        )
        for (who, words), text in zip(runs, texts, strict=True)
    ]


def label_speakers(segments: Sequence[Segment], turns: Sequence[SpeakerTurn]) -> list[Segment]:
    """``segments`` (by time) split at speaker changes and named by the order of first speech.

    Without turns (nothing was heard as speech) the segments come back as they are.
    """
    if not turns:
        return list(segments)
    parts = [part for segment in segments for part in split(segment, turns)]
    names: dict[int, str] = {}
    out = []
    for who, segment in parts:
        names.setdefault(who, f"speaker-{len(names) + 1}")
        segment.speaker = names[who]
        out.append(segment)
    return out
