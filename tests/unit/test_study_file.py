"""The study file rewritten in place on an extension (config/study_file.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fieldvault.config.study import parse_study
from fieldvault.config.study_file import NoProcessingEndLine, with_processing_end

EXAMPLE = Path(__file__).parents[2] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"


def test_only_the_processing_end_line_changes() -> None:
    before = EXAMPLE.read_text(encoding="utf-8")
    after = with_processing_end(before, dt.date(2021, 9, 30), "not used: the file has a reason")
    assert parse_study(after).processing_end == dt.date(2021, 9, 30)
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert changed == [("processing_end = 2021-06-30", "processing_end = 2021-09-30")]


def test_a_date_after_project_end_gets_the_reason_when_the_file_has_none() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(
        line.replace("2021-06-30", "2021-05-14")
        for line in lines
        if not line.startswith("processing_end_reason")
    )
    after = with_processing_end(text, dt.date(2021, 9, 30), 'Sensur "utsatt"; ny vurdering')
    assert parse_study(after).processing_end == dt.date(2021, 9, 30)
    assert 'processing_end_reason = "Sensur \\"utsatt\\"; ny vurdering"' in after


def test_a_file_without_a_processing_end_line_is_refused() -> None:
    with pytest.raises(NoProcessingEndLine) as refused:
        with_processing_end('id = "x"\n', dt.date(2021, 9, 30), "reason")
    assert refused.value.code == "study_file.no_processing_end_line"
