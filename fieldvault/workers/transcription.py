"""Whisper engines behind one small interface, and the flags that mark suspect segments.

Both engines take 16 kHz mono float32 samples (decoded in memory from the decrypted stream) and
yield segments lazily, so the worker can store progress while a long recording runs.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from fieldvault.media.decode import PIECE_S, SAMPLE_RATE, Piece, quiet_cut

# The engines (faster_whisper with CTranslate2 and onnxruntime, openai-whisper with torch) are
# imported where a model is loaded or the VAD runs, never at module level: every fieldvault
# command imports this module through the worker, and only a worker that transcribes should
# pay seconds and hundreds of MB for them. These are the package's only deferred imports,
# with torch in workers/weights.py for the same reason.

# Thresholds are Whisper's own fallback thresholds (openai/whisper transcribe.py): a segment past
# them is one Whisper itself would have retried; here it is kept and flagged for review.
COMPRESSION_RATIO_MAX = 2.4
AVG_LOGPROB_MIN = -1.0
NO_SPEECH_PROB_MAX = 0.6
# A segment is text over silence when the VAD heard under half of it as speech AND under a
# second of speech in all: Whisper is known to write fluent sentences over silence, music or
# noise. (A real sentence whose end time slid across a pause has seconds of speech in it.)
SPEECH_SHARE_MIN = 0.5
SPEECH_HEARD_MIN_S = 1.0
BEAM_SIZE = 5
# Speech chunks faster-whisper's batched pipeline decodes together (see FasterWhisperEngine).
# Memory grows with it (beam 5 keeps decoder state per chunk: about 115 MB each with base);
# 6 runs as fast as 8 on two cores and keeps a 60-minute interview under 1.5 GB.
BATCH_SIZE = 6
# The VAD options that pipeline uses by default; the silence flag must hear what it heard.
# (These are the pipeline's defaults, so the speech it is handed is the speech it would pick.)
BATCHED_VAD_MAX_S = 30
BATCHED_VAD: dict[str, Any] = {
    "max_speech_duration_s": BATCHED_VAD_MAX_S,
    "min_silence_duration_ms": 160,
}

# A chunk's text is cut into segments at sentence ends and at pauses this long between words,
# so that no segment runs over a long silence (the batched pipeline gives one per 30 s chunk).
PAUSE_SPLIT_S = 2.0
_SENTENCE_END = ".?!。？！…"

# faster-whisper computes the log-mel spectrogram of everything it is given at once (about
# 1.2 GB of STFT for an hour), so long recordings are transcribed in pieces of about ten
# minutes (media/decode.py PIECE_S), cut in the quietest half second near each boundary.


@dataclass
class Word:
    """One word, its time (Whisper's cross-attention alignment) and its probability."""

    start: float
    end: float
    text: str
    probability: float


@dataclass
class Segment:
    """One timestamped piece of transcript and why it may be wrong."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    speaker: str = "unknown"
    suspect: list[str] = field(default_factory=list)
    # Share of [start, end] that the VAD heard as speech; None where no VAD ran.
    speech_share: float | None = None
    # Its words with their times; start and end are the first word's start and last's end.
    words: list[Word] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class TranscribeResult:
    """Language (given or detected) and a lazy segment iterator."""

    language: str
    duration_s: float
    segments: Iterator[Segment]


class Engine(Protocol):
    """A Whisper implementation."""

    name: str
    model_name: str

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        """Transcribe 16 kHz mono samples; ``language`` None means detect."""
        ...


def compression_ratio(text: str) -> float:
    """How much zlib shrinks the text: repeated, looping text compresses far better than speech."""
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


_WORD = re.compile(r"\w+", re.UNICODE)


def repeated_phrase(text: str, min_repeats: int = 3) -> bool:
    """Whether a phrase of 1-6 words occurs ``min_repeats`` times in a row (a Whisper loop)."""
    words = [w.lower() for w in _WORD.findall(text)]
    for n in range(1, 7):
        for i in range(0, len(words) - n * min_repeats + 1):
            phrase = words[i : i + n]
            if all(words[i + k * n : i + (k + 1) * n] == phrase for k in range(1, min_repeats)):
                return True
    return False


Interval = tuple[float, float]


def speech_share(start: float, end: float, speech: list[Interval]) -> float:
    """The share of ``[start, end]`` covered by the sorted speech intervals ``speech``."""
    if end <= start:
        return 1.0 if any(a <= start <= b for a, b in speech) else 0.0
    heard = sum(max(0.0, min(end, b) - max(start, a)) for a, b in speech if b > start and a < end)
    return min(1.0, heard / (end - start))


def speech_intervals(
    audio: npt.NDArray[np.float32], offset_s: float = 0.0, options: dict[str, Any] | None = None
) -> list[Interval]:
    """Where Silero VAD (shipped inside faster-whisper, no download) hears speech, in seconds."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return _seconds(get_speech_timestamps(audio, VadOptions(**(options or {}))), offset_s)


def _seconds(chunks: list[dict[str, int]], offset_s: float) -> list[Interval]:
    return [
        (c["start"] / SAMPLE_RATE + offset_s, c["end"] / SAMPLE_RATE + offset_s) for c in chunks
    ]


def flag(segment: Segment, previous: Segment | None = None) -> Segment:
    """Add the reasons why ``segment`` may be invented or repeated text."""
    reasons: list[str] = []
    if segment.compression_ratio > COMPRESSION_RATIO_MAX or repeated_phrase(segment.text):
        reasons.append(f"repetition (compression ratio {segment.compression_ratio:.2f})")
    if (
        previous is not None
        and segment.text.strip()
        and segment.text.strip() == previous.text.strip()
    ):
        reasons.append("same text as the previous segment")
    if segment.avg_logprob < AVG_LOGPROB_MIN:
        reasons.append(f"low confidence (avg log-prob {segment.avg_logprob:.2f})")
    if segment.no_speech_prob > NO_SPEECH_PROB_MAX:
        reasons.append(f"probably no speech here (no-speech prob {segment.no_speech_prob:.2f})")
    if (
        segment.speech_share is not None
        and segment.speech_share < SPEECH_SHARE_MIN
        and segment.speech_share * (segment.end - segment.start) < SPEECH_HEARD_MIN_S
        and segment.text.strip()
    ):
        reasons.append(
            f"text where the VAD heard silence ({segment.speech_share:.0%} of it is speech)"
        )
    segment.suspect = reasons
    return segment


def _flagged(
    segments: Iterator[Segment], speech: Callable[[], list[Interval]] | None = None
) -> Iterator[Segment]:
    """Flag each segment; ``speech`` gives the VAD's speech intervals once they are known."""
    previous = None
    for segment in segments:
        if speech is not None:
            segment.speech_share = round(speech_share(segment.start, segment.end, speech()), 3)
        yield flag(segment, previous)
        previous = segment


class FasterWhisperEngine:
    """faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA, VAD filter on."""

    name = "faster-whisper"

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        compute_type: str = "default",
        threads: int = 0,
        model_name: str | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        """Load the CTranslate2 model in ``model_path`` (never from a hub)."""
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if compute_type == "default":
            compute_type = "int8" if device == "cpu" else "float16"
        self.model_name = model_name or model_path.name
        self.compute_type = compute_type
        self._model = WhisperModel(
            str(model_path),
            device=device,
            compute_type=compute_type,
            cpu_threads=threads,
            local_files_only=True,
        )
        self.batch_size = batch_size
        self._batched = BatchedInferencePipeline(self._model) if batch_size > 0 else None

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        """Transcribe with beam 5 and without conditioning on earlier text (avoids loops)."""
        pieces = split_points(audio)
        speech: list[Interval] = []
        first, info = self._run(audio[pieces[0] : pieces[1]], language, 0.0, speech)
        detected = language or info.language

        def convert() -> Iterator[Segment]:
            after = 0.0  # where the last segment ended: times never go back
            for segment in placed(self._segments(first), 0.0, after):
                after = segment.end
                yield segment
            for start, end in itertools.pairwise(pieces[1:]):
                offset = start / SAMPLE_RATE
                segments, _ = self._run(audio[start:end], detected, offset, speech)
                for segment in placed(self._segments(segments), offset, after):
                    after = segment.end
                    yield segment

        duration = len(audio) / SAMPLE_RATE
        return TranscribeResult(detected, duration, _flagged(convert(), lambda: speech))

    def _run(
        self,
        audio: npt.NDArray[np.float32],
        language: str | None,
        offset_s: float,
        speech: list[Interval],
    ) -> tuple[Any, Any]:
        if self._batched is not None:
            return self._run_batched(audio, language, offset_s, speech)
        return self._run_sequential(audio, language, offset_s, speech)

    def _run_batched(
        self,
        audio: npt.NDArray[np.float32],
        language: str | None,
        offset_s: float,
        speech: list[Interval],
    ) -> tuple[Any, Any]:
        """faster-whisper's batched pipeline: VAD chunks of <= 30 s decoded side by side.

        It never conditions on earlier text (each chunk stands alone) and, on two CPU cores,
        runs about 2.3 times faster than decoding window after window, with no loss in WER.
        Its VAD step is done here, with its own functions and options, so that the speech
        chunks can be kept for the silence flag without running the VAD twice: the speech is
        joined as the pipeline would join it and handed over as clips, and the timestamps are
        mapped back as the pipeline would map them. Its options are the pipeline's defaults
        (text without timestamp tokens): with timestamp tokens each chunk is decoded once and
        the text after its last closed timestamp pair is dropped (the sequential decoder would
        seek back and decode it again; the batched one does not), which lost the last sentence
        of many chunks. Times come from the words (cross-attention alignment) instead.
        """
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        assert self._batched is not None
        options = {
            "language": language,
            "beam_size": BEAM_SIZE,
            "without_timestamps": True,
            "word_timestamps": True,
        }
        chunks = get_speech_timestamps(audio, VadOptions(**BATCHED_VAD))
        if not chunks:  # nothing to decode: let the pipeline say so (and detect the language)
            return self._batched.transcribe(
                audio, vad_filter=True, batch_size=self.batch_size, **options
            )
        speech.extend(_seconds(chunks, offset_s))
        pieces, metadata = collect_chunks(audio, chunks, max_duration=BATCHED_VAD_MAX_S)
        # Half a sample added: the pipeline turns clip seconds back into samples with int().
        half = 0.5 / SAMPLE_RATE
        clips = [
            {"start": m["offset"] + half, "end": m["offset"] + m["duration"] + half}
            for m in metadata
        ]
        segments, info = self._batched.transcribe(
            np.concatenate(pieces, axis=0),
            clip_timestamps=clips,
            batch_size=self.batch_size,
            **options,
        )
        return restore_speech_timestamps(segments, chunks, SAMPLE_RATE), info

    def _run_sequential(
        self,
        audio: npt.NDArray[np.float32],
        language: str | None,
        offset_s: float,
        speech: list[Interval],
    ) -> tuple[Any, Any]:
        """faster-whisper's own VAD filter, step by step, so its speech chunks can be kept."""
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        # Exactly what ``transcribe(vad_filter=True)`` does inside, with the same functions.
        chunks = get_speech_timestamps(audio, VadOptions())
        speech.extend(_seconds(chunks, offset_s))
        audio_chunks, _ = collect_chunks(audio, chunks)
        segments, info = self._model.transcribe(
            np.concatenate(audio_chunks, axis=0),
            language=language,
            beam_size=BEAM_SIZE,
            vad_filter=False,
            condition_on_previous_text=False,
            word_timestamps=True,
        )
        if chunks:
            segments = restore_speech_timestamps(segments, chunks, SAMPLE_RATE)
        return segments, info

    @staticmethod
    def _segments(segments: Any) -> Iterator[Segment]:
        """faster-whisper's segments as ours, cut at sentence ends and long pauses."""
        for s in segments:
            if not s.words:
                yield _scored(s, float(s.start), float(s.end), s.text.strip(), [])
                continue
            for part in sentences(s.words):
                words = [
                    Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                    for w in part
                ]
                text = "".join(w.word for w in part).strip()  # as Whisper joins them
                yield _scored(s, words[0].start, words[-1].end, text, words)


def _scored(decoded: Any, start: float, end: float, text: str, words: list[Word]) -> Segment:
    """A segment with the scores of the decoded chunk it is part of (they describe that decode)."""
    return Segment(
        start=start,
        end=end,
        text=text,
        avg_logprob=float(decoded.avg_logprob),
        no_speech_prob=float(decoded.no_speech_prob),
        compression_ratio=float(decoded.compression_ratio),
        words=words,
    )


def sentences(words: list[Any]) -> list[list[Any]]:
    """Whisper's words cut after each sentence end and before each pause of PAUSE_SPLIT_S."""
    parts: list[list[Any]] = [[]]
    for word in words:
        if parts[-1] and word.start - parts[-1][-1].end >= PAUSE_SPLIT_S:
            parts.append([])
        parts[-1].append(word)
        if word.word.strip().endswith(tuple(_SENTENCE_END)):
            parts.append([])
    return [part for part in parts if part]


def split_points(audio: npt.NDArray[np.float32], piece_s: float = PIECE_S) -> list[int]:
    """Sample indices that cut ``audio`` into pieces of about ``piece_s``, in quiet places."""
    step = int(piece_s * SAMPLE_RATE)
    cuts = [0]
    # The last piece may be up to 1.5 pieces long rather than a short tail.
    while len(audio) - cuts[-1] > step * 3 // 2:
        cuts.append(cuts[-1] + quiet_cut(audio[cuts[-1] :], piece_s))
    cuts.append(len(audio))
    return cuts


def placed(segments: Iterable[Segment], offset_s: float, after_s: float) -> Iterator[Segment]:
    """A piece's segments moved to where it starts (``offset_s``), each after the one before.

    ``after_s`` is where the previous piece's last segment ended: a segment (or word) Whisper
    let run past its piece's end must not overlap the next one, and times never go back.
    """
    for segment in segments:
        for word in segment.words:
            word.start = max(word.start + offset_s, after_s)
            word.end = max(word.end + offset_s, word.start)
            after_s = word.end
        if segment.words:
            segment.start, segment.end = segment.words[0].start, segment.words[-1].end
        else:
            segment.start = max(segment.start + offset_s, after_s)
            segment.end = max(segment.end + offset_s, segment.start)
        after_s = segment.end
        yield segment


def hear_pieces(
    engine: Engine, pieces: Iterable[Piece], language: str | None
) -> Iterator[tuple[Segment, str]]:
    """A track's segments piece by piece, at their time in the track, with the language heard.

    The first piece's language (given or detected) is the language of the later pieces.
    """
    after = 0.0  # where the last segment so far ends
    for piece in pieces:
        result = engine.transcribe(piece.samples, language)
        language = language or result.language
        offset_s = piece.offset_s
        del piece  # the engine holds the samples while its segments are read
        for segment in placed(result.segments, offset_s, after):
            after = segment.end
            yield segment, result.language


class OpenAIWhisperEngine:
    """openai-whisper (PyTorch) from a local ``.pt`` checkpoint; the reference implementation."""

    name = "openai-whisper"

    def __init__(
        self,
        checkpoint: Path,
        *,
        device: str = "cpu",
        threads: int = 0,
        model_name: str | None = None,
    ) -> None:
        """Load ``checkpoint`` (see ``fieldvault models install`` for the converted base)."""
        import torch
        import whisper

        if threads:
            torch.set_num_threads(threads)
        self.model_name = model_name or checkpoint.stem
        self._device = "cuda" if device == "cuda" else "cpu"
        self._model = whisper.load_model(str(checkpoint), device=self._device)

    def transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> TranscribeResult:
        """Transcribe with beam 5, fp32 on CPU, no conditioning on previous text."""
        result = self._model.transcribe(
            audio,
            language=language,
            beam_size=BEAM_SIZE,
            condition_on_previous_text=False,
            fp16=self._device == "cuda",
            verbose=None,
        )

        def convert() -> Iterator[Segment]:
            for s in result["segments"]:
                yield Segment(
                    start=float(s["start"]),
                    end=float(s["end"]),
                    text=str(s["text"]).strip(),
                    avg_logprob=float(s["avg_logprob"]),
                    no_speech_prob=float(s["no_speech_prob"]),
                    compression_ratio=float(s["compression_ratio"]),
                )

        duration = len(audio) / SAMPLE_RATE
        # openai-whisper has no VAD of its own; the same Silero VAD checks its segments.
        speech = speech_intervals(audio)
        return TranscribeResult(
            str(result["language"]), duration, _flagged(convert(), lambda: speech)
        )


EngineFactory = Callable[[], Engine]
