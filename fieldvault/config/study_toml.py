"""Reading a study's TOML: impossible date literals caught before tomllib, syntax errors placed.

tomllib stops at the first impossible date literal (``2021-02-30``) and its syntax errors name
only a line and column; here both become problems that name the field and say what to do.
"""

from __future__ import annotations

import re
import tomllib

from fieldvault.config.study_dates import impossible_date_message
from fieldvault.config.study_problems import Problem

_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_DATE_LITERAL = re.compile(
    r"^(?P<head>\s*(?P<key>[A-Za-z0-9_.\-\"' ]+?)\s*=\s*)(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?P<tail>\s*(#.*)?)$"
)
_KEY_ON_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-\"']+)\s*=")
_LINE_IN_MESSAGE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _clean_key(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def rescue_date_literals(text: str) -> tuple[str, list[Problem]]:
    """Find impossible TOML date literals, report them, and quote them so parsing can go on.

    tomllib stops at the first one with "Invalid date or datetime"; quoting lets the rest of
    the file be checked, and the string form is then refused again by the field itself (that
    duplicate is dropped in favour of this problem, which names the line).
    """
    problems: list[Problem] = []
    lines = text.split("\n")
    prefix = ""
    array_counts: dict[str, int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(lines, start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if match := _ARRAY_TABLE.match(line):
            name = _clean_key(match.group(1))
            array_counts[name] = array_counts.get(name, -1) + 1
            prefix = f"{name}[{array_counts[name]}]"
        elif match := _TABLE.match(line):
            prefix = _clean_key(match.group(1))
        elif match := _DATE_LITERAL.match(line):
            year, month, day = (int(p) for p in match.group("date").split("-"))
            message = impossible_date_message(match.group("date"), year, month, day)
            if message is not None:
                key = _clean_key(match.group("key"))
                field = f"{prefix}.{key}" if prefix else key
                problems.append(Problem(field, f"line {number}: {message}"))
                lines[number - 1] = (
                    f'{match.group("head")}"{match.group("date")}"{match.group("tail")}'
                )
        else:
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_multiline = quote
                    break
    return "\n".join(lines), problems


def decode_problem(exc: tomllib.TOMLDecodeError, text: str) -> Problem:
    """The TOML syntax error as a problem on the key of its line, where there is one."""
    message = str(exc)
    where = _LINE_IN_MESSAGE.search(message)
    plain = _LINE_IN_MESSAGE.sub("", message).strip()
    if where is None:
        return Problem("(file)", f"not valid TOML: {plain}; check quotes and brackets")
    number = int(where.group(1))
    lines = text.split("\n")
    line = lines[number - 1] if number <= len(lines) else ""
    key_match = _KEY_ON_LINE.match(line)
    field = _clean_key(key_match.group(1)) if key_match else "(file)"
    return Problem(
        field,
        f"line {number}, column {where.group(2)}: not valid TOML ({plain}); "
        "check quotes, brackets and that text values are in quotes",
    )
