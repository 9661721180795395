"""The pipeline hears what faster-whisper hears: same audio, same weights, compared word for word.

The real base model and the real worker path (encrypted upload -> queue job -> decrypt ->
decode in pieces -> transcribe -> store) against faster-whisper's own ``decode_audio`` and
``BatchedInferencePipeline`` / ``WhisperModel.transcribe`` on the same file. Issue 15: the
pipeline had lost the last sentence of many 30 s chunks (WER 0.24 against the library's 0.085
on this clip) and its segments overlapped.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from sqlalchemy import select

from fieldvault.config.settings import load_settings
from fieldvault.domain.recordings import accept_recording, format_text, read_transcripts
from fieldvault.media.decode import decode, decode_pieces
from fieldvault.storage.db import transaction
from fieldvault.storage.models import TranscriptionJob
from fieldvault.storage.services import Services
from fieldvault.workers import jobs, weights
from fieldvault.workers.queue import build_engine
from fieldvault.workers.transcription import FasterWhisperEngine, hear_pieces
from tests.audio_files import encoded
from tests.wer import wer, word_diff, words

from .conftest import NOW
from .recording_helpers import DATA, participant

pytestmark = pytest.mark.slow

# The fixture's nine sentences (66 s) twice, with a pause between: about 2:15 of speech and
# silence, five 30 s chunks for the batched pipeline, every sentence heard twice.
REPEATS = 2
MAX_WER = 0.01


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    weights.install("base", folder)
    return folder


def _engine(model_dir: Path, batch_size: int) -> FasterWhisperEngine:
    settings = load_settings(
        environ={}, model_dir=model_dir, whisper_threads=2, whisper_batch_size=batch_size
    )
    built = build_engine(settings)
    assert isinstance(built, FasterWhisperEngine) and built.batch_size == batch_size
    return built


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> FasterWhisperEngine:
    return _engine(model_dir, 6)


def _pcm(path: Path) -> np.ndarray:
    return (decode(io.BytesIO(path.read_bytes())) * 32768).astype(np.int16)


def _clip() -> tuple[np.ndarray, str]:
    """The fidelity clip repeated, as 16 kHz int16, and its reference text."""
    once = _pcm(DATA / "fidelity_en.ogg")
    pause = np.zeros(int(1.5 * 16000), dtype=np.int16)
    pcm = np.concatenate(list(itertools.chain.from_iterable((once, pause) for _ in range(REPEATS))))
    text = (DATA / "fidelity_en.txt").read_text(encoding="utf-8")
    return pcm, " ".join([text] * REPEATS)


def _opus(pcm: np.ndarray) -> bytes:
    """Ogg/Opus at 24 kbit/s, 48 kHz, as a phone or Telegram sends it."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = 24000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return buffer.getvalue()


CONTAINERS: dict[str, Callable[[np.ndarray], bytes]] = {
    "voice.ogg": _opus,
    "voice.flac": lambda pcm: encoded(pcm, "flac", "flac"),
    "voice.m4a": lambda pcm: encoded(pcm, "mp4", "aac"),
}


def _library_batched(engine: FasterWhisperEngine, data: bytes) -> str:
    """faster-whisper alone: its decoder, its batched pipeline with its own defaults."""
    from faster_whisper import BatchedInferencePipeline, decode_audio

    samples = decode_audio(io.BytesIO(data))
    segments, _ = BatchedInferencePipeline(engine._model).transcribe(
        samples, language="en", beam_size=5, vad_filter=True, batch_size=engine.batch_size
    )
    return " ".join(s.text.strip() for s in segments)


def _transcribe_upload(
    services: Services, study_id: str, engine: FasterWhisperEngine, files: list[tuple[str, bytes]]
) -> dict[str, Any]:
    """The whole worker path for one upload; the raw transcript document."""
    code = participant(services, study_id)
    accept_recording(
        services,
        study_id=study_id,
        code=code,
        files=[(name, io.BytesIO(data)) for name, data in files],
        language="en",
        source="cli",
        now=NOW,
    )
    with transaction(services.research) as session:
        job_id = session.scalars(select(TranscriptionJob.id)).one()
    assert jobs.run_transcription(services, engine, job_id).status == "done"
    with transaction(services.research) as session:
        [doc] = read_transcripts(session, services.content, study_id, code)
    return doc


def _same_words(label: str, library: str, pipeline: str, reference: str) -> float:
    """Assert the pipeline's words are the library's (WER <= MAX_WER); the diff on failure."""
    score = wer(library, pipeline)
    print(
        f"{label}: WER vs reference: pipeline {wer(reference, pipeline):.3f}, "
        f"library {wer(reference, library):.3f}; pipeline vs library {score:.4f}"
    )
    assert score <= MAX_WER, f"{label}: pipeline vs library\n{word_diff(library, pipeline)}"
    return score


def _in_order(segments: Iterable[dict[str, Any]]) -> None:
    """Times never overlap and never go back, and each segment spans exactly its words."""
    segments = list(segments)
    for seg in segments:
        assert seg["words"], seg
        assert seg["start"] == seg["words"][0]["start"] and seg["end"] == seg["words"][-1]["end"]
        assert words(" ".join(w["text"] for w in seg["words"])) == words(seg["text"])
        assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(seg["words"]))
        assert set(seg["words"][0]) == {"start", "end", "text", "probability"}
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(segments)), [
        (a["start"], a["end"], b["start"], b["end"])
        for a, b in itertools.pairwise(segments)
        if a["end"] > b["start"]
    ]


