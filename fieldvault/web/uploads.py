"""Streaming multipart uploads into the synchronous recordings domain, never buffered whole.

``accept_recording`` reads its files in a worker thread, encrypting as it goes. The event loop
reads the multipart body chunk by chunk and hands each chunk over through a :class:`Channel`
that holds at most a few MiB: when the domain is slower (encryption, a database round trip),
the loop stops reading and TCP pushes back on the client. Plaintext exists only in that
bounded hand-over, never in a file. Per-speaker tracks arrive one after the other in the
body, so the domain sees them through :class:`Tracks`, a sequence that grows as parts arrive.

Anything that goes wrong while receiving (too large, a broken form, the client gone) is raised
*inside* the domain's read, so its clean-up (delete the ciphertext, roll back, audit the
refusal) is the one that runs for every front end.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, TypeVar, overload

from aiohttp import BodyPartReader, MultipartReader

from fieldvault.domain.recordings import RecordingRefused

T = TypeVar("T")

CHUNK = 256 * 1024  # one encryption segment
IN_FLIGHT = 4 * 1024 * 1024  # most plaintext bytes waiting between the loop and the domain
MAX_FIELD = 256  # a language code, a date, a mode or a short label; anything longer is refused
Files = Sequence[tuple[str, BinaryIO]]
# The optional text fields of the form, before the files (the domain needs them first).
FIELDS = ("language", "speakers", "interview_date", "interviewer", "mode", "host_track")


@dataclass(frozen=True)
class UploadFields:
    """The form's text fields as sent (None: not sent); the view turns them into facts."""

    language: str | None = None
    # How many people speak in a single-track recording (diarization); None: the study's.
    speakers: int | None = None
    interview_date: str | None = None
    interviewer: str | None = None
    mode: str | None = None
    host_track: str | None = None


def describe_size(n: int) -> str:
    """A byte count for people: 4 GiB, 1.5 MiB, 512 bytes."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


class UploadTooLarge(RecordingRefused):
    """The upload is over the limit; it was refused while being read."""

    def __init__(self, limit: int) -> None:
        """``limit`` is the most bytes of audio one upload may carry."""
        super().__init__(
            f"the upload is larger than the limit of {describe_size(limit)}; nothing was kept. "
            "Send long interviews as separate recordings, or compress them (m4a, opus)",
            "too-large",
        )


class BadForm(RecordingRefused):
    """The multipart form is not shaped as the endpoint expects."""

    def __init__(self, message: str) -> None:
        """``message`` says what is wrong with the form and how to send it."""
        super().__init__(message, "bad-form")


class UploadInterrupted(RecordingRefused):
    """The body ended or broke before the form was complete."""

    def __init__(self) -> None:
        """One message for a cut connection and a malformed body: either way, send it again."""
        super().__init__(
            "the upload ended before the whole form arrived (connection cut or malformed "
            "multipart body); nothing was kept, send it again",
            "interrupted",
        )


class _ConsumerGone(Exception):
    """The domain stopped reading (it refused or failed); its outcome is the answer."""


class _Part:
    """Marks the start of the next file part."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Marker:
    """The end of a file part, or of the whole form."""


_END_PART = _Marker()
_END = _Marker()
Item = bytes | _Part | _Marker


class Channel:
    """A bounded, ordered hand-over from the event loop (producer) to one thread (consumer)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int = IN_FLIGHT) -> None:
        """Hold at most ``capacity`` bytes of chunks (markers count as nothing)."""
        self._loop = loop
        self._capacity = capacity
        self._items: collections.deque[Item] = collections.deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._space = asyncio.Event()
        self._error: BaseException | None = None
        self._consumer_gone = False

    async def put(self, item: Item) -> None:
        """Queue ``item``; wait while the channel is full; _ConsumerGone if nobody reads."""
        size = len(item) if isinstance(item, bytes) else 0
        while True:
            with self._cond:
                if self._consumer_gone:
                    raise _ConsumerGone()
                if not self._items or self._bytes + size <= self._capacity:
                    self._items.append(item)
                    self._bytes += size
                    self._cond.notify()
                    return
                self._space.clear()
            await self._space.wait()

    def abort(self, error: BaseException) -> None:
        """Make the consumer's next read raise ``error``, ahead of anything still queued."""
        with self._cond:
            self._error = error
            self._items.clear()
            self._bytes = 0
            self._cond.notify()

    def get(self) -> Item:
        """The next item (consumer thread); blocks until there is one, raises after abort."""
        with self._cond:
            while not self._items and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            item = self._items.popleft()
            if isinstance(item, bytes):
                self._bytes -= len(item)
        self._loop.call_soon_threadsafe(self._space.set)
        return item

    def consumer_done(self) -> None:
        """The consumer will read no more: wake a waiting producer so it can stop."""
        with self._cond:
            self._consumer_gone = True
        self._loop.call_soon_threadsafe(self._space.set)


