"""The pseudonymisation engine: consistency, check digits, Norwegian letters, context rules."""

from __future__ import annotations

import pytest

from fieldvault.pseudonymise import (
    Category,
    KnownPerson,
    PlaceholderBook,
    Term,
    pseudonymise,
    pseudonymise_lines,
)
from fieldvault.pseudonymise.numbers import (
    is_national_id,
    is_org_number,
    national_id_check_digits,
    org_check_digit,
)

KARI = KnownPerson.from_identity(
    "Kari Nordmann", "Eva", email="kari.nordmann@example.no", phone="+47 912 34 567"
)


def _categories(text: str, **kw: object) -> list[tuple[str, str]]:
    result = pseudonymise(text, language=kw.pop("language", "nb"), **kw)  # type: ignore[arg-type]
    return [(s.category.value, s.original) for s in result.spans]


def test_the_same_name_gets_the_same_placeholder_across_a_studys_transcripts() -> None:
    book = PlaceholderBook()
    first = pseudonymise("Kollegaen min Marte Olsen ringte.", language="nb", placeholders=book)
    second = pseudonymise(
        "I går sa Marte at Geir Johansen var syk.", language="nb", placeholders=book
    )
    third = pseudonymise("Olsen was there too, said Geir.", language="en", placeholders=book)
    assert first.text == "Kollegaen min [PERSON 1] ringte."
    assert second.text == "I går sa [PERSON 1] at [PERSON 2] var syk."
    assert third.text == "[PERSON 1] was there too, said [PERSON 2]."


def test_the_placeholder_book_survives_a_round_trip_and_hides_names_in_repr() -> None:
    book = PlaceholderBook()
    pseudonymise("Vi snakket med Trude Haugland.", language="nb", placeholders=book)
    again = PlaceholderBook.from_json(book.to_json())
    assert again.persons == book.persons and again.next_number == 2
    assert "Trude" not in repr(again) and "trude" not in repr(again)


@pytest.mark.parametrize("number", ["15038513742", "150385 13742", "45019010086", "02027113772"])
def test_valid_national_identity_and_d_numbers_are_replaced(number: str) -> None:
    result = pseudonymise(f"Nummeret er {number}, sa hun.", language="nb")
    assert [s.category for s in result.spans] == [Category.NATIONAL_ID]
    assert result.text == "Nummeret er [FØDSELSNUMMER], sa hun."


@pytest.mark.parametrize("number", ["15038513743", "150385 13741", "45019010087", "32019012345"])
def test_numbers_with_wrong_check_digits_are_not_flagged_as_identity_numbers(number: str) -> None:
    result = pseudonymise(f"Nummeret {number} var feil.", language="nb")
    assert Category.NATIONAL_ID not in {s.category for s in result.spans}
    assert number in result.text


def test_organisation_numbers_need_their_mod_11_check_digit() -> None:
    good = pseudonymise("Org.nr. 974 760 673 og 987654325.", language="nb")
    bad = pseudonymise("Org.nr. 974 760 674 og 987654321.", language="nb")
    assert good.text == "Org.nr. [ORGANISASJONSNUMMER] og [ORGANISASJONSNUMMER]."
    assert bad.spans == [] and "974 760 674" in bad.text


def test_check_digit_helpers_agree_with_known_numbers() -> None:
    assert is_org_number("974760673")  # Brønnøysundregistrene
    assert org_check_digit("97476067") == "3"
    assert national_id_check_digits("150385137") == "42"
    assert is_national_id("15038513742") and not is_national_id("15138513742")


def test_norwegian_letters_in_names_and_possessives() -> None:
    aase = KnownPerson.from_identity("Åse Kjærstad", "Sigrid")
    result = pseudonymise(
        "Jeg heter Åse Kjærstad. Åses kollega Bjørn Sæther og Bjørns sjef Øystein bor i Ørsta.",
        language="nb",
        known_people=[aase],
    )
    assert result.text == (
        "Jeg heter Sigrid. Sigrids kollega [PERSON 1] og [PERSON 1]s sjef [PERSON 2] bor i [STED]."
    )


