"""Checks that span fields of a study (translations, uniqueness, dates), run on the raw TOML.

They run on the raw TOML dict, defensively, so they report even when other fields are broken:
a researcher fixing a file should see every mistake in one go. The model runs them too, so a
definition built in code holds the same rules.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fieldvault.config.languages import LANGUAGE_NAMES, LANGUAGES
from fieldvault.config.study_dates import coerce_date
from fieldvault.config.study_problems import Problem, field_path


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _declared_languages(raw: Mapping[str, Any]) -> list[str]:
    seen: list[str] = []
    for lang in _as_list(raw.get("languages")):
        if lang in LANGUAGES and lang not in seen:
            seen.append(lang)
    return seen


def _check_translations(
    where: str, texts: object, languages: Sequence[str], what: str
) -> list[Problem]:
    if not isinstance(texts, dict) or not languages:
        return []
    problems = []
    for lang in languages:
        if lang not in texts:
            problems.append(
                Problem(
                    field_path(where, lang),
                    f"{what} has no {LANGUAGE_NAMES[lang]} ({lang}) text; every language in "
                    f'`languages` needs one: add {lang} = "..."',
                )
            )
    for lang in texts:
        if lang not in languages:
            problems.append(
                Problem(
                    field_path(where, lang),
                    f"{lang!r} is not one of the study's languages ({', '.join(languages)}); "
                    "remove this text or add the language to `languages`",
                )
            )
    return problems


def _check_duplicates(
    list_name: str, entries: Iterable[object], key: str, what: str, fold: bool = False
) -> list[Problem]:
    first: dict[object, int] = {}
    problems = []
    for index, entry in enumerate(entries):
        value = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(value, str):
            continue
        folded = value.casefold() if fold else value
        if folded in first:
            earlier = field_path(list_name, first[folded])
            problems.append(
                Problem(
                    field_path(list_name, index, key),
                    f"{what} {value!r} is used twice (also at {earlier}); "
                    "each must be unique: rename or remove one",
                )
            )
        else:
            first[folded] = index
    return problems


def _date_or_none(value: object) -> dt.date | None:
    try:
        result = coerce_date(value)
    except ValueError:
        return None  # already reported by field validation
    return result if isinstance(result, dt.date) else None


def _check_dates(raw: Mapping[str, Any]) -> list[Problem]:
    problems = []
    start = _date_or_none(raw.get("start_date"))
    project_end = _date_or_none(raw.get("project_end"))
    processing_end = _date_or_none(raw.get("processing_end"))
    for name, end in (("project_end", project_end), ("processing_end", processing_end)):
        if start is not None and end is not None and end < start:
            problems.append(
                Problem(
                    name,
                    f"{end} is before start_date ({start}); an end date must be on or after "
                    "the start: correct one of them",
                )
            )
    if project_end is not None and processing_end is not None and processing_end > project_end:
        reason = raw.get("processing_end_reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                Problem(
                    "processing_end_reason",
                    f"processing_end ({processing_end}) is after project_end ({project_end}), "
                    "which needs a reason informants can be told (e.g. follow-up study); "
                    "write processing_end_reason or set processing_end to project_end",
                )
            )
    return problems


def _check_consent_items(items: list[Any], languages: Sequence[str]) -> list[Problem]:
    problems = _check_duplicates("consent_items", items, "id", "consent item id")
    recording: list[int] = []
    for index, item in enumerate(items):
        item = _as_dict(item)
        where = field_path("consent_items", index, "text")
        problems += _check_translations(where, item.get("text"), languages, "this consent item")
        permits = _as_list(item.get("permits"))
        if "audio_recording" in permits:
            recording.append(index)
        repeated = sorted({p for p in permits if isinstance(p, str) and permits.count(p) > 1})
        if repeated:
            problems.append(
                Problem(
                    field_path("consent_items", index, "permits"),
                    f"lists {', '.join(repeated)} more than once; list each capability once",
                )
            )
    if items and not recording:
        problems.append(
            Problem(
                "consent_items",
                'no consent item permits "audio_recording"; add permits = ["audio_recording"] '
                "to the item for the recorded interview (fieldvault accepts no recording "
                "without it)",
            )
        )
    for index in recording[1:]:
        problems.append(
            Problem(
                field_path("consent_items", index, "permits"),
                "a second item permits audio_recording (also "
                f"consent_items[{recording[0]}]); exactly one item may: merge them or remove one",
            )
        )
    return problems


def _check_guide(guide: Mapping[str, Any], languages: Sequence[str]) -> list[Problem]:
    themes = _as_list(guide.get("themes"))
    problems = _check_duplicates("interview_guide.themes", themes, "id", "theme id")
    for index, theme in enumerate(themes):
        theme = _as_dict(theme)
        where = field_path("interview_guide.themes", index)
        problems += _check_translations(
            field_path(where, "title"), theme.get("title"), languages, "this theme title"
        )
        for q_index, question in enumerate(_as_list(theme.get("questions"))):
            problems += _check_translations(
                field_path(where, "questions", q_index), question, languages, "this question"
            )
    return problems


def _check_codebook(codebook: Mapping[str, Any]) -> list[Problem]:
    codes = _as_list(codebook.get("codes"))
    problems = _check_duplicates("codebook.codes", codes, "name", "code name")
    parents = {
        code["name"]: code.get("parent")
        for code in codes
        if isinstance(code, dict) and isinstance(code.get("name"), str)
    }
    for index, code in enumerate(codes):
        code = _as_dict(code)
        parent = code.get("parent")
        if not isinstance(parent, str):
            continue
        where = field_path("codebook.codes", index, "parent")
        if parent not in parents:
            close = difflib.get_close_matches(parent, list(parents), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(Problem(where, f"{parent!r} is not a code in the codebook{hint}"))
            continue
        # Follow the parent chain; coming back to this code means a cycle. A loop further up
        # that does not pass through this code is reported by the codes on it.
        name = code.get("name")
        seen: set[str] = set()
        current: object = parent
        while isinstance(current, str) and current in parents and current not in seen:
            if current == name:
                problems.append(
                    Problem(
                        where,
                        f"parent {parent!r} leads back to {name!r}; codes cannot "
                        "be their own ancestors: remove one parent",
                    )
                )
                break
            seen.add(current)
            current = parents[current]
    return problems


def _check_variables(variables: list[Any]) -> list[Problem]:
    problems = _check_duplicates("participant_variables", variables, "name", "variable name")
    for index, var in enumerate(variables):
        var = _as_dict(var)
        where = field_path("participant_variables", index, "choices")
        kind = var.get("type", "text")
        choices = var.get("choices")
        if kind == "choice" and not _as_list(choices):
            problems.append(
                Problem(where, 'a choice variable needs its choices, e.g. choices = ["a", "b"]')
            )
        elif kind in ("text", "integer") and choices is not None:
            problems.append(
                Problem(
                    where,
                    f'only type = "choice" takes choices (this one is {kind!r}); '
                    "remove them or set type to choice",
                )
            )
        if isinstance(choices, list):
            repeated = sorted({c for c in choices if isinstance(c, str) and choices.count(c) > 1})
            if repeated:
                problems.append(
                    Problem(where, f"lists {', '.join(repeated)} more than once; list each once")
                )
    return problems


def _check_pool(pool: object) -> list[Problem]:
    names = [{"name": n} for n in _as_list(pool)]
    return [
        Problem(p.field.replace(".name", ""), p.message)
        for p in _check_duplicates("pseudonym_pool", names, "name", "pseudonym", fold=True)
    ]


def _check_languages(raw: Mapping[str, Any]) -> list[Problem]:
    langs = _as_list(raw.get("languages"))
    problems = []
    for index, lang in enumerate(langs):
        if isinstance(lang, str) and langs.index(lang) < index:
            problems.append(
                Problem(field_path("languages", index), f"{lang!r} is listed twice; list it once")
            )
    return problems


def _check_reminders(policies: Mapping[str, Any]) -> list[Problem]:
    days = _as_list(policies.get("reminder_days"))
    repeated = sorted({d for d in days if isinstance(d, int) and days.count(d) > 1})
    if repeated:
        listed = ", ".join(str(d) for d in repeated)
        return [
            Problem("policies.reminder_days", f"{listed} listed more than once; list each once")
        ]
    return []


def cross_checks(raw: Mapping[str, Any]) -> list[Problem]:
    """Check what spans fields (translations, uniqueness, dates), tolerating broken fields."""
    languages = _declared_languages(raw)
    problems = _check_languages(raw)
    problems += _check_translations("letter", raw.get("letter"), languages, "the letter")
    problems += _check_consent_items(_as_list(raw.get("consent_items")), languages)
    problems += _check_dates(raw)
    problems += _check_guide(_as_dict(raw.get("interview_guide")), languages)
    problems += _check_codebook(_as_dict(raw.get("codebook")))
    problems += _check_variables(_as_list(raw.get("participant_variables")))
    problems += _check_pool(raw.get("pseudonym_pool"))
    problems += _check_reminders(_as_dict(raw.get("policies")))
    return problems
