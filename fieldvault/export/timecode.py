"""Time codes in the forms transcription and coding tools read."""

from __future__ import annotations

__all__ = ["bracket", "f4", "nvivo", "srt", "vtt"]


def _split(seconds: float, fraction: int) -> tuple[int, int, int, int]:
    """Hours, minutes, seconds and the rounded fraction (1/``fraction`` s) of ``seconds``."""
    units = round(max(seconds, 0.0) * fraction)
    whole, part = divmod(units, fraction)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return hours, minutes, secs, part


def f4(seconds: float) -> str:
    """The f4/MAXQDA time stamp ``#hh:mm:ss-d#`` (d = tenths of a second)."""
    h, m, s, d = _split(seconds, 10)
    return f"#{h:02d}:{m:02d}:{s:02d}-{d}#"


def bracket(seconds: float) -> str:
    """``[hh:mm:ss]``, whole seconds rounded down (QualCoder and tools without the f4 form)."""
    h, m, s, _ = _split(int(max(seconds, 0.0)), 1)
    return f"[{h:02d}:{m:02d}:{s:02d}]"


def nvivo(seconds: float) -> str:
    """``hh:mm:ss.t``, the form of NVivo's transcript Timespan column."""
    h, m, s, d = _split(seconds, 10)
    return f"{h:02d}:{m:02d}:{s:02d}.{d}"


def srt(seconds: float) -> str:
    """``hh:mm:ss,mmm`` (SubRip)."""
    h, m, s, ms = _split(seconds, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def vtt(seconds: float) -> str:
    """``hh:mm:ss.mmm`` (WebVTT)."""
    h, m, s, ms = _split(seconds, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