def test_own_names_in_every_form_become_the_pseudonym() -> None:
    text = "Kari Nordmann, eller bare Kari. Karis kontor. Kari's office. Nordmann er etternavnet."
    result = pseudonymise(text, language="nb", known_people=[KARI])
    assert result.text == "Eva, eller bare Eva. Evas kontor. Eva's office. Eva er etternavnet."
    assert {s.category for s in result.spans} == {Category.OWN_NAME}


def test_a_dotted_capital_i_in_the_transcript_still_finds_the_vaults_name() -> None:
    # "İ" matches "i" case-insensitively, but its case-folded form is two characters long.
    siri = KnownPerson.from_identity("Siri Lie", "Mona")
    result = pseudonymise("SİRİ LİE kom. Siri kom også.", language="nb", known_people=[siri])
    assert result.text == "Mona kom. Mona kom også."


def test_the_informants_contacts_are_replaced_however_they_are_written() -> None:
    text = "Ring 91234567 eller +47 912 34 567, eller skriv til KARI.NORDMANN@example.no."
    result = pseudonymise(text, language="nb", known_people=[KARI])
    assert result.text == "Ring [TELEFON] eller [TELEFON], eller skriv til [E-POST]."


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Det er et godt liv, dag for dag, to ganger per uke.", "nb"),
        ("Dag etter dag ser jeg det samme.", "nb"),
        ("Per i dag har vi åtti brukere.", "nb"),
        ("We will see. It may rain in May. Will you come?", "en"),
        ("NAV er en stor etat, og Datatilsynet fører tilsyn.", "nb"),
        ("Vi bruker Teams og Zoom, og noen ganger Messenger.", "nb"),
    ],
)
def test_everyday_words_and_generic_institutions_stay(text: str, language: str) -> None:
    assert pseudonymise(text, language=language).text == text


def test_context_says_a_person_for_words_that_are_also_names() -> None:
    result = pseudonymise("Jeg snakket med Liv, og Per sa at Dag var syk.", language="nb")
    assert result.text == "Jeg snakket med [PERSON 1], og [PERSON 2] sa at [PERSON 3] var syk."
    assert pseudonymise("Hun heter liv.", language="nb").text == "Hun heter [PERSON 1]."


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nb", "Hun jobber på [ARBEIDSPLASS] og bor i [STED]."),
        ("nn", "Hun jobber på [ARBEIDSSTAD] og bor i [STAD]."),
        ("en", "Hun jobber på [WORKPLACE] og bor i [PLACE]."),
    ],
)
def test_workplaces_and_places_get_labels_in_the_transcripts_language(
    language: str, expected: str
) -> None:
    text = "Hun jobber på NAV Volda og bor i Ørsta."
    assert pseudonymise(text, language=language).text == expected


def test_terms_from_the_study_list_are_always_replaced() -> None:
    terms = [Term("Fjordbyen", Category.PLACE), Term("Trollsenteret", Category.WORKPLACE)]
    result = pseudonymise(
        "fjordbyen er liten. Hun jobber på Trollsenteret.", language="nb", terms=terms
    )
    assert result.text == "[STED] er liten. Hun jobber på [ARBEIDSPLASS]."


def test_spans_point_at_the_placeholders_in_the_output_and_hide_originals() -> None:
    result = pseudonymise("Ring Trude på 912 34 567.", language="nb")
    for span in result.spans:
        assert result.text[span.start : span.end] == span.placeholder
        assert "original" not in span.public()
        assert span.original not in repr(span)
    assert "Trude" not in repr(KARI) and "Kari" not in repr(KARI)


