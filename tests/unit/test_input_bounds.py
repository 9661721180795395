"""Input bounds: a study's dates, sizes and characters; names, e-mail addresses and phones."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from test_study_definition import MINIMAL

from fieldvault.config.settings import load_settings
from fieldvault.config.study import StudyValidationError, load_study, parse_study
from fieldvault.config.study_limits import DEFAULT_LIMITS, StudyLimits
from fieldvault.config.text_checks import email_problem, phone_problem, unsafe_character
from fieldvault.domain.participants import IdentityRefused, checked_identity, telegram_name
from fieldvault.storage.vault import Identity

ITEM = """
[[consent_items]]
id = "extra-{n}"
required = false
permits = ["other"]
text = {{ nb = "Ekstra {n}", en = "Extra {n}" }}
"""


def only(text: str, limits: StudyLimits = DEFAULT_LIMITS) -> tuple[str, str]:
    with pytest.raises(StudyValidationError) as caught:
        parse_study(text, limits=limits)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    return problem.field, problem.message


def test_the_settings_defaults_are_the_study_files_default_limits() -> None:
    assert load_settings(environ={}).study_limits == DEFAULT_LIMITS


# --- dates ---------------------------------------------------------------------------------------


def test_a_processing_end_on_the_last_day_of_the_calendar_is_refused_with_the_bound() -> None:
    text = MINIMAL.replace("processing_end = 2021-05-14", "processing_end = 9999-12-31")
    text = text.replace('title = "Mini"', 'title = "Mini"\nprocessing_end_reason = "Lenge"')
    field, message = only(text)
    assert field == "processing_end"
    assert "9999-12-31 is after 2199-12-31" in message and "check the year" in message


def test_an_end_more_than_the_allowed_years_after_the_start_is_refused_and_says_why() -> None:
    text = MINIMAL.replace("processing_end = 2021-05-14", "processing_end = 2031-02-02")
    text = text.replace('title = "Mini"', 'title = "Mini"\nprocessing_end_reason = "Oppfølging"')
    field, message = only(text)
    assert field == "processing_end"
    assert "more than 10 years after start_date (2021-02-01)" in message
    assert "up to 2031-02-01" in message and "FIELDVAULT_STUDY_MAX_YEARS" in message
    assert parse_study(text.replace("2031-02-02", "2031-02-01")).processing_end == dt.date(
        2031, 2, 1
    )
    assert parse_study(text, limits=StudyLimits(max_years=20)).processing_end.year == 2031


def test_a_start_absurdly_far_back_is_refused() -> None:
    field, message = only(MINIMAL.replace("start_date = 2021-02-01", "start_date = 0202-02-01"))
    assert field == "start_date"
    assert "before 1990-01-01" in message


def test_a_definition_read_back_without_limits_keeps_any_calendar_date() -> None:
    text = MINIMAL.replace("processing_end = 2021-05-14", "processing_end = 9999-12-31")
    text = text.replace('title = "Mini"', 'title = "Mini"\nprocessing_end_reason = "Lenge"')
    assert parse_study(text, limits=None).processing_end == dt.date.max


# --- sizes and counts ----------------------------------------------------------------------------


def test_a_five_megabyte_letter_is_refused_with_its_size_and_the_bound() -> None:
    big = "Informasjon om prosjektet.\n" * (5_000_000 // 27)
    field, message = only(MINIMAL.replace("Hei. Vil du være med?", big))
    assert field == "letter.nb"
    assert "at most 200,000" in message and "bytes" in message


def test_ten_thousand_consent_items_are_refused_in_one_problem() -> None:
    text = MINIMAL + "".join(ITEM.format(n=n) for n in range(10_000))
    field, message = only(text)
    assert field == "consent_items"
    assert "10,002 items; at most 50" in message


def test_a_ten_kilobyte_title_is_refused() -> None:
    field, message = only(MINIMAL.replace('title = "Mini"', f'title = "{"M" * 10_240}"'))
    assert field == "title"
    assert "10,240 characters long; at most 2,000" in message


# --- characters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bidi", "old", "new", "field"),
    [
        (False, 'title = "Mini"', 'title = "Mini\\u0007"', "title"),
        (False, 'title = "Mini"', 'title = "Mini\\u009b"', "title"),
        (
            True,
            '"Intervju med lydopptak"',
            '"Intervju \\u202eton\\u202c med lydopptak"',
            "consent_items[0].text.nb",
        ),
        (
            True,
            '"Interview with audio recording"',
            '"Interview \\u2066with\\u2069 audio"',
            "consent_items[0].text.en",
        ),
        (True, "Hei. Vil du", "Hei.\u200f Vil du", "letter.nb"),
        (True, "Hello. Will", "Hello.\u202d Will", "letter.en"),
        (False, "Hello. Will", "Hello.\\r Will", "letter.en"),
    ],
)
def test_control_and_bidirectional_characters_are_refused_where_informants_read(
    bidi: bool, old: str, new: str, field: str
) -> None:
    assert old in MINIMAL
    found, message = only(MINIMAL.replace(old, new))
    assert found == field
    assert "remove it" in message
    assert ("bidirectional" in message) is bidi


def test_newlines_and_tabs_in_a_letter_are_kept() -> None:
    study = parse_study(MINIMAL.replace("Hei. Vil du", "Hei.\n\n\tVil du"))
    assert "\tVil du" in study.letter_text("nb")


def test_a_study_file_is_read_in_nfc_so_its_letter_hash_is_what_informants_see(
    tmp_path: Path,
) -> None:
    decomposed = unicodedata.normalize("NFD", "Vil du være med på intervju?")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    path = tmp_path / "study.toml"
    path.write_text(MINIMAL.replace("Vil du være med?", decomposed), encoding="utf-8")
    letter = load_study(path).letter_text("nb")
    assert "Vil du være med på intervju?" in letter
    assert unicodedata.is_normalized("NFC", letter)


def test_a_contact_that_is_not_an_e_mail_address_is_refused() -> None:
    field, message = only(MINIMAL.replace("ingrid@example.no", "not-an-email"))
    assert field == "contacts.researchers[0].email"
    assert "exactly one @" in message


# --- identities ----------------------------------------------------------------------------------


def test_a_ten_kilobyte_name_is_refused_without_quoting_it() -> None:
    with pytest.raises(IdentityRefused) as caught:
        checked_identity(Identity(name="Solfrid " * 1_280), name_max_chars=200)
    assert caught.value.code == "participant.identity_refused"
    assert caught.value.facts == {"field": "name"}
    assert "at most 200" in str(caught.value) and "Solfrid" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["Solfrid\u202e Brennhaug", "Solfrid\x1b[2J", "Solfrid\nBrennhaug"]
)
def test_a_name_with_control_or_bidirectional_characters_is_refused(name: str) -> None:
    with pytest.raises(IdentityRefused, match="the name contains") as caught:
        checked_identity(Identity(name=name), name_max_chars=200)
    assert "Solfrid" not in str(caught.value)


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b", "two@@example.no", "a b@example.no", "a@example.", "a@-x.no", "a@1.2"],
)
def test_an_address_that_is_not_an_e_mail_address_is_refused(email: str) -> None:
    with pytest.raises(IdentityRefused, match="the e-mail address") as caught:
        checked_identity(Identity(name="Solfrid", email=email), name_max_chars=200)
    assert caught.value.facts == {"field": "email"}
    assert email not in str(caught.value)


@pytest.mark.parametrize("email", ["solfrid@nav.no", "s.b+fv@post.example.org", "ola@blåbær.no"])
def test_ordinary_e_mail_addresses_pass(email: str) -> None:
    assert email_problem(email) is None


@pytest.mark.parametrize("phone", ["12", "+47 12 34 56 78 90 12 34 56", "ring meg", "47+123456"])
def test_an_implausible_phone_number_is_refused(phone: str) -> None:
    with pytest.raises(IdentityRefused, match="the phone number"):
        checked_identity(Identity(name="Solfrid", phone=phone), name_max_chars=200)


@pytest.mark.parametrize("phone", ["+47 912 34 567", "22 39 69 00", "(+47) 912-34-567"])
def test_ordinary_phone_numbers_pass(phone: str) -> None:
    assert phone_problem(phone) is None


def test_a_valid_identity_comes_back_trimmed_and_in_nfc() -> None:
    name = unicodedata.normalize("NFD", "  Åse Ødegård ")
    checked = checked_identity(
        Identity(name=name, email=" ase@nav.no ", phone="+47 912 34 567"), name_max_chars=200
    )
    assert checked.name == "Åse Ødegård"
    assert checked.email == "ase@nav.no"


def test_a_telegram_name_is_cleaned_and_cut_not_refused() -> None:
    assert telegram_name("Solfrid\u202e\x07 Brennhaug\n", max_chars=200) == "Solfrid Brennhaug"
    assert telegram_name("S" * 500, max_chars=200) == "S" * 200
    assert telegram_name("\u202e", max_chars=200) is None
    assert unsafe_character(telegram_name("a\u2066b\tc", max_chars=200) or "") is None
