"""Probing audio through PyAV without plaintext on disk: what a stored upload holds, or why not."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import av

from fieldvault.errors import FieldvaultError

SAMPLE_RATE = 16000  # what Whisper expects
ACCEPTED_CONTAINERS = frozenset(
    {"mov,mp4,m4a,3gp,3g2,mj2", "mp3", "wav", "ogg", "matroska,webm", "flac"}
)
ACCEPTED_LABEL = "m4a/mp4, mp3, wav, ogg/opus, webm or flac"
# A file whose decodable audio ends this much earlier than its header claims is truncated.
TRUNCATION_TOLERANCE_S = 1.0


# Limits on what one file may claim or hold, so that probing a forged or absurd file is bounded
# work: the probe refuses at the first limit passed instead of decoding on.
MAX_CHANNELS = 32  # a multitrack field recorder has 8-16; Opus' header allows 255
MAX_SAMPLE_RATE = 384_000
# Demuxer packets read per second of allowed duration: Opus' shortest frame is 2.5 ms (400 a
# second); ordinary recordings have 10-50. Tiny forged packets cannot make the probe run on.
PACKETS_PER_S = 400
PACKETS_SLACK = 10_000


class AudioProblem(FieldvaultError):
    """What is wrong with an audio file, in words a researcher understands."""

    code = "audio.bad"
    reason = "bad-audio"  # the intake's refusal reason, in the audit chain


class AudioTooLong(AudioProblem):
    """The audio lasts longer than one recording may (``limit_s``)."""

    code = "audio.too_long"
    reason = "too-long"


class AudioTooManyStreams(AudioProblem):
    """The file holds more audio streams than one recording may have tracks."""

    code = "audio.too_many_streams"
    reason = "too-many-tracks"


def describe_duration(seconds: float) -> str:
    """``7 h 05 min``, ``12 min 30 s`` or ``4.5 s``: a duration as a researcher reads it."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole // 60 % 60:02d} min"


@dataclass(frozen=True)
class AudioLimits:
    """How much one file may hold (the settings' recording limits and the fixed ones above)."""

    max_duration_s: float = 6 * 3600.0
    max_streams: int = 8
    max_channels: int = MAX_CHANNELS

    @property
    def max_packets(self) -> int:
        """The most demuxer packets the probe reads before it refuses the file."""
        return int(self.max_duration_s * PACKETS_PER_S) + PACKETS_SLACK

    def too_long(self, seconds: float, *, claimed: bool = False) -> AudioTooLong:
        """The refusal of audio that lasts (or whose header says it lasts) ``seconds``."""
        limit = describe_duration(self.max_duration_s)
        said = "its header says it lasts" if claimed else "lasts"
        return AudioTooLong(
            f"{said} {describe_duration(seconds)}, longer than the limit of {limit} per recording",
            duration_s=round(seconds, 1),
            limit_s=self.max_duration_s,
        )

    def stopped(self) -> AudioTooLong:
        """The refusal of audio whose decoding passed the limit (and stopped there)."""
        limit = describe_duration(self.max_duration_s)
        return AudioTooLong(
            f"lasts more than {limit}, the limit per recording (decoding stopped there)",
            duration_s=round(self.max_duration_s, 1),
            limit_s=self.max_duration_s,
        )


DEFAULT_LIMITS = AudioLimits()


@dataclass(frozen=True)
class AudioInfo:
    """What probing found."""

    container: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    # The container's creation_time tag (phones, recorders, Zoom): when the interview was
    # recorded, if the device's clock was set. None when absent or unreadable.
    created_at: dt.datetime | None = None


