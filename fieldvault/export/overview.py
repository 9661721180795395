"""The participant overview, like Table 1 of a thesis: pseudonym, variables, date, duration, total.

One row per interview, the study's participant variables as columns in the order the study
declares them, and a last row with the total duration. CSV is written with a UTF-8 byte-order
mark because it is meant for spreadsheets (Excel reads æ, ø, å wrongly without one); Markdown
without.
"""

from __future__ import annotations

import csv
import io

from fieldvault.export.model import ExportStudy, clean_text, label

__all__ = ["overview_csv", "overview_markdown", "overview_table"]


def _minutes(seconds: float) -> str:
    return str(round(seconds / 60))


def overview_table(study: ExportStudy) -> tuple[list[str], list[list[str]]]:
    """Header and rows (the last row is the total)."""
    variables = [v.name for v in study.definition.participant_variables]
    header = [
        label(study, "pseudonym"),
        *(name.replace("_", " ").capitalize() for name in variables),
        label(study, "interview_date"),
        label(study, "duration"),
    ]
    rows: list[list[str]] = []
    for transcript in study.transcripts:
        values = [clean_text(str(transcript.variables.get(name, ""))) for name in variables]
        date = transcript.interview_date.isoformat() if transcript.interview_date else ""
        rows.append(
            [
                clean_text(transcript.display_name),
                *values,
                date,
                _minutes(transcript.duration_s),
            ]
        )
    total = sum(t.duration_s for t in study.transcripts)
    rows.append([label(study, "total"), *([""] * (len(variables) + 1)), _minutes(total)])
    return header, rows


def overview_csv(study: ExportStudy) -> bytes:
    """The overview as CSV (UTF-8 with BOM, comma-separated, LF)."""
    header, rows = overview_table(study)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def overview_markdown(study: ExportStudy) -> bytes:
    """The overview as a Markdown table with the total in bold."""
    header, rows = overview_table(study)
    lines = [
        f"# {label(study, 'overview')}",
        "",
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows[:-1]:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    total = rows[-1]
    lines.append("| " + " | ".join(f"**{_cell(c)}**" if c else "" for c in total) + " |")
    return ("\n".join(lines) + "\n").encode("utf-8")
