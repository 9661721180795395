"""The study definition: loading, its public API, and every way a study file is refused."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from fieldvault.config.study import (
    ConsentItem,
    Problem,
    StudyDefinition,
    StudyLookupError,
    StudyValidationError,
    load_study,
    parse_study,
)
from fieldvault.errors import FieldvaultError

EXAMPLE = Path(__file__).parents[2] / "fieldvault" / "config" / "examples" / "nav-veileder.toml"

# The smallest valid study in two languages; tests change one thing at a time.
MINIMAL = '''
id = "mini-study"
title = "Mini"
research_question = "What?"
languages = ["nb", "en"]
start_date = 2021-02-01
project_end = 2021-05-14
processing_end = 2021-05-14

[institution]
name = "Høgskulen i Eksempelvik"

[assessment]
reference = "000000"

[contacts]
researchers = [{ name = "Ingrid Haugland", email = "ingrid@example.no" }]
data_protection_officer = { name = "Personvernombud", email = "pvo@example.no" }

[letter]
nb = """
Hei. Vil du være med?
"""
en = """
Hello. Will you take part?
"""

[[consent_items]]
id = "interview-recording"
required = true
permits = ["audio_recording"]
text = { nb = "Intervju med lydopptak", en = "Interview with audio recording" }

[[consent_items]]
id = "identifiable-publication"
required = false
permits = ["identifiable_publication"]
text = { nb = "Gjenkjennelig i oppgaven", en = "Recognisable in the thesis" }
'''


def problems_in(text: str) -> list[Problem]:
    with pytest.raises(StudyValidationError) as caught:
        parse_study(text)
    return caught.value.problems


def fields_of(text: str) -> list[str]:
    return [p.field for p in problems_in(text)]


def only_problem(text: str) -> Problem:
    problems = problems_in(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- what loads -----------------------------------------------------------------------------


def test_the_minimal_study_loads() -> None:
    study = parse_study(MINIMAL)
    assert study.id == "mini-study"
    assert study.languages == ["nb", "en"]


def test_the_example_study_passes_validation() -> None:
    study = load_study(EXAMPLE)
    assert study.id == "nav-veileder"
    assert study.languages == ["nb", "nn", "en"]
    assert [i.id for i in study.consent_items] == [
        "interview-recording",
        "identifiable-publication",
    ]
    assert study.project_end == dt.date(2021, 5, 14)
    assert study.processing_end >= study.project_end
    codes = {c.name for c in study.codebook.codes}
    assert {
        "relasjonsbygging",
        "veilederrollen",
        "digital veiledning",
        "kollegaveiledning",
    } <= codes
    assert {t.id for t in study.interview_guide.themes} == {
        "digitalisering",
        "relasjonsbygging",
        "skjonnsutoving",
    }


def test_the_example_mentions_the_impossible_date_of_the_seed_form() -> None:
    assert "31/6 2021" in EXAMPLE.read_text(encoding="utf-8")


def test_defaults_fill_in_what_a_study_leaves_out() -> None:
    study = parse_study(MINIMAL)
    assert study.legal_basis == "consent"
    assert study.timezone == "Europe/Oslo"
    assert study.assessment.body == "Sikt"
    assert study.contacts.complaint_authority.name == "Datatilsynet"
    assert study.policies.on_withdrawal_pseudonymised == "delete"
    assert study.policies.on_deadline_unapproved == "delete"
    assert study.policies.reminder_days == [30, 7, 1]
    assert study.pseudonym_pool is None


def test_the_first_language_is_the_default() -> None:
    assert parse_study(MINIMAL).default_language == "nb"
    swapped = MINIMAL.replace('languages = ["nb", "en"]', 'languages = ["en", "nb"]')
    assert parse_study(swapped).default_language == "en"


def test_items_are_found_by_id_and_the_recording_item_by_capability() -> None:
    study = parse_study(MINIMAL)
    item = study.item("identifiable-publication")
    assert isinstance(item, ConsentItem)
    assert item.required is False
    assert study.required_item_ids == frozenset({"interview-recording"})
    assert study.recording_item_id == "interview-recording"


def test_asking_for_an_undeclared_item_or_language_is_a_fieldvault_error() -> None:
    study = parse_study(MINIMAL)
    with pytest.raises(StudyLookupError):
        study.item("nope")
    with pytest.raises(FieldvaultError):
        study.letter_text("nn")


def test_the_letter_text_is_exactly_what_the_file_says() -> None:
    assert parse_study(MINIMAL).letter_text("nb") == "Hei. Vil du være med?\n"


def test_the_letter_version_is_the_sha256_of_the_exact_utf8_text() -> None:
    study = parse_study(MINIMAL)
    expected = hashlib.sha256("Hei. Vil du være med?\n".encode()).hexdigest()
    assert study.letter_version("nb") == expected


def test_the_letter_version_changes_when_one_character_changes() -> None:
    before = parse_study(MINIMAL)
    after = parse_study(MINIMAL.replace("Vil du være med?", "Vil du være med!"))
    assert before.letter_version("nb") != after.letter_version("nb")
    assert before.letter_version("en") == after.letter_version("en")


def test_the_letter_version_is_not_normalised_for_whitespace() -> None:
    before = parse_study(MINIMAL)
    after = parse_study(MINIMAL.replace("Hei. Vil", "Hei.  Vil"))
    assert before.letter_version("nb") != after.letter_version("nb")


def test_the_legal_basis_sentence_depends_on_the_basis_and_language() -> None:
    consent = parse_study(MINIMAL)
    public = parse_study(
        MINIMAL.replace('title = "Mini"', 'title = "Mini"\nlegal_basis = "public_interest"')
    )
    assert "samtykke" in consent.legal_basis_sentence("nb")
    assert "consent" in consent.legal_basis_sentence("en")
    assert "allmennhetens interesse" in public.legal_basis_sentence("nb")
    assert "public interest" in public.legal_basis_sentence("en")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('"2021-05-14"', dt.date(2021, 5, 14)),
        ('"14.05.2021"', dt.date(2021, 5, 14)),
        ('"14/5 2021"', dt.date(2021, 5, 14)),
        ('"14/5/2021"', dt.date(2021, 5, 14)),
    ],
)
def test_dates_may_be_written_as_text_in_iso_or_norwegian_form(
    written: str, expected: dt.date
) -> None:
    study = parse_study(MINIMAL.replace("project_end = 2021-05-14", f"project_end = {written}"))
    assert study.project_end == expected


def test_a_processing_end_after_the_project_end_is_accepted_with_a_reason() -> None:
    text = MINIMAL.replace(
        "processing_end = 2021-05-14",
        'processing_end = 2021-06-30\nprocessing_end_reason = "Sensur"',
    )
    assert parse_study(text).processing_end == dt.date(2021, 6, 30)


def test_a_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert load_study(path).id == "mini-study"


def test_a_loaded_definition_cannot_be_changed() -> None:
    study = parse_study(MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        study.title = "Other"  # type: ignore[misc]


# --- impossible and inconsistent dates ------------------------------------------------------


def test_an_impossible_toml_date_literal_names_the_line_and_the_key() -> None:
    problem = only_problem(
        MINIMAL.replace("processing_end = 2021-05-14", "processing_end = 2021-06-31")
    )
    assert problem.field == "processing_end"
    line = MINIMAL.splitlines().index("processing_end = 2021-05-14") + 1
    assert f"line {line}" in problem.message
    assert "2021-06-31 is not a real date: June has 30 days" in problem.message
    assert "2021-06-30" in problem.message


def test_an_impossible_norwegian_date_string_is_refused_not_rolled_over() -> None:
    problem = only_problem(MINIMAL.replace("project_end = 2021-05-14", 'project_end = "31/6 2021"'))
    assert problem.field == "project_end"
    assert "31/6 2021 is not a real date: June has 30 days" in problem.message
    assert "2021-06-30" in problem.message
    assert "07-01" not in problem.message


@pytest.mark.parametrize("written", ['"2021-06-31"', '"31.06.2021"', '"31/6/2021"'])
def test_an_impossible_date_is_refused_in_every_written_form(written: str) -> None:
    problem = only_problem(MINIMAL.replace("project_end = 2021-05-14", f"project_end = {written}"))
    assert problem.field == "project_end"
    assert "June has 30 days" in problem.message


def test_the_29th_of_february_in_a_common_year_is_refused() -> None:
    problem = only_problem(MINIMAL.replace("start_date = 2021-02-01", "start_date = 2021-02-29"))
    assert problem.field == "start_date"
    assert "February in 2021 has 28 days" in problem.message


def test_a_month_that_does_not_exist_is_refused() -> None:
    problem = only_problem(MINIMAL.replace("project_end = 2021-05-14", 'project_end = "1.13.2021"'))
    assert problem.field == "project_end"
    assert "no month 13" in problem.message


def test_text_that_is_no_date_at_all_is_refused_with_the_accepted_forms() -> None:
    problem = only_problem(MINIMAL.replace("project_end = 2021-05-14", 'project_end = "next May"'))
    assert problem.field == "project_end"
    assert "YYYY-MM-DD" in problem.message


def test_a_date_with_a_time_of_day_is_refused() -> None:
    problem = only_problem(
        MINIMAL.replace("project_end = 2021-05-14", "project_end = 2021-05-14T12:00:00")
    )
    assert problem.field == "project_end"
    assert "time of day" in problem.message


def test_an_end_date_before_the_start_is_refused() -> None:
    problems = problems_in(MINIMAL.replace("start_date = 2021-02-01", "start_date = 2021-06-01"))
    assert [p.field for p in problems] == ["project_end", "processing_end"]
    assert all("before start_date (2021-06-01)" in p.message for p in problems)


def test_a_processing_end_after_the_project_end_needs_a_reason() -> None:
    problem = only_problem(
        MINIMAL.replace("processing_end = 2021-05-14", "processing_end = 2021-06-30")
    )
    assert problem.field == "processing_end_reason"
    assert "processing_end_reason" in problem.message


# --- translations and languages -------------------------------------------------------------


def test_a_letter_missing_in_a_declared_language_is_refused() -> None:
    text = MINIMAL.replace('languages = ["nb", "en"]', 'languages = ["nb", "nn", "en"]')
    fields = fields_of(text)
    assert "letter.nn" in fields
    assert "consent_items[0].text.nn" in fields
    assert "consent_items[1].text.nn" in fields


def test_a_consent_item_text_missing_a_translation_is_refused() -> None:
    text = MINIMAL.replace(
        'text = { nb = "Gjenkjennelig i oppgaven", en = "Recognisable in the thesis" }',
        'text = { nb = "Gjenkjennelig i oppgaven" }',
    )
    problem = only_problem(text)
    assert problem.field == "consent_items[1].text.en"
    assert "add en" in problem.message


def test_a_translated_theme_title_missing_a_language_is_refused() -> None:
    text = MINIMAL + (
        '\n[[interview_guide.themes]]\nid = "digitalisering"\n'
        'title = { nb = "Digitalisering" }\nquestions = ["Hvordan?"]\n'
    )
    assert only_problem(text).field == "interview_guide.themes[0].title.en"


def test_a_plain_theme_title_needs_no_translation() -> None:
    text = (
        MINIMAL + '\n[[interview_guide.themes]]\nid = "digitalisering"\ntitle = "Digitalisering"\n'
    )
    assert parse_study(text).interview_guide.themes[0].title == "Digitalisering"


def test_a_text_in_an_undeclared_language_is_refused() -> None:
    text = MINIMAL.replace('languages = ["nb", "en"]', 'languages = ["nb"]')
    assert set(fields_of(text)) == {
        "letter.en",
        "consent_items[0].text.en",
        "consent_items[1].text.en",
    }


def test_a_language_outside_nb_nn_en_is_refused_with_a_hint_for_norwegian() -> None:
    problems = problems_in(MINIMAL.replace('languages = ["nb", "en"]', 'languages = ["no", "en"]'))
    language = next(p for p in problems if p.field == "languages[0]")
    assert "nb" in language.message
    assert "nn" in language.message


def test_a_language_listed_twice_is_refused() -> None:
    text = MINIMAL.replace('languages = ["nb", "en"]', 'languages = ["nb", "en", "nb"]')
    assert only_problem(text).field == "languages[2]"


def test_an_empty_letter_is_refused() -> None:
    text = MINIMAL.replace('nb = """\nHei. Vil du være med?\n"""', 'nb = ""')
    problem = only_problem(text)
    assert problem.field == "letter.nb"
    assert "empty" in problem.message


def test_a_whitespace_only_letter_is_refused() -> None:
    text = MINIMAL.replace("Hei. Vil du være med?", "   \t  ")
    assert only_problem(text).field == "letter.nb"


# --- consent items --------------------------------------------------------------------------


def test_duplicate_consent_item_ids_are_refused() -> None:
    text = MINIMAL.replace('id = "identifiable-publication"', 'id = "interview-recording"')
    problem = only_problem(text)
    assert problem.field == "consent_items[1].id"
    assert "consent_items[0]" in problem.message


def test_a_study_without_an_audio_recording_item_is_refused() -> None:
    text = MINIMAL.replace('permits = ["audio_recording"]', 'permits = ["other"]')
    problem = only_problem(text)
    assert problem.field == "consent_items"
    assert "audio_recording" in problem.message


def test_a_study_with_two_audio_recording_items_is_refused() -> None:
    text = MINIMAL.replace(
        'permits = ["identifiable_publication"]',
        'permits = ["identifiable_publication", "audio_recording"]',
    )
    problem = only_problem(text)
    assert problem.field == "consent_items[1].permits"
    assert "exactly one" in problem.message


def test_a_capability_outside_the_fixed_set_is_refused() -> None:
    text = MINIMAL.replace('permits = ["identifiable_publication"]', 'permits = ["publish"]')
    problem = only_problem(text)
    assert problem.field == "consent_items[1].permits[0]"
    assert "identifiable_publication" in problem.message


def test_a_consent_item_must_say_whether_it_is_required() -> None:
    text = MINIMAL.replace("required = false\n", "")
    problem = only_problem(text)
    assert problem.field == "consent_items[1].required"
    assert "missing" in problem.message


def test_a_bad_consent_item_id_is_refused() -> None:
    text = MINIMAL.replace('id = "identifiable-publication"', 'id = "Identifiable Publication"')
    assert only_problem(text).field == "consent_items[1].id"


# --- codebook, variables, pool --------------------------------------------------------------

CODES = """
[[codebook.codes]]
name = "veilederrollen"
description = "Rollen"
colour = "#1F77B4"

