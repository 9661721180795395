"""A bounded fuzz of the audio probe: real clips with bytes changed, headers above all.

Whatever the bytes, the probe either describes audio within the limits or refuses with its own
error (a FieldvaultError that says what is wrong), and it never runs long.
"""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldvault.errors import FieldvaultError
from fieldvault.media.probe import AudioLimits, AudioProblem, probe
from tests.audio_files import encoded

DATA = Path(__file__).parents[1] / "data"
_TONE = (np.sin(np.arange(3 * 16000) / 8.0) * 8000).astype(np.int16)
CLIPS = {
    "ogg": (DATA / "track_informant.ogg").read_bytes(),
    "wav": encoded(_TONE, "wav", "pcm_s16le"),
    "flac": encoded(_TONE, "flac", "flac"),
    "mp3": encoded(_TONE, "mp3", "libmp3lame"),
    "m4a": encoded(_TONE, "mp4", "aac"),
    "mka": encoded(_TONE, "matroska", "pcm_s16le"),
}
LIMITS = AudioLimits(max_duration_s=120.0, max_streams=8)
PER_EXAMPLE_S = 5.0


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Fail the example (instead of hanging the suite) when it runs past ``seconds``.

    The timer is the one pytest-timeout arms for the whole test: what is left of it is armed
    again afterwards.
    """

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the probe ran past {seconds} s")

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(0.01, outer - (time.monotonic() - started)))


# One change: (where, how, bytes). Where is in the first 512 bytes (the headers and their
# claims) more often than not.
_CHANGE = st.tuples(
    st.one_of(st.integers(0, 511), st.integers(0, 2**20)),
    st.sampled_from(["set", "overwrite", "delete", "insert", "max"]),
    st.binary(min_size=1, max_size=16),
)


def mutated(clip: bytes, changes: list[tuple[int, str, bytes]]) -> bytes:
    """``clip`` with each change applied in turn."""
    data = bytearray(clip)
    for where, how, value in changes:
        at = where % max(1, len(data))
        if how == "set":
            data[at : at + 1] = value[:1]
        elif how == "overwrite":
            data[at : at + len(value)] = value
        elif how == "delete":
            del data[at : at + len(value) * 4]
        elif how == "insert":
            data[at:at] = value
        else:  # the largest 32-bit value, a favourite of forged lengths
            data[at : at + 4] = b"\xff\xff\xff\x7f"
    return bytes(data)


@settings(
    max_examples=200,
    deadline=None,  # bounded by time_bound; the first decodes load codecs
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(clip=st.sampled_from(sorted(CLIPS)), changes=st.lists(_CHANGE, min_size=1, max_size=6))
def test_a_mutated_clip_is_described_within_the_limits_or_refused_in_words(
    clip: str, changes: list[tuple[int, str, bytes]]
) -> None:
    data = mutated(CLIPS[clip], changes)
    started = time.monotonic()
    with time_bound(PER_EXAMPLE_S):
        try:
            info = probe(io.BytesIO(data), LIMITS)
        except AudioProblem as refused:
            assert isinstance(refused, FieldvaultError) and refused.code.startswith("audio.")
            assert str(refused).strip()
        else:
            assert 0 < info.duration_s <= LIMITS.max_duration_s
            assert info.container and info.codec
    assert time.monotonic() - started < PER_EXAMPLE_S


def test_every_clip_the_fuzz_starts_from_is_sound_audio() -> None:
    for name, clip in CLIPS.items():
        info = probe(io.BytesIO(clip), LIMITS)
        assert info.duration_s > 1.0, name
