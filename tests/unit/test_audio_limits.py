"""Decoding in pieces: the same samples and cuts as the whole, memory that does not grow, limits."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fieldvault.media.decode import SAMPLE_RATE, decode, decode_pieces
from fieldvault.media.probe import AudioLimits, AudioTooLong, describe_duration, probe
from fieldvault.workers.transcription import split_points
from tests.audio_files import silence_flac

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).parents[2]

# Decoding in a fresh interpreter, reporting the peak of traced allocations (numpy's included).
_MEASURE = """
import json, sys, tracemalloc
from fieldvault.media.decode import decode, decode_pieces
tracemalloc.start()
with open(sys.argv[2], "rb") as fh:
    if sys.argv[1] == "whole":
        samples = len(decode(fh))
    else:
        samples = sum(len(piece.samples) for piece in decode_pieces(fh))
print(json.dumps({"samples": samples, "peak": tracemalloc.get_traced_memory()[1]}))
"""


def _peak(how: str, path: Path) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, how, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_pieces_hold_exactly_the_samples_of_the_whole_cut_where_split_points_cuts() -> None:
    clip = (DATA / "interview_en.ogg").read_bytes()
    whole = decode(io.BytesIO(clip))  # type: ignore[arg-type]
    pieces = list(decode_pieces(io.BytesIO(clip), piece_s=4))  # type: ignore[arg-type]
    assert len(pieces) > 2
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), whole)
    cuts = split_points(whole, piece_s=4)
    assert [round(p.offset_s * SAMPLE_RATE) for p in pieces] == cuts[:-1]
    assert all(p.duration_s <= 1.5 * 4 for p in pieces)


def test_decoding_two_hours_in_pieces_keeps_memory_bounded_where_the_whole_does_not(
    tmp_path: Path,
) -> None:
    silence_flac(tmp_path, 2 * 3600)
    bound = 200 * 2**20  # about 1.5 pieces as int16, one as float32, and one held by the caller
    pieces = _peak("pieces", tmp_path / "silence.flac")
    assert pieces["samples"] == 2 * 3600 * SAMPLE_RATE
    assert pieces["peak"] < bound
    # The whole recording at once (as the worker decoded before) is far past the bound.
    whole = _peak("whole", tmp_path / "silence.flac")
    assert whole["samples"] == pieces["samples"] and whole["peak"] > 3 * bound


def test_decoding_stops_with_a_refusal_once_the_samples_pass_the_limit() -> None:
    clip = (DATA / "interview_en.ogg").read_bytes()
    limits = AudioLimits(max_duration_s=5.0)
    with pytest.raises(AudioTooLong, match=r"lasts more than 5\.0 s, the limit") as refused:
        for _ in decode_pieces(io.BytesIO(clip), piece_s=2, limits=limits):  # type: ignore[arg-type]
            pass
    assert refused.value.facts["limit_s"] == 5.0


def test_the_probe_refuses_a_clip_longer_than_its_limit_and_takes_one_within() -> None:
    clip = (DATA / "interview_en.ogg").read_bytes()
    with pytest.raises(AudioTooLong, match=r"header says it lasts 18\.3 s, longer than"):
        probe(io.BytesIO(clip), AudioLimits(max_duration_s=10.0))
    assert probe(io.BytesIO(clip), AudioLimits(max_duration_s=19.0)).duration_s < 19.0


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(4.53, "4.5 s"), (750, "12 min 30 s"), (25_200, "7 h 00 min"), (21_900, "6 h 05 min")],
)
def test_durations_are_told_as_a_researcher_reads_them(seconds: float, words: str) -> None:
    assert describe_duration(seconds) == words
