"""JSON log lines (FIELDVAULT_LOG_FORMAT=json): one object a line, an exception's type only."""

from __future__ import annotations

import json
import logging

from fieldvault.cli.logs import JsonFormatter


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("fieldvault.test", logging.ERROR, __file__, 1, message, args, info)


def test_a_log_line_is_one_json_object_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(record("job %s: %s\nsecond line", 7, "done"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "fieldvault.test"
    assert entry["message"] == "job 7: done\nsecond line"
    assert entry["time"].endswith("+00:00")


def test_an_exception_is_named_by_its_type_without_its_text_or_traceback() -> None:
    try:
        raise ValueError("no such row: kari.nordmann@example.no, +47 912 34 567")
    except ValueError as exc:
        line = JsonFormatter().format(record("sweep failed", exc=exc))
    entry = json.loads(line)
    assert entry["error"] == "ValueError"
    assert "kari" not in line and "912" not in line and "Traceback" not in line
