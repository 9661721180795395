"""A transcript's recording, decrypted on the fly and served by HTTP Range (the editor's player).

Only the segments of the encrypted stream that hold the asked bytes are read and decrypted
(``ContentStore.read_range``), in memory: no plaintext is ever written to disk. One answer
carries at most :data:`MAX_RANGE` bytes: a range asking for more (``bytes=0-``, what a browser
sends first) gets the first :data:`MAX_RANGE` of it, with a ``Content-Range`` saying so, and the
browser asks for the rest as it plays. Without a ``Range`` header a recording no bigger than
that is answered 200 whole; a bigger one gets 206 with its first part, never the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from fieldvault.domain.redaction import editor
from fieldvault.storage.db import transaction
from fieldvault.web.keys import SERVICES
from fieldvault.web.researcher.pages import blocking

MAX_RANGE = 1024 * 1024  # the most plaintext bytes one answer carries
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CONTENT_TYPES = {
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "mov": "audio/mp4",
    "matroska": "audio/webm",
}


class Unsatisfiable(Exception):
    """The asked range starts past the end of the recording."""


@dataclass(frozen=True)
class ByteRange:
    """The bytes ``start`` to ``end`` (inclusive) of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1


def parse_range(header: str | None, size: int, cap: int = MAX_RANGE) -> ByteRange | None:
    """The part of a ``size``-byte object to send for ``header``; None: no (usable) Range.

    Only the first of several ranges is served (a client may always be sent less than it
    asked); a malformed header is ignored, as RFC 9110 says. Raises Unsatisfiable for a range
    that begins at or past the end.
    """
    if not header:
        return None
    first = header.split(",")[0].strip()
    found = _RANGE.match(first)
    if found is None:
        return None
    start_text, end_text = found.groups()
    if not start_text and not end_text:
        return None
    if not start_text:  # bytes=-N: the last N bytes
        suffix = int(end_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        start, end = max(0, size - suffix), size - 1
    else:
        start = int(start_text)
        end = int(end_text) if end_text else size - 1
        if end_text and end < start:
            return None
        if start >= size:
            raise Unsatisfiable()
        end = min(end, size - 1)
    return ByteRange(start, min(end, start + cap - 1), size)


def _headers(container: str) -> dict[str, str]:
    return {
        "Content-Type": CONTENT_TYPES.get(container, "application/octet-stream"),
        "Accept-Ranges": "bytes",
        "Cache-Control": "no-store",
    }


async def audio(request: web.Request) -> web.StreamResponse:
    """GET a recording track of a transcript of the study, or a range of it."""
    services = request.app[SERVICES]
    study_id = request.match_info["study"]
    transcript_id = _number(request.match_info["transcript"])
    position = _number(request.match_info["track"])
    header = request.headers.get("Range")

    def run() -> web.Response:
        with transaction(services.research) as session:
            obj, container = editor.audio_object(session, study_id, transcript_id, position)
            size = obj.plaintext_size
            headers = _headers(container)
            try:
                wanted = parse_range(header, size)
            except Unsatisfiable:
                headers["Content-Range"] = f"bytes */{size}"
                return web.Response(status=416, headers=headers)
            if wanted is None and size <= MAX_RANGE:
                body = b"".join(services.content.read_range(obj, 0, size)) if size else b""
                return web.Response(body=body, headers=headers)
            wanted = wanted or ByteRange(0, MAX_RANGE - 1, size)
            body = b"".join(services.content.read_range(obj, wanted.start, wanted.length))
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{wanted.size}"
        return web.Response(status=206, body=body, headers=headers)

    return await blocking(request, run)


def _number(text: str) -> int:
    """A path's number, or the 404 of a thing that does not exist."""
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)
