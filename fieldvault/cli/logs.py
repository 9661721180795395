"""Log lines as JSON objects (FIELDVAULT_LOG_FORMAT=json), stdlib only.

One object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, for an
exception, ``error`` with its type's name only. Neither the traceback nor the exception's text
is written, nor any ``extra`` field: the messages fieldvault writes name ids and codes, never
people, and an exception's text (a driver's, a library's) may quote data.
"""

from __future__ import annotations

import datetime as dt
import json
import logging


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object without a newline inside it."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)
