"""Pydantic's validation errors in a researcher's words, one :class:`Problem` per mistake.

``root`` is the study model the errors were raised for; it is passed in (not imported) so that
the model's module can use this one.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from fieldvault.config.study_problems import Problem, field_path

# Identifies our own whole-study consistency error inside pydantic's error list, so parse_study
# can drop it in favour of the same checks run on the raw data (which also run when fields fail).
CONSISTENCY_ERROR = "fieldvault_study_consistency"

_TYPE_WORDS = {
    "string_type": 'should be text in quotes, e.g. "..."',
    "bool_type": "should be true or false (without quotes)",
    "int_type": "should be a whole number (without quotes)",
    "list_type": 'should be a list, e.g. ["a", "b"]',
    "dict_type": "should be a table (a [section] or {key = value})",
    "model_type": "should be a table (a [section] or {key = value})",
    "model_attributes_type": "should be a table (a [section] or {key = value})",
}


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional around a type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """Find the model class at ``loc``, to suggest the keys it allows."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif origin is list:
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unknown_key_message(key: str, owner: type[BaseModel] | None, root: type[BaseModel]) -> str:
    allowed = list(owner.model_fields) if owner is not None else []
    close = _suggestion(key, owner)
    if close is not None:
        return f"unknown key {key!r}; did you mean {close!r}?"
    if owner is not root and key in root.model_fields:
        # The classic TOML slip: a top-level key written below a [section] belongs to it.
        return (
            f"unknown key {key!r} here; it is a top-level key: move it above the first "
            "[section] of the file"
        )
    if allowed:
        return f"unknown key {key!r}; remove it (allowed here: {', '.join(allowed)})"
    return f"unknown key {key!r}; remove it"


def _plain_message(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if kind == "missing":
        if _model_at(root, loc) is not None:
            section = field_path(*(part for part in loc if isinstance(part, str)))
            return f"is required but missing; add a [{section}] section"
        return f"is required but missing; add {loc[-1]} = ..."
    if kind == "extra_forbidden":
        return _unknown_key_message(str(loc[-1]), _model_at(root, loc[:-1]), root)
    if kind in {"value_error", "assertion_error"} and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"{error['input']!r} is not allowed; use {ctx.get('expected', 'an allowed value')}"
    if kind == "too_short":
        return "should not be empty; add at least one entry"
    if kind == "greater_than":
        return f"should be greater than {ctx.get('gt')}"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "colour":
            return f"{error['input']!r} is not a colour; write #RRGGBB, e.g. #1f77b4"
        if loc and loc[-1] == "name":
            return (
                f"{error['input']!r} is not a valid variable name; use lowercase letters, digits "
                "and _ starting with a letter, e.g. age_band"
            )
        return f"{error['input']!r} does not have the expected form"
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    return str(error["msg"])


def _suggestion(key: str, owner: type[BaseModel] | None) -> str | None:
    allowed = list(owner.model_fields) if owner is not None else []
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def problems_from(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """The problems in ``exc`` (raised validating ``root``), in plain words."""
    errors = [e for e in exc.errors() if e["type"] != CONSISTENCY_ERROR]
    # A misspelt required key is one mistake, not two: report the unknown key (with the
    # suggestion) and leave out the "missing" of the key it was meant to be.
    meant: set[tuple[str | int, ...]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            suggestion = _suggestion(str(loc[-1]), _model_at(root, loc[:-1]))
            if suggestion is not None:
                meant.add((*loc[:-1], suggestion))
    problems = []
    for error in errors:
        if error["type"] == "missing" and tuple(error["loc"]) in meant:
            continue
        field = field_path(*error["loc"]) or "(study)"
        problems.append(Problem(field, _plain_message(error, root)))
    return problems
