"""Word error rate and a readable word diff, shared by the transcription tests and bench/."""

from __future__ import annotations

import difflib
import re


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` (a hyphen separates words, as a space does)."""
    return re.findall(r"\w+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def word_diff(reference: str, hypothesis: str) -> str:
    """Where the two texts differ, word by word: one ``-[...] +[...]`` line per difference."""
    ref, hyp = words(reference), words(hypothesis)
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False).get_opcodes():
        if tag != "equal":
            context = " ".join(ref[max(0, i1 - 4) : i1])
            lines.append(f"...{context} -[{' '.join(ref[i1:i2])}] +[{' '.join(hyp[j1:j2])}]")
    return "\n".join(lines) or "(no difference)"
