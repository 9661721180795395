"""Export for coding: REFI-QDA project and codebook, transcripts, subtitles, overview table.

Everything here reads the small contract in :mod:`fieldvault.export.model`; only
:mod:`fieldvault.export.collect` reads the database, and :func:`write_export` is the one entry
point that writes (atomically, after the leak guard and schema validation, with an audit event).
"""

from fieldvault.export.bundle import (
    FORMATS,
    ExportArchive,
    ExportResult,
    build_files,
    export_archive,
    parse_formats,
    write_export,
)
from fieldvault.export.guard import LeakError
from fieldvault.export.model import ExportError, ExportSegment, ExportStudy, ExportTranscript

__all__ = [
    "FORMATS",
    "ExportArchive",
    "ExportError",
    "ExportResult",
    "ExportSegment",
    "ExportStudy",
    "ExportTranscript",
    "LeakError",
    "build_files",
    "export_archive",
    "parse_formats",
    "write_export",
]
