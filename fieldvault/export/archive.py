"""Deterministic ZIP archives: same entries in, same bytes out (QDPX, DOCX)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable

__all__ = ["normalise_zip", "zip_bytes"]

# Fast deflate: six times quicker than the default level for ~25 % larger archives.
_LEVEL = 1
# The earliest time a ZIP entry can carry.
_ZIP_EPOCH = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)


def _info(name: str, when: dt.datetime) -> zipfile.ZipInfo:
    stamp = max(when.astimezone(dt.UTC), _ZIP_EPOCH)
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever platform wrote it
    info.external_attr = 0o644 << 16
    return info


def zip_bytes(entries: Iterable[tuple[str, bytes]], when: dt.datetime) -> bytes:
    """A ZIP of ``entries`` in the given order, every entry stamped ``when``, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(_info(name, when), data, compresslevel=_LEVEL)
    return buffer.getvalue()


def normalise_zip(data: bytes, when: dt.datetime) -> bytes:
    """Rewrite a ZIP (e.g. what python-docx saved) with fixed timestamps and attributes."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    return zip_bytes(entries, when)