[[codebook.codes]]
name = "digital veiledning"
description = "Digitalt"
parent = "veilederrollen"
"""


def test_a_codebook_with_colours_and_parents_loads() -> None:
    codes = parse_study(MINIMAL + CODES).codebook.codes
    assert [c.name for c in codes] == ["veilederrollen", "digital veiledning"]
    assert codes[1].parent == "veilederrollen"


def test_duplicate_code_names_are_refused() -> None:
    text = MINIMAL + CODES.replace(
        'name = "digital veiledning"', 'name = "veilederrollen"'
    ).replace('parent = "veilederrollen"\n', "")
    problem = only_problem(text)
    assert problem.field == "codebook.codes[1].name"


def test_a_parent_that_is_not_a_code_is_refused_with_a_suggestion() -> None:
    text = MINIMAL + CODES.replace('parent = "veilederrollen"', 'parent = "veilederolen"')
    problem = only_problem(text)
    assert problem.field == "codebook.codes[1].parent"
    assert "'veilederrollen'" in problem.message


def test_codes_that_are_each_others_parents_are_refused() -> None:
    text = MINIMAL + CODES.replace('colour = "#1F77B4"', 'parent = "digital veiledning"')
    assert set(fields_of(text)) == {"codebook.codes[0].parent", "codebook.codes[1].parent"}


def test_a_colour_not_written_as_hex_is_refused() -> None:
    problem = only_problem(MINIMAL + CODES.replace("#1F77B4", "blue"))
    assert problem.field == "codebook.codes[0].colour"
    assert "#RRGGBB" in problem.message


VARIABLES = """
[[participant_variables]]
name = "utdanning"
description = "Utdanning"

