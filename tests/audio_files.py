"""Audio files made at test time for the limit tests: hours of silence in a few KB, many streams.

Nothing big is kept in the repository: ffmpeg and PyAV make each file when a test needs it.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import av
import numpy as np


def silence_flac(folder: Path, seconds: float, name: str = "silence.flac") -> bytes:
    """``seconds`` of 8 kHz silence in a FLAC of large blocks: some 7 KB per hour."""
    path = folder / name
    source = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds)]
    encoder = ["-c:a", "flac", "-frame_size", "65535"]
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", *source, *encoder, "-y", str(path)]
    subprocess.run(command, check=True, timeout=60)
    return path.read_bytes()


def with_declared_samples(flac: bytes, samples: int) -> bytes:
    """The FLAC with its STREAMINFO's total sample count forged (0 = unknown)."""
    assert flac[:4] == b"fLaC" and flac[4] & 0x7F == 0  # STREAMINFO comes first
    fields = int.from_bytes(flac[18:26], "big")
    fields = fields & ~((1 << 36) - 1) | samples
    return flac[:18] + fields.to_bytes(8, "big") + flac[26:]


def many_streams(count: int) -> bytes:
    """A Matroska file with ``count`` audio streams of a tenth of a second each."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as out:
        streams = [out.add_stream("pcm_s16le", rate=8000, layout="mono") for _ in range(count)]
        for stream in streams:
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
            )
            frame.sample_rate = 8000
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
    return buffer.getvalue()


def encoded(samples: np.ndarray, fmt: str, codec: str, rate: int = 16000) -> bytes:
    """16-bit mono ``samples`` encoded with ``codec`` in a ``fmt`` container, in memory."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()