class PartReader(io.RawIOBase):
    """One file part as a read-only binary file, fed by the channel."""

    def __init__(self, channel: Channel) -> None:
        """Read chunks from ``channel`` until the end-of-part marker."""
        super().__init__()
        self._channel = channel
        self._pending = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        """Always."""
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the part; 0 at its end."""
        while not self._pending:
            if self._eof:
                return 0
            item = self._channel.get()
            if item is _END_PART:
                self._eof = True
                return 0
            assert isinstance(item, bytes), "a file part is chunks, then its end marker"
            self._pending = memoryview(item)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def drain(self) -> None:
        """Skip what the reader did not read, up to the end of the part."""
        scratch = memoryview(bytearray(CHUNK))
        while self.readinto(scratch):
            pass


class Tracks(Sequence[tuple[str, BinaryIO]]):
    """The file parts of one upload as a sequence that grows while the body arrives.

    Indexing past the parts seen so far waits for the next part (or the end of the form,
    then IndexError), so iterating reads the tracks in order as the domain asks for them.
    ``len`` counts the parts seen so far: at least the first, which exists before the domain
    is called.
    """

    def __init__(self, channel: Channel, first: str) -> None:
        """The first file part, named ``first``, is already announced."""
        self._channel = channel
        self._tracks: list[tuple[str, PartReader]] = [(first, PartReader(channel))]
        self._ended = False

    def __len__(self) -> int:
        return len(self._tracks)

    @overload
    def __getitem__(self, index: int) -> tuple[str, BinaryIO]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, BinaryIO]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> tuple[str, BinaryIO] | Sequence[tuple[str, BinaryIO]]:
        if isinstance(index, slice) or index < 0:
            raise TypeError("upload tracks are read in order; index them from 0 upwards")
        while index >= len(self._tracks) and not self._ended:
            self._tracks[-1][1].drain()
            item = self._channel.get()
            if isinstance(item, _Part):
                self._tracks.append((item.name, PartReader(self._channel)))
            else:
                self._ended = True
        name, reader = self._tracks[index]
        return name, reader  # type: ignore[return-value]


async def _read_field(part: BodyPartReader) -> str:
    value = b""
    while chunk := await part.read_chunk(MAX_FIELD + 1):
        value += chunk
        if len(value) > MAX_FIELD:
            raise BadForm(f"the form field {part.name!r} is too long (at most {MAX_FIELD} bytes)")
    return value.decode("utf-8", errors="replace").strip()


async def _text_field(
    part: BodyPartReader, fields: UploadFields, *, files_started: bool
) -> UploadFields:
    """``fields`` with one optional text field (before any file); unknown fields are refused."""
    if part.name not in FIELDS:
        raise BadForm(
            f"unexpected form field {part.name!r}; send audio files as file parts "
            "(curl -F file=@interview.m4a) and optionally the fields "
            + ", ".join(repr(f) for f in FIELDS)
        )
    if files_started:
        raise BadForm(f"put the {part.name!r} field before the files in the form")
    value = await _read_field(part) or None
    if part.name != "speakers":
        texts: dict[str, Any] = {part.name: value}
        return replace(fields, **texts)
    if value is not None and not value.isdigit():
        raise BadForm("the 'speakers' field is a whole number (how many people speak)")
    return replace(fields, speakers=None if value is None else int(value))


async def _forward(part: BodyPartReader, channel: Channel, total: int, limit: int) -> int:
    """Hand one file part to the domain chunk by chunk; returns the upload's bytes so far."""
    while chunk := await part.read_chunk(CHUNK):
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge(limit)
        await channel.put(chunk)
    await channel.put(_END_PART)
    return total


async def stream_upload(
    reader: MultipartReader,
    *,
    limit: int,
    run_blocking: Callable[[Callable[[], T]], asyncio.Future[T]],
    accept: Callable[[Files, UploadFields], T],
) -> T:
    """Feed the form's file parts to ``accept(files, fields)`` in a thread, as they arrive.

    ``run_blocking`` runs a callable in a worker thread (``loop.run_in_executor``). The
    optional text fields (``FIELDS``: language, speakers, interview date, interviewer, mode,
    host track)
    must come before the files, since the domain needs them first.
    """
    loop = asyncio.get_running_loop()
    channel = Channel(loop)
    future: asyncio.Future[T] | None = None
    fields = UploadFields()
    total = 0

    def consume(files: Files, given: UploadFields) -> T:
        try:
            return accept(files, given)
        finally:
            channel.consumer_done()

    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadForm("nested multipart bodies are not accepted; send plain file parts")
            if part.filename is None:
                fields = await _text_field(part, fields, files_started=future is not None)
                continue
            name = part.filename
            if future is None:
                future = run_blocking(functools.partial(consume, Tracks(channel, name), fields))
            else:
                await channel.put(_Part(name))
            total = await _forward(part, channel, total, limit)
        if future is None:
            # No file at all: the domain words the refusal, as for every front end.
            return await run_blocking(lambda: accept([], fields))
        await channel.put(_END)
    except _ConsumerGone:
        pass  # the domain refused before reading everything; its exception is the answer
    except Exception as exc:
        if future is None:
            if isinstance(exc, RecordingRefused):
                raise
            raise UploadInterrupted() from exc
        # Raised inside the domain's read, so its clean-up runs and it re-raises this.
        channel.abort(exc if isinstance(exc, RecordingRefused) else UploadInterrupted())
    except BaseException:
        # Cancelled (server shutting down): stop the domain's read; it cleans up by itself.
        if future is not None:
            channel.abort(UploadInterrupted())
        raise
    assert future is not None
    # Shielded: the domain's clean-up must finish even if this request is cancelled now.
    return await asyncio.shield(future)
