"""Decoding audio through PyAV into the samples Whisper takes, from decrypted streams in memory.

``decode`` gives a short clip whole; ``decode_pieces`` gives a recording of any length in pieces
of about ten minutes, cut in quiet places, so that memory does not grow with its duration.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

from fieldvault.media.probe import DEFAULT_LIMITS, SAMPLE_RATE, AudioLimits

__all__ = ["PIECE_S", "SAMPLE_RATE", "Piece", "decode", "decode_pieces", "quiet_cut"]

# Whisper (faster-whisper's log-mel spectrogram above all: about 1.2 GB of STFT for an hour)
# takes a piece at a time; a piece is about ten minutes (at most 1.5 times that), cut in the
# quietest half second within CUT_SEARCH_S of each boundary.
PIECE_S = 600
CUT_SEARCH_S = 15


@dataclass(frozen=True)
class Piece:
    """Consecutive 16 kHz mono samples of a recording, and where they start in it."""

    offset_s: float
    samples: npt.NDArray[np.float32]

    @property
    def duration_s(self) -> float:
        """How long the piece lasts."""
        return len(self.samples) / SAMPLE_RATE


def cut_search_s(piece_s: float) -> float:
    """How far from each boundary a quiet place is looked for (shorter for short pieces)."""
    return min(CUT_SEARCH_S, piece_s / 4)


def quiet_cut(audio: npt.NDArray[np.float32] | npt.NDArray[np.int16], piece_s: float) -> int:
    """Where to cut ``audio`` (longer than ``piece_s`` plus the search): the quietest half second.

    Looked for within ``cut_search_s`` of ``piece_s``; int16 samples are scaled as ``decode``
    scales them, so both kinds cut in the same place.
    """
    step, search = int(piece_s * SAMPLE_RATE), int(cut_search_s(piece_s) * SAMPLE_RATE)
    window, hop = SAMPLE_RATE // 2, SAMPLE_RATE // 10
    lo = step - search
    part = audio[lo : lo + 2 * search]
    if part.dtype == np.int16:
        part = part.astype(np.float32) / np.float32(32768.0)
    power = part.astype(np.float64) ** 2
    energies = [power[i : i + window].sum() for i in range(0, len(power) - window, hop)]
    return lo + int(np.argmin(energies)) * hop + window // 2


def decode(file: BinaryIO) -> npt.NDArray[np.float32]:
    """Decode the first audio stream to 16 kHz mono float32 samples, all in memory."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[npt.NDArray[np.int16]] = []
    with av.open(file, mode="r") as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
        for out in resampler.resample(None):
            chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    # int16 while collecting, each copy dropped as soon as the next exists and the scaling done
    # in place: an hour (230 MB as float32) then peaks at about 1.5 times that, not three.
    samples = np.concatenate(chunks)
    chunks.clear()
    audio = samples.astype(np.float32)
    del samples
    audio /= 32768.0
    return audio


def _scaled(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    audio = samples.astype(np.float32)
    audio /= 32768.0
    return audio


def decode_pieces(
    file: BinaryIO,
    *,
    piece_s: float = PIECE_S,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> Generator[Piece, None, None]:
    """Decode the first audio stream to 16 kHz mono float32 pieces of about ``piece_s`` each.

    The cuts are those ``split_points`` makes over the whole (a piece is cut once more than 1.5
    pieces are waiting), so at most about 1.5 pieces are held, as int16, while decoding; the
    caller holds the piece it was given. AudioTooLong when the samples pass
    ``limits.max_duration_s``: decoding stops there.
    """
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    most = int(limits.max_duration_s * SAMPLE_RATE)
    step = int(piece_s * SAMPLE_RATE)
    waiting: list[npt.NDArray[np.int16]] = []
    held = 0  # samples in ``waiting``
    offset = 0  # samples given out before them
    with av.open(file, mode="r") as container:
        stream = container.streams.audio[0]
        # None at the end flushes the resampler.
        for frame in itertools.chain(container.decode(stream), [None]):
            for out in resampler.resample(frame):
                chunk = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1)
                waiting.append(chunk)
                held += len(chunk)
                if offset + held > most:
                    raise limits.stopped()
                while held > step * 3 // 2:
                    joined = np.concatenate(waiting)
                    cut = quiet_cut(joined, piece_s)
                    piece = Piece(offset / SAMPLE_RATE, _scaled(joined[:cut]))
                    waiting, held, offset = [joined[cut:].copy()], len(joined) - cut, offset + cut
                    del joined
                    yield piece
                    del piece
    if held:
        yield Piece(offset / SAMPLE_RATE, _scaled(np.concatenate(waiting)))
