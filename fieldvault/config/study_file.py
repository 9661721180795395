"""Changes made to a study file's text in place, keeping the researcher's layout and comments.

The study file is the researcher's own TOML; rewriting it through a TOML library would drop
their comments and reorder their tables. So a change replaces the one line it concerns and the
result is validated with :func:`~fieldvault.config.study.parse_study` before it is returned.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from fieldvault.config.study import StudyValidationError, parse_study
from fieldvault.errors import FieldvaultError

__all__ = ["NoProcessingEndLine", "with_processing_end"]

_PROCESSING_END = re.compile(r"(?m)^(processing_end\s*=\s*)\d{4}-\d{2}-\d{2}")
_PROCESSING_END_REASON = re.compile(r"(?m)^processing_end_reason\s*=")


class NoProcessingEndLine(FieldvaultError):
    """The study file has no ``processing_end = YYYY-MM-DD`` line to change."""

    code = "study_file.no_processing_end_line"


def with_processing_end(toml_text: str, new_end: dt.date, reason: str) -> str:
    """The study file with ``processing_end`` set to ``new_end`` (and ``reason`` where needed).

    A date after ``project_end`` needs a ``processing_end_reason`` that informants can be
    told; when the file has none, ``reason`` is added as one. Raises NoProcessingEndLine, or
    StudyValidationError when the changed file is not a valid study.
    """
    text, found = _PROCESSING_END.subn(rf"\g<1>{new_end.isoformat()}", toml_text, count=1)
    if not found:
        raise NoProcessingEndLine(
            "the stored study definition has no processing_end line to change"
        )
    # Without the study file's limits: the stored text was checked when it was registered, and
    # the new date is checked against its own bound by the extension.
    try:
        parse_study(text, limits=None)
    except StudyValidationError:
        if _PROCESSING_END_REASON.search(text):
            raise  # it has a reason already, so the date is wrong for some other rule
    else:
        return text
    # Now after project_end, which needs a reason informants can be told: the extension's.
    text = _PROCESSING_END.sub(
        lambda m: f"{m.group(0)}\nprocessing_end_reason = {json.dumps(reason, ensure_ascii=False)}",
        text,
        count=1,
    )
    parse_study(text, limits=None)
    return text