def test_transcript_lines_are_pseudonymised_together_and_keep_their_count() -> None:
    lines = ["Dag er kollegaen min.", "Han heter Dag Hansen.", "Dag sa ja."]
    out, result = pseudonymise_lines(lines, language="nb")
    assert out == ["[PERSON 1] er kollegaen min.", "Han heter [PERSON 1].", "[PERSON 1] sa ja."]
    assert len(result.spans) == 3


def test_capitalised_words_in_no_dictionary_are_taken_for_names() -> None:
    result = pseudonymise("Vi møtte Røhnebæk ved kontoret. Røhnebæk sa lite.", language="nb")
    assert result.text == "Vi møtte [PERSON 1] ved kontoret. [PERSON 1] sa lite."


def test_what_is_left_but_doubtful_is_returned_as_suspects_for_review() -> None:
    text = "Vi spiste på Trollsenteret, referanse 1234567."
    result = pseudonymise(text, language="nb")
    assert result.text == text
    reasons = {text[s.source_start : s.source_end]: s.reason for s in result.suspects}
    assert reasons == {"Trollsenteret": "capitalised", "1234567": "number"}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Se https://example.no/side?id=3.", Category.URL),
        ("Skriv til @kari_nordmann på Telegram.", Category.USERNAME),
        ("Hun bor i Storgata 12, 6100 Volda.", Category.ADDRESS),
        ("He lives at 42 Ashgrove Road.", Category.ADDRESS),
        ("Hun er født 14. mai 1985.", Category.BIRTH_DATE),
        ("Date of birth: 22/08/1987.", Category.BIRTH_DATE),
        ("Call +44 20 7946 0958 today.", Category.PHONE),
        ("Ring 22 33 44 55 i morgen.", Category.PHONE),
    ],
)
def test_contact_patterns(text: str, category: Category) -> None:
    result = pseudonymise(text, language="nb")
    assert category in {s.category for s in result.spans}


@pytest.mark.parametrize(
    ("text", "category", "original"),
    [
        ("Ring 0047 912 34 567 i kveld.", Category.PHONE, "0047 912 34 567"),
        ("Skriv kari punktum nordmann krøllalfa eksempel punktum no i kveld.", Category.EMAIL,
         "kari punktum nordmann krøllalfa eksempel punktum no"),
        ("Han er f. 03.11.1988 i Volda.", Category.BIRTH_DATE, "03.11.1988"),
        ("Bursdagen hennes er 27.02.1991.", Category.BIRTH_DATE, "27.02.1991"),
        ("Han bodde i Kong Oscars gate 5, 5017 Bergen.", Category.ADDRESS,
         "Kong Oscars gate 5, 5017 Bergen"),
        ("Nummeret var 031188 07269 den gangen.", Category.NATIONAL_ID, "031188 07269"),
        ("Call 07700 900 461 after five.", Category.PHONE, "07700 900 461"),
    ],
)  # fmt: skip
def test_patterns_that_open_with_a_digit_or_a_cue_word_find_the_whole_identifier(
    text: str, category: Category, original: str
) -> None:
    assert (category.value, original) in _categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "Saksnummer 1912 34 567 er ikke et telefonnummer.",  # a digit right before
        "Beløpet var 12.912 34 567 kroner.",
        "Konto 3-03118807269 er lukket.",  # a dash right before an identity number
    ],
)
def test_a_digit_or_dash_right_before_keeps_a_number_from_matching(text: str) -> None:
    categories = {c for c, _ in _categories(text)}
    assert not categories & {"phone", "national_id"}


def test_a_known_e_mail_and_username_are_found_in_any_letter_case() -> None:
    person = KnownPerson.from_identity(
        "Ola Bakke", "Lars", email="ola.bakke@example.no", username="@olab_nav"
    )
    text = "Skriv til OLA.BAKKE@EXAMPLE.NO eller @OlaB_NAV, ikke til xolab_nav."
    result = pseudonymise(text, language="nb", known_people=[person])
    assert result.text == "Skriv til [E-POST] eller [BRUKERNAVN], ikke til xolab_nav."