class StreamReader(io.RawIOBase):
    """A read-only, seekable file over a stream that can be restarted (e.g. a decrypted blob).

    PyAV needs seeking for formats such as MP4 whose index sits at the end. Seeking forward
    skips; seeking backward restarts the stream. Nothing is ever written anywhere.
    """

    def __init__(self, open_stream: Callable[[], Iterator[bytes]], size: int) -> None:
        """``open_stream`` yields the plaintext from the start each time it is called."""
        super().__init__()
        self._open = open_stream
        self._size = size
        self._stream: Iterator[bytes] = iter(())
        self._buffer = b""
        self._buffer_start = 0  # stream position of _buffer[0]
        self._stream_pos = 0  # stream position after the last chunk read
        self._pos = 0
        self._restart()

    def _restart(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        self._stream = self._open()
        self._buffer = b""
        self._buffer_start = 0
        self._stream_pos = 0

    def readable(self) -> bool:
        """Always."""
        return True

    def seekable(self) -> bool:
        """Always (backwards by restarting the stream)."""
        return True

    def tell(self) -> int:
        """Current position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position; the stream is only touched on the next read."""
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the current position."""
        if self._pos >= self._size:
            return 0
        if self._pos < self._buffer_start:
            self._restart()
        while self._pos >= self._stream_pos:
            chunk = next(self._stream, None)
            if chunk is None:
                return 0
            self._buffer_start = self._stream_pos
            self._buffer = chunk
            self._stream_pos += len(chunk)
        start = self._pos - self._buffer_start
        n = min(len(buffer), len(self._buffer) - start)
        buffer[:n] = self._buffer[start : start + n]
        self._pos += n
        return n

    def close(self) -> None:
        """Close the underlying stream."""
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        super().close()


def _size(file: BinaryIO) -> int:
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


def _truncation(file: BinaryIO, fmt: str, size: int) -> str | None:
    """Container-level signs of a cut-off file that FFmpeg reads past without complaint."""
    if fmt == "wav":
        # RIFF: the "data" chunk declares its length; a cut file is shorter than that.
        head = file.read(4096)
        at = head.find(b"data")
        if at >= 0 and at + 8 <= len(head):
            declared = int.from_bytes(head[at + 4 : at + 8], "little")
            if declared not in (0, 0xFFFFFFFF) and at + 8 + declared > size:
                return f"its header declares {at + 8 + declared} bytes but it has {size}"
    elif fmt == "ogg":
        # The last Ogg page of a complete stream carries the end-of-stream flag (0x04).
        file.seek(max(0, size - 65536))
        tail = file.read()
        at = tail.rfind(b"OggS")
        if at >= 0 and at + 5 < len(tail) and not tail[at + 5] & 0x04:
            return "its last page is not the end of the stream"
    return None


def _check_claims(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    declared: float | None,
    limits: AudioLimits,
) -> None:
    """Refuse, before decoding, a file whose header claims more than a recording may hold.

    A forged header can understate as well, so decoding is bounded too (``_decode_bounded``);
    one that overstates is either too long or truncated, and refused either way.
    """
    streams = len(container.streams.audio)
    if streams > limits.max_streams:
        raise AudioTooManyStreams(
            f"holds {streams} audio streams; a recording may have at most "
            f"{limits.max_streams} tracks",
            streams=streams,
            limit=limits.max_streams,
        )
    if stream.codec_context is None:  # a codec FFmpeg does not know
        raise AudioProblem(f"holds audio in a codec that cannot be decoded ({ACCEPTED_LABEL})")
    channels = stream.codec_context.channels or 0
    if channels > limits.max_channels:
        raise AudioProblem(
            f"declares {channels} audio channels; at most {limits.max_channels} are accepted"
        )
    rate = stream.codec_context.sample_rate or 0
    if rate > MAX_SAMPLE_RATE:
        raise AudioProblem(f"declares an impossible sample rate ({rate} Hz)")
    slack = max(TRUNCATION_TOLERANCE_S, 0.02 * limits.max_duration_s)
    if declared is not None and declared > limits.max_duration_s + slack:
        raise limits.too_long(declared, claimed=True)


def _decode_bounded(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    limits: AudioLimits,
) -> float:
    """Decode ``stream`` to its end, or refuse at the first limit passed; where the audio ends."""
    decoded_end = 0.0  # by the frames' timestamps
    heard = 0.0  # by the samples decoded
    packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            if packets > limits.max_packets:
                raise AudioProblem(
                    f"holds more than {limits.max_packets} audio packets, far more than "
                    f"{describe_duration(limits.max_duration_s)} of audio has"
                )
            for frame in packet.decode():
                rate = frame.sample_rate
                if rate <= 0 or rate > MAX_SAMPLE_RATE:
                    raise AudioProblem(f"holds audio at an impossible sample rate ({rate} Hz)")
                if frame.layout.nb_channels > limits.max_channels:
                    raise AudioProblem(
                        f"holds audio of {frame.layout.nb_channels} channels; at most "
                        f"{limits.max_channels} are accepted"
                    )
                heard += frame.samples / rate
                if frame.time is not None:
                    decoded_end = max(decoded_end, frame.time + frame.samples / rate)
                if max(heard, decoded_end) > limits.max_duration_s:
                    raise limits.stopped()
    except av.error.FFmpegError as exc:
        raise AudioProblem(f"is corrupt after {decoded_end:.1f} s ({exc.strerror})") from exc
    if heard <= 0.0 or decoded_end <= 0.0:
        raise AudioProblem("holds no decodable audio (empty or corrupt)")
    return decoded_end


NOT_READABLE = "is not a readable audio file: corrupt, truncated or not audio"
# A playlist or a concat script makes FFmpeg open the files (or URLs) it names.
_PLAYLISTS = (b"#EXTM3U", b"ffconcat", b"[playlist]", b"<?xml", b"#EXT-X-")
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
# The demuxer a forced open reports by its short name; the accepted containers use the full one.
_FULL_NAMES = {"mov": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm"}


def sniff_format(file: BinaryIO) -> str:
    """The demuxer for ``file`` by its first bytes, from the accepted containers only.

    FFmpeg left to guess would also open playlists (HLS ``.m3u8``) and concat scripts
    (``ffconcat``), which read the local files they name: anything that does not begin as one
    of the accepted containers is refused here, and PyAV is told which demuxer to use.
    """
    head = file.read(64)
    try:
        if head[:4] == b"OggS":
            return "ogg"
        if head[:4] == b"fLaC":
            return "flac"
        if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
            return "wav"
        if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska and WebM
            return "matroska"
        if head[4:8] in _MP4_BOXES:
            return "mov"  # FFmpeg's ISO BMFF demuxer: mov, mp4, m4a, 3gp
        if head[:3] == b"ID3" and len(head) >= 10:
            # An ID3v2 tag (syncsafe size) precedes MP3 frames, or now and then FLAC.
            size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
            file.seek(size + (10 if head[5] & 0x10 else 0))
            return "flac" if file.read(4) == b"fLaC" else "mp3"
        if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
            return "mp3"  # an MPEG audio frame (layer bits 00 would be ADTS AAC)
    finally:
        file.seek(0)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_PLAYLISTS):
        raise AudioProblem(
            "is a playlist or script that names other files, not audio; send the audio "
            f"file itself ({ACCEPTED_LABEL})"
        )
    raise AudioProblem(f"{NOT_READABLE} ({ACCEPTED_LABEL} expected)")


def creation_time(value: object) -> dt.datetime | None:
    """A container's ``creation_time`` tag (ISO 8601, UTC when no offset) as a time, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def probe(file: BinaryIO, limits: AudioLimits = DEFAULT_LIMITS) -> AudioInfo:
    """Open, demux and decode all of ``file``; AudioProblem when it is not sound, whole audio.

    The work is bounded by ``limits``: a header that claims too much is refused before any
    decoding, and decoding stops at the first limit passed (duration, packets, channels).
    """
    size = _size(file)
    if size == 0:
        raise AudioProblem("is empty (0 bytes)")
    demuxer = sniff_format(file)  # before FFmpeg sees a byte: it is never left to guess
    try:
        container = av.open(file, mode="r", format=demuxer)
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioProblem(
            f"is not a readable audio file: corrupt, truncated or not audio "
            f"({ACCEPTED_LABEL} expected)"
        ) from exc
    try:
        fmt = _FULL_NAMES.get(container.format.name, container.format.name)
        if not container.streams.audio:
            raise AudioProblem("holds no audio stream")
        if fmt not in ACCEPTED_CONTAINERS:
            raise AudioProblem(f"format {fmt!r} is not accepted ({ACCEPTED_LABEL} expected)")
        stream = container.streams.audio[0]
        created_at = creation_time(container.metadata.get("creation_time"))
        declared = float(container.duration) / av.time_base if container.duration else None
        _check_claims(container, stream, declared, limits)
        decoded_end = _decode_bounded(container, stream, limits)
        if declared is not None and declared - decoded_end > max(
            TRUNCATION_TOLERANCE_S, 0.02 * declared
        ):
            raise AudioProblem(
                f"is truncated: its header says {declared:.1f} s but the audio ends at "
                f"{decoded_end:.1f} s"
            )
        container.close()
        file.seek(0)
        cut = _truncation(file, fmt.split(",")[0], size)
        if cut is not None:
            raise AudioProblem(f"is truncated: {cut}")
        codec = stream.codec_context.name
        return AudioInfo(
            created_at=created_at,
            container=fmt.split(",")[0],
            codec=codec,
            duration_s=decoded_end,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=stream.codec_context.channels or 0,
        )
    finally:
        container.close()