@pytest.mark.parametrize("name", list(CONTAINERS))
def test_the_pipeline_hears_every_word_faster_whisper_hears_in_each_container(
    services: Services, study_id: str, engine: FasterWhisperEngine, name: str
) -> None:
    pcm, reference = _clip()
    data = CONTAINERS[name](pcm)
    doc = _transcribe_upload(services, study_id, engine, [(name, data)])
    pipeline = " ".join(s["text"] for s in doc["segments"])
    _same_words(name, _library_batched(engine, data), pipeline, reference)
    _in_order(doc["segments"])
    # The sentences issue 15 found missing are there, every time they were said.
    for sentence in ("afterwards we listened to the recordings", "material will remain"):
        assert " ".join(words(pipeline)).count(sentence) == REPEATS, pipeline
    # The silence flag still hears the VAD: every segment here is speech.
    assert all(s["speech_share"] is not None and s["speech_share"] > 0.5 for s in doc["segments"])


def test_the_sequential_engine_hears_what_faster_whisper_hears_sequentially(
    model_dir: Path,
) -> None:
    from faster_whisper import decode_audio

    pcm, reference = _clip()
    data = CONTAINERS["voice.flac"](pcm)
    sequential = _engine(model_dir, 0)  # whisper_batch_size=0: window after window
    ours = list(sequential.transcribe(decode(io.BytesIO(data)), "en").segments)
    theirs, _ = sequential._model.transcribe(
        decode_audio(io.BytesIO(data)),
        language="en",
        beam_size=5,
        vad_filter=True,
        condition_on_previous_text=False,  # as the pipeline: no loops carried over
        word_timestamps=True,
    )
    library = " ".join(s.text.strip() for s in theirs)
    _same_words("sequential", library, " ".join(s.text for s in ours), reference)
    _in_order(s.as_dict() for s in ours)


def test_a_recording_cut_into_pieces_loses_no_words_against_the_whole(
    engine: FasterWhisperEngine,
) -> None:
    from faster_whisper import BatchedInferencePipeline

    pcm, reference = _clip()
    data = CONTAINERS["voice.flac"](pcm)
    # Pieces of about a minute instead of ten: the same cuts in quiet places, more of them.
    pieces = decode_pieces(io.BytesIO(data), piece_s=60)  # type: ignore[arg-type]
    heard = [segment for segment, _ in hear_pieces(engine, pieces, "en")]
    assert max(s.start for s in heard) > 60  # more than one piece was heard
    pipeline = " ".join(s.text for s in heard)
    _in_order(s.as_dict() for s in heard)
    # Word for word what faster-whisper hears in the same pieces: the cuts and the mapping
    # back to the recording's time lose nothing.
    library = BatchedInferencePipeline(engine._model)
    by_piece = []
    for piece in decode_pieces(io.BytesIO(data), piece_s=60):  # type: ignore[arg-type]
        segments, _ = library.transcribe(
            piece.samples, language="en", beam_size=5, batch_size=engine.batch_size
        )
        by_piece.extend(s.text.strip() for s in segments)
    _same_words("pieces of 60 s", " ".join(by_piece), pipeline, reference)
    # Against the whole heard at once, the pieces group speech into other 30 s chunks, so a few
    # words come out otherwise (measured: 0.017 word for word), but none is lost: the error
    # against the reference stays within 0.01 of the library's, every sentence is there.
    whole = _library_batched(engine, data)
    print(f"pieces vs whole: {wer(whole, pipeline):.4f}\n{word_diff(whole, pipeline)}")
    assert wer(reference, pipeline) <= wer(reference, whole) + MAX_WER
    assert len(words(pipeline)) >= len(words(whole)) - 2


def _turns() -> list[tuple[str, float, float, str]]:
    with (DATA / "turns.tsv").open(encoding="utf-8") as fh:
        return [(r[0], float(r[1]), float(r[2]), r[3]) for r in csv.reader(fh, delimiter="\t")]


def test_a_two_track_interview_keeps_every_word_and_puts_each_answer_after_its_question(
    services: Services, study_id: str, engine: FasterWhisperEngine
) -> None:
    names = ["turns_interviewer.ogg", "turns_informant.ogg"]
    files = [(name, (DATA / name).read_bytes()) for name in names]
    doc = _transcribe_upload(services, study_id, engine, files)
    segments = doc["segments"]
    turns = _turns()
    for speaker, (name, data) in zip(("speaker-1", "speaker-2"), files, strict=True):
        ours = [s for s in segments if s["speaker"] == speaker]
        reference = " ".join(text for who, _, _, text in turns if name == f"turns_{who}.ogg")
        text = " ".join(s["text"] for s in ours)
        _same_words(f"track {name}", _library_batched(engine, data), text, reference)
        _in_order(ours)
    # The merged transcript follows the conversation: each segment where its turn was spoken.
    for seg in segments:
        who = "interviewer" if seg["speaker"] == "speaker-1" else "informant"
        [turn] = [t for t in turns if t[0] == who and t[1] - 0.5 <= seg["start"] <= t[2]]
        assert seg["end"] <= turn[2] + 0.5, (seg, turn)
    order = [seg["speaker"] for seg in segments]
    expected = ["speaker-1" if who == "interviewer" else "speaker-2" for who, *_ in turns]
    assert [k for k, _ in itertools.groupby(order)] == expected, format_text(doc)
    stamps = [line[: line.index("]")] for line in format_text(doc).splitlines()]
    assert stamps == sorted(stamps), format_text(doc)
