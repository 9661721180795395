"""Suspect-segment flags, the seekable decrypted-stream reader and the offline model install."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldvault.media.probe import StreamReader
from fieldvault.workers import weights
from fieldvault.workers.transcription import (
    SAMPLE_RATE,
    Segment,
    Word,
    compression_ratio,
    flag,
    placed,
    repeated_phrase,
    sentences,
    speech_intervals,
    speech_share,
    split_points,
)

DATA = Path(__file__).parents[1] / "data"


def _segment(text: str, **kw: float) -> Segment:
    values = {"avg_logprob": -0.2, "no_speech_prob": 0.01, "compression_ratio": 1.2} | kw
    return Segment(start=0.0, end=2.0, text=text, **values)  # type: ignore[arg-type]


def test_ordinary_speech_is_not_suspect() -> None:
    text = "Jeg har jobbet på kontoret i omtrent sju år, mest med unge brukere."
    assert flag(_segment(text, compression_ratio=compression_ratio(text))).suspect == []


@pytest.mark.parametrize(
    ("segment", "reason"),
    [
        (_segment("Thank you. Thank you. Thank you. Thank you."), "repetition"),
        (_segment("so so so so", compression_ratio=1.0), "repetition"),
        (_segment("anything", compression_ratio=2.9), "repetition"),
        (_segment("Takk for at du så på.", avg_logprob=-1.4), "low confidence"),
        (_segment("Teksting av Nicolai Winther", no_speech_prob=0.93), "no speech"),
    ],
)
def test_each_kind_of_suspect_segment_is_flagged_with_its_reason(
    segment: Segment, reason: str
) -> None:
    assert any(reason in r for r in flag(segment).suspect)


def test_text_where_the_vad_heard_mostly_silence_is_flagged() -> None:
    quiet = _segment("Takk for at du så på.")
    quiet.speech_share = speech_share(0.0, 2.0, [(1.7, 5.0)])
    assert quiet.speech_share == pytest.approx(0.15)
    assert any("VAD heard silence" in r for r in flag(quiet).suspect)
    heard = _segment("Jeg jobber med unge brukere.")
    heard.speech_share = speech_share(0.0, 2.0, [(0.0, 0.8), (1.0, 2.5)])
    assert heard.speech_share == pytest.approx(0.9)
    assert flag(heard).suspect == []


def test_a_sentence_whose_end_slid_across_a_pause_is_not_taken_for_text_over_silence() -> None:
    # 18.7-29.3 s, speech only at 18.4-21.4 s: three seconds of real speech, badly timed.
    slid = Segment(18.7, 29.3, "How long have you worked at the office?", -0.3, 0.04, 1.0)
    slid.speech_share = speech_share(18.7, 29.3, [(18.35, 21.36), (28.88, 32.21)])
    assert slid.speech_share < 0.5
    assert flag(slid).suspect == []


def test_speech_share_counts_only_the_overlap_with_speech() -> None:
    speech = [(0.0, 1.0), (3.0, 4.0)]
    assert speech_share(0.0, 4.0, speech) == pytest.approx(0.5)
    assert speech_share(1.0, 3.0, speech) == 0.0
    assert speech_share(3.5, 3.5, speech) == 1.0
    assert speech_share(5.0, 6.0, []) == 0.0


def test_the_vad_hears_speech_in_a_clip_and_none_in_silence() -> None:
    from fieldvault.media.decode import decode

    with (DATA / "interview_en.ogg").open("rb") as clip:
        audio = decode(clip)  # type: ignore[arg-type]
    heard = speech_intervals(audio)
    assert heard and sum(b - a for a, b in heard) > 0.5 * len(audio) / SAMPLE_RATE
    silence = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    assert speech_intervals(silence) == []


def test_a_segment_repeating_the_previous_one_is_flagged() -> None:
    first = _segment("Og det var det.")
    assert "same text as the previous segment" in flag(_segment("Og det var det."), first).suspect


def test_repeated_phrase_needs_three_in_a_row() -> None:
    assert repeated_phrase("we went to the office, to the office, to the office")
    assert not repeated_phrase("to the office and back to the office")


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=3000),
    chunk=st.integers(1, 700),
    ops=st.lists(
        st.tuples(st.integers(-3100, 3100), st.sampled_from([0, 1, 2]), st.integers(0, 900))
    ),
)
def test_stream_reader_reads_and_seeks_like_a_file(
    data: bytes, chunk: int, ops: list[tuple[int, int, int]]
) -> None:
    opened = []

    def stream():  # type: ignore[no-untyped-def]
        opened.append(1)
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    reader = io.BufferedReader(StreamReader(stream, len(data)))
    expected = io.BytesIO(data)
    for offset, whence, size in ops:
        base = {0: 0, 1: expected.tell(), 2: len(data)}[whence]
        if base + offset < 0:
            with pytest.raises((ValueError, OSError)):
                reader.seek(offset, whence)
            continue
        want = expected.seek(offset, whence)
        assert reader.seek(offset, whence) == want
        assert reader.read(size) == expected.read(size)
    assert len(opened) <= len(ops) + 1


def test_install_checks_the_pinned_hash_and_repairs_a_damaged_model(tmp_path: Path) -> None:
    installed = weights.install("base", tmp_path)
    assert installed.sha256 == weights.MODELS["base"].model_sha256
    assert {p.name for p in installed.path.iterdir()} >= {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        weights.OPENAI_CHECKPOINT,
    }
    assert weights.installed(tmp_path) == ["base"]
    with (installed.path / "model.bin").open("r+b") as fh:
        fh.seek(os.path.getsize(installed.path / "model.bin") // 2)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(weights.ModelError, match="reinstall"):
        weights.verify("base", tmp_path)
    weights.install("base", tmp_path)
    assert weights.verify("base", tmp_path).sha256 == installed.sha256


def test_an_unknown_or_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(weights.ModelError, match="unknown model 'large'"):
        weights.install("large", tmp_path)
    with pytest.raises(weights.ModelError, match="models install base"):
        weights.resolve("base", tmp_path)


def test_long_audio_is_cut_in_the_quiet_near_each_ten_minutes() -> None:
    rng = np.random.default_rng(7)
    audio = (rng.standard_normal(25 * 60 * SAMPLE_RATE) * 0.1).astype(np.float32)
    quiet = [(596, 597), (1203, 1204)]  # seconds: a pause near 10 and near 20 minutes
    for lo, hi in quiet:
        audio[lo * SAMPLE_RATE : hi * SAMPLE_RATE] = 0.0
    cuts = split_points(audio)
    assert cuts[0] == 0 and cuts[-1] == len(audio) and len(cuts) == 4
    for cut, (lo, hi) in zip(cuts[1:-1], quiet, strict=True):
        assert lo * SAMPLE_RATE <= cut <= hi * SAMPLE_RATE
    assert split_points(audio[: 14 * 60 * SAMPLE_RATE]) == [0, 14 * 60 * SAMPLE_RATE]


def test_a_chunks_words_are_cut_after_sentence_ends_and_before_long_pauses() -> None:
    from faster_whisper.transcribe import Word as WhisperWord

    said = [
        (0.0, " Yes."),
        (0.5, " We"),
        (0.8, " moved"),
        (1.1, " here"),
        (4.0, " in"),
        (4.3, " May?"),
    ]
    heard = [WhisperWord(start, start + 0.3, text, 0.9) for start, text in said]
    parts = sentences(heard)
    assert [[w.word for w in part] for part in parts] == [
        [" Yes."],
        [" We", " moved", " here"],  # 2.6 s of silence before "in"
        [" in", " May?"],
    ]


def test_placed_moves_words_with_their_piece_and_never_lets_them_go_back() -> None:
    def heard(start: float, end: float) -> Segment:
        words = [Word(start, (start + end) / 2, "a", 0.9), Word((start + end) / 2, end, "b.", 0.9)]
        return Segment(start - 1.5, end, "a b.", -0.2, 0.01, 1.1, words=words)

    # The second piece starts at 10 s; its first word ran back over the first piece's end.
    first = list(placed([heard(1.0, 3.0), heard(4.0, 10.5)], 0.0, 0.0))
    second = list(placed([heard(0.2, 2.0)], 10.0, first[-1].end))
    times = [(w.start, w.end) for s in [*first, *second] for w in s.words]
    assert times == sorted(times) and all(a[1] <= b[0] for a, b in itertools.pairwise(times))
    assert [(s.start, s.end) for s in [*first, *second]] == [(1.0, 3.0), (4.0, 10.5), (10.5, 12.0)]
