"""The probe picks the demuxer by the file's first bytes, never leaving FFmpeg to guess.

Issue 17: FFmpeg's own guess also opens playlists (HLS) and concat scripts (ffconcat), which
read the local files they name. The named file here is a pipe that serves a good WAV and
records that someone opened it, so a refusal after reading it does not pass.
"""

from __future__ import annotations

import io
import os
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from fieldvault.media.probe import AudioProblem, probe, sniff_format

RATE = 16000
TONE = (np.sin(np.arange(2 * RATE) / 6.0) * 8000).astype(np.int16)  # 2 s


def _wav(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _encoded(fmt: str, codec: str, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(TONE.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


class WatchedFile:
    """A named pipe that hands a good 1 s WAV to whoever opens it, and remembers that."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = threading.Event()
        self._closing = threading.Event()
        os.mkfifo(path)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        fd = os.open(self.path, os.O_WRONLY)  # returns once a reader opens the pipe
        try:
            if not self._closing.is_set():
                self.opened.set()
            os.write(fd, _wav(TONE[:RATE]))  # 32 KB: fits the pipe's buffer, never blocks
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the waiting writer (by opening the pipe ourselves) and wait for it."""
        self._closing.set()
        reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self._thread.join(timeout=10)
        finally:
            os.close(reader)
        assert not self._thread.is_alive()


@pytest.fixture
def local_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WatchedFile]:
    # FFmpeg resolves a script's relative names against the working directory.
    monkeypatch.chdir(tmp_path)
    watched = WatchedFile(tmp_path / "clip.wav")
    yield watched
    watched.close()


SCRIPTS = {
    "ffconcat": b"ffconcat version 1.0\nfile clip.wav\n",
    "hls": (
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        b"#EXTINF:1.0,\nclip.wav\n#EXT-X-ENDLIST\n"
    ),
}


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
def test_a_playlist_naming_a_local_file_is_refused_and_the_file_never_opened(
    local_clip: WatchedFile, kind: str
) -> None:
    with pytest.raises(AudioProblem, match="is a playlist or script that names other files"):
        probe(io.BytesIO(SCRIPTS[kind]))
    assert not local_clip.opened.is_set()


def test_text_that_is_no_accepted_container_is_refused_as_not_readable() -> None:
    with pytest.raises(AudioProblem, match="is not a readable audio file") as caught:
        probe(io.BytesIO(b"Intervjuguide, versjon 2\n" * 50))
    assert "m4a/mp4, mp3, wav, ogg/opus, webm or flac expected" in str(caught.value)


@pytest.mark.parametrize(
    ("fmt", "codec", "demuxer", "container"),
    [
        ("wav", "pcm_s16le", "wav", "wav"),
        ("ogg", "libopus", "ogg", "ogg"),
        ("flac", "flac", "flac", "flac"),
        ("mp3", "libmp3lame", "mp3", "mp3"),
        ("mp4", "aac", "mov", "mov"),
        ("webm", "libopus", "matroska", "matroska"),
        ("matroska", "pcm_s16le", "matroska", "matroska"),
    ],
)
def test_every_accepted_container_is_recognised_by_its_first_bytes_and_probed(
    fmt: str, codec: str, demuxer: str, container: str
) -> None:
    data = _encoded(fmt, codec, 48000 if codec == "libopus" else RATE)
    file = io.BytesIO(data)
    assert sniff_format(file) == demuxer
    assert file.tell() == 0  # sniffing leaves the file where the probe starts
    info = probe(file)
    assert info.container == container
    assert info.duration_s == pytest.approx(2.0, abs=0.15)  # AAC adds its priming


def test_an_mp3_behind_a_large_id3_tag_is_still_an_mp3() -> None:
    mp3 = _encoded("mp3", "libmp3lame")
    if mp3[:3] == b"ID3":  # the muxer's own tag goes: ours replaces it
        mp3 = mp3[10 + sum(b << (7 * (3 - i)) for i, b in enumerate(mp3[6:10])) :]
    padding = 200_000  # a cover picture's worth: beyond the first bytes read
    size = bytes((padding >> shift) & 0x7F for shift in (21, 14, 7, 0))
    tagged = b"ID3\x04\x00\x00" + size + b"\x00" * padding + mp3
    assert sniff_format(io.BytesIO(tagged)) == "mp3"
    assert probe(io.BytesIO(tagged)).duration_s == pytest.approx(2.0, abs=0.1)