[[participant_variables]]
name = "brukergruppe"
description = "Brukergruppe"
type = "choice"
choices = ["dagpenger", "arbeidsavklaringspenger", "sykepenger"]
"""


def test_participant_variables_load_with_their_types() -> None:
    variables = parse_study(MINIMAL + VARIABLES).participant_variables
    assert [(v.name, v.type) for v in variables] == [
        ("utdanning", "text"),
        ("brukergruppe", "choice"),
    ]


def test_duplicate_variable_names_are_refused() -> None:
    text = MINIMAL + VARIABLES.replace('name = "brukergruppe"', 'name = "utdanning"')
    assert only_problem(text).field == "participant_variables[1].name"


def test_a_choice_variable_without_choices_is_refused() -> None:
    text = MINIMAL + VARIABLES.replace(
        'choices = ["dagpenger", "arbeidsavklaringspenger", "sykepenger"]\n', ""
    )
    assert only_problem(text).field == "participant_variables[1].choices"


def test_choices_on_a_text_variable_are_refused() -> None:
    text = MINIMAL + VARIABLES.replace(
        'description = "Utdanning"', 'description = "U"\nchoices = ["a"]'
    )
    assert only_problem(text).field == "participant_variables[0].choices"


def test_a_pseudonym_listed_twice_is_refused() -> None:
    text = MINIMAL.replace(
        'title = "Mini"', 'title = "Mini"\npseudonym_pool = ["Kari", "Eva", "kari"]'
    )
    assert only_problem(text).field == "pseudonym_pool[2]"


# --- other fields ---------------------------------------------------------------------------


def test_an_unknown_key_suggests_the_closest_allowed_key() -> None:
    problem = only_problem(
        MINIMAL.replace('title = "Mini"', 'title = "Mini"\nresearch_qestion = "x"')
    )
    assert problem.field == "research_qestion"
    assert "did you mean 'research_question'?" in problem.message


def test_a_misspelt_required_key_is_one_problem_not_two() -> None:
    problem = only_problem(MINIMAL.replace('title = "Mini"', 'titel = "Mini"'))
    assert problem.field == "titel"
    assert "did you mean 'title'?" in problem.message


def test_an_unknown_key_inside_a_table_suggests_from_that_table() -> None:
    problem = only_problem(MINIMAL.replace('reference = "000000"', 'referance = "000000"'))
    assert problem.field == "assessment.referance"
    assert "did you mean 'reference'?" in problem.message


def test_an_unknown_key_with_nothing_close_lists_what_is_allowed() -> None:
    problem = only_problem(
        MINIMAL.replace('name = "Høgskulen i Eksempelvik"', 'name = "H"\nzzz = 1')
    )
    assert problem.field == "institution.zzz"
    assert "org_number" in problem.message


def test_a_top_level_key_written_inside_a_section_says_to_move_it() -> None:
    text = MINIMAL + '\n[policies]\nreminder_days = [7]\ntimezone = "Europe/Oslo"\n'
    problem = only_problem(text)
    assert problem.field == "policies.timezone"
    assert "top-level" in problem.message


def test_an_unknown_timezone_is_refused() -> None:
    text = MINIMAL.replace('title = "Mini"', 'title = "Mini"\ntimezone = "Europe/Olso"')
    problem = only_problem(text)
    assert problem.field == "timezone"
    assert "Europe/Oslo" in problem.message


def test_a_bad_study_id_is_refused() -> None:
    problem = only_problem(MINIMAL.replace('id = "mini-study"', 'id = "Mini Study"'))
    assert problem.field == "id"
    assert "lowercase" in problem.message


def test_an_unknown_legal_basis_is_refused() -> None:
    text = MINIMAL.replace('title = "Mini"', 'title = "Mini"\nlegal_basis = "samtykke"')
    problem = only_problem(text)
    assert problem.field == "legal_basis"
    assert "'consent'" in problem.message


def test_a_phone_number_written_as_a_bare_number_is_refused() -> None:
    text = MINIMAL.replace('email = "pvo@example.no"', "phone = 45240204")
    problem = only_problem(text)
    assert problem.field == "contacts.data_protection_officer.phone"
    assert "quotes" in problem.message


def test_a_contact_without_email_or_phone_is_refused() -> None:
    text = MINIMAL.replace(', email = "pvo@example.no"', "")
    assert only_problem(text).field == "contacts.data_protection_officer"


def test_a_missing_required_section_is_named() -> None:
    text = MINIMAL.replace('[assessment]\nreference = "000000"\n', "")
    problem = only_problem(text)
    assert problem.field == "assessment"
    assert "[assessment]" in problem.message


def test_a_withdrawal_policy_outside_keep_or_delete_is_refused() -> None:
    text = MINIMAL + '\n[policies]\non_withdrawal_pseudonymised = "anonymise"\n'
    assert only_problem(text).field == "policies.on_withdrawal_pseudonymised"


def test_a_non_positive_reminder_day_is_refused() -> None:
    assert only_problem(MINIMAL + "\n[policies]\nreminder_days = [7, 0]\n").field == (
        "policies.reminder_days[1]"
    )


def test_broken_toml_is_reported_with_its_line() -> None:
    problem = only_problem(MINIMAL.replace('title = "Mini"', 'title = "Mini'))
    assert problem.field == "title"
    assert "line 3" in problem.message


# --- reporting ------------------------------------------------------------------------------


def test_three_mistakes_yield_three_problems_at_once() -> None:
    text = (
        MINIMAL.replace('title = "Mini"', 'titel = "Mini"')
        .replace("processing_end = 2021-05-14", "processing_end = 2021-06-31")
        .replace('id = "identifiable-publication"', 'id = "interview-recording"')
    )
    assert sorted(fields_of(text)) == sorted(["titel", "processing_end", "consent_items[1].id"])


def test_problems_in_broken_fields_and_cross_checks_are_reported_together() -> None:
    text = MINIMAL.replace('id = "mini-study"', 'id = "X"').replace(
        'text = { nb = "Gjenkjennelig i oppgaven", en = "Recognisable in the thesis" }',
        'text = { nb = "Gjenkjennelig i oppgaven" }',
    )
    assert fields_of(text) == ["id", "consent_items[1].text.en"]


def test_the_error_message_lists_every_problem_one_per_line() -> None:
    text = MINIMAL.replace('id = "mini-study"', 'id = "X"').replace("2021-05-14", "2021-06-31")
    with pytest.raises(StudyValidationError) as caught:
        parse_study(text, source="mini.toml")
    error = caught.value
    lines = str(error).splitlines()
    assert lines[0] == f"mini.toml: {len(error.problems)} problems in the study definition:"
    assert lines[1:] == [f"  {p.field}: {p.message}" for p in error.problems]
    assert isinstance(error, FieldvaultError)


def test_problem_messages_avoid_pydantic_jargon() -> None:
    text = (
        MINIMAL.replace("required = true", 'required = "yes"')
        .replace('id = "mini-study"', "id = 5")
        .replace('languages = ["nb", "en"]', 'languages = "nb"')
    )
    for problem in problems_in(text):
        for jargon in ("Input should", "validation error", "Value error", "type=", "pydantic"):
            assert jargon not in problem.message, problem


def test_a_missing_file_is_a_study_validation_error(tmp_path: Path) -> None:
    with pytest.raises(StudyValidationError) as caught:
        load_study(tmp_path / "none.toml")
    assert "does not exist" in str(caught.value)


def test_a_file_that_is_not_utf8_is_a_study_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.encode("latin-1"))
    with pytest.raises(StudyValidationError) as caught:
        load_study(path)
    assert "UTF-8" in str(caught.value)


def test_a_definition_built_in_code_is_checked_across_fields_too() -> None:
    data = parse_study(MINIMAL).model_dump()
    data["consent_items"][1]["id"] = "interview-recording"
    with pytest.raises(ValueError, match="used twice"):
        StudyDefinition.model_validate(data)


def test_the_transcription_language_must_be_one_whisper_knows() -> None:
    from fieldvault.config.languages import WHISPER_LANGUAGES, interview_language

    text = EXAMPLE.read_text(encoding="utf-8")
    assert parse_study(text).transcription_language == "detect"
    with pytest.raises(StudyValidationError, match="transcription_language: 'bokmål' is not"):
        parse_study(text.replace("timezone =", 'transcription_language = "bokmål"\ntimezone =', 1))
    assert interview_language("nb") == "no" and interview_language("detect") is None
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert tuple(WHISPER_LANGUAGES) == _LANGUAGE_CODES  # the list still matches the engine's


def test_interviews_have_two_speakers_unless_the_study_says_otherwise() -> None:
    assert parse_study(MINIMAL).interviews.speakers == 2
    assert parse_study(MINIMAL + "\n[interviews]\nspeakers = 3\n").interviews.speakers == 3


@pytest.mark.parametrize("value", ["0", "11", '"2"', "2.0"])
def test_a_speaker_count_out_of_range_or_not_an_integer_is_refused(value: str) -> None:
    problem = only_problem(MINIMAL + f"\n[interviews]\nspeakers = {value}\n")
    assert problem.field == "interviews.speakers"
