"""Diarization scores against the generated reference turns (tests/data/dialogue_*.json).

Shared by tests/integration/test_diarization.py and bench/transcription.py. Time is scored on a
10 ms grid, with each hypothesis speaker mapped to the reference speaker it overlaps most (the
best one-to-one mapping): ``confusion`` is the share of reference speech put on the wrong
speaker, ``missed`` the share heard as no speech, ``false_alarm`` non-speech heard as speech
(over reference speech, as DER counts it).
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
CLIPS = ("dialogue_en", "dialogue_nb")
STEP_S = 0.01

Turn = tuple[float, float, Hashable]  # start, end, speaker


@dataclass(frozen=True)
class Scores:
    """Shares of reference speech time, and the turn-boundary errors in seconds."""

    confusion: float
    missed: float
    false_alarm: float
    boundary_errors: list[float]

    @property
    def der(self) -> float:
        """Diarization error rate: missed + false alarm + confusion."""
        return self.confusion + self.missed + self.false_alarm

    @property
    def median_boundary_error(self) -> float:
        """The median of the boundary errors (0 where the reference has one speaker)."""
        return statistics.median(self.boundary_errors) if self.boundary_errors else 0.0


def reference(name: str) -> list[Turn]:
    """The reference turns of a generated dialogue."""
    document = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return [(t["start"], t["end"], t["speaker"]) for t in document["turns"]]


def _grid(turns: Sequence[Turn], length: int, ids: dict[Hashable, int]) -> np.ndarray:
    grid = np.full(length, -1, dtype=np.int16)
    for start, end, who in turns:
        grid[round(start / STEP_S) : round(end / STEP_S)] = ids.setdefault(who, len(ids))
    return grid


def changes(turns: Sequence[Turn]) -> list[float]:
    """Where the speaker changes: mid-way between one speaker's turn and the next's."""
    ordered = sorted(turns, key=lambda t: t[0])
    return [
        (before[1] + after[0]) / 2
        for before, after in itertools.pairwise(ordered)
        if before[2] != after[2]
    ]


def score(ref: Sequence[Turn], hyp: Sequence[Turn]) -> Scores:
    """Confusion, missed and false-alarm shares, and each reference change's nearest change."""
    end = max([t[1] for t in ref] + [t[1] for t in hyp])
    length = round(end / STEP_S) + 1
    ref_ids: dict[Hashable, int] = {}
    hyp_ids: dict[Hashable, int] = {}
    r, h = _grid(ref, length, ref_ids), _grid(hyp, length, hyp_ids)
    speech = r >= 0
    total = max(1, int(speech.sum()))
    both = speech & (h >= 0)
    best = 0
    for mapping in itertools.permutations(range(max(len(ref_ids), len(hyp_ids))), len(hyp_ids)):
        agree = int(sum(((h == k) & (r == v) & both).sum() for k, v in enumerate(mapping)))
        best = max(best, agree)
    hyp_changes = changes(hyp)
    errors = [min((abs(c - x) for x in hyp_changes), default=end) for c in changes(ref)]
    return Scores(
        confusion=(int(both.sum()) - best) / total,
        missed=int((speech & (h < 0)).sum()) / total,
        false_alarm=int((~speech & (h >= 0)).sum()) / total,
        boundary_errors=errors,
    )
