"""The leak guard: vault identities are found in every output form, reported by code and field."""

from __future__ import annotations

import dataclasses

import pytest

from fieldvault.export import ExportError, ExportStudy, LeakError, build_files, parse_formats
from fieldvault.export.guard import check_approved, needles_for, scan
from fieldvault.storage.vault import Identity
from tests import export_factory as factory

IDENTITY = Identity(
    name="Torbjørg Vassendgutt-Øyen",
    email="torbjorg.v@example.no",
    phone="+47 912 34 567",
    telegram_user_id=4242,
    telegram_username="tvassend",
)
CODE = "P-7K3QXM"
ALL = parse_formats(["all"])


def files_with(line: str, pseudonym: str = "Kari") -> dict[str, bytes]:
    dialogue = [*factory.DIALOGUE, ("informant", line)]
    transcript = factory.transcript(CODE, pseudonym, dialogue)
    return build_files(factory.study(transcript), ALL)


def refused(files: dict[str, bytes]) -> LeakError:
    with pytest.raises(LeakError) as caught:
        scan(files, needles_for(CODE, IDENTITY))
    return caught.value


def test_clean_export_passes() -> None:
    scan(build_files(factory.study(), ALL), needles_for(CODE, IDENTITY))


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("Jeg heter Torbjørg Vassendgutt-Øyen, forresten.", "name"),
        ("Kollegaen min, Vassendgutt, sa det samme.", "name"),  # one part of the name
        ("TORBJØRG ringte meg.", "name"),  # case-blind
        ("Skriv til torbjorg.v@example.no.", "email"),
        ("Skriv til Torbjorg.V@EXAMPLE.NO i morgen.", "email"),
        ("Adressen er torbjorg.v (at) example dot no.", "email"),
        ("Ring 912 34 567 etter fire.", "phone"),
        ("Ring +47 91 23 45 67.", "phone"),
        ("Hun er @tvassend på Telegram.", "telegram_username"),
    ],
)
def test_a_planted_identity_is_caught_by_code_and_field(line: str, field: str) -> None:
    error = refused(files_with(line))
    assert error.participant_code == CODE and error.field == field
    message = str(error)
    assert CODE in message and field in message and "nothing was written" in message
    for secret in ("Torbjørg", "Vassendgutt", "torbjorg", "912", "tvassend", "example.no"):
        assert secret.casefold() not in message.casefold()


def test_a_name_used_as_pseudonym_is_caught_in_every_format() -> None:
    files = build_files(factory.study(factory.transcript(CODE, "Torbjørg")), ALL)
    for name, data in files.items():
        if name in {"README.txt", "nav-veileder.qdc"}:  # neither holds participants
            continue
        with pytest.raises(LeakError):
            scan({"content": data}, needles_for(CODE, IDENTITY))
    assert refused({"docx/Torbjørg.docx": b""}).where == "file names"


def test_a_name_split_across_word_runs_is_caught() -> None:
    xml = (
        b'<?xml version="1.0"?><w:document xmlns:w="w"><w:body><w:p>'
        b"<w:r><w:t>Hei Torb</w:t></w:r><w:r><w:t>j&#xF8;rg</w:t></w:r></w:p></w:body></w:document>"
    )
    with pytest.raises(LeakError):
        scan({"word/document.xml": xml}, needles_for(CODE, IDENTITY))


def test_a_name_in_an_xml_attribute_is_caught() -> None:
    xml = b'<?xml version="1.0"?><Project name="Om Vassendgutt-&#216;yen"/>'
    assert refused({"project.qde": xml}).field == "name"


def test_short_name_parts_and_other_digits_do_not_trip() -> None:
    identity = Identity(name="Bo Li", phone="+47 22 33 44 55")
    needles = needles_for("P-1", identity)
    scan({"a.txt": b"bo og li er vanlige ord; 22 33 44 er ikke hele nummeret"}, needles)
    with pytest.raises(LeakError):
        scan({"a.txt": "Jeg snakket med Bo Li i går.".encode()}, needles)


def test_needles_never_show_their_value() -> None:
    for needle in needles_for(CODE, IDENTITY):
        assert "orbj" not in repr(needle) and "912" not in repr(needle)


def test_an_unapproved_transcript_is_refused() -> None:
    unapproved = dataclasses.replace(factory.transcript(), approved_at=None)
    with pytest.raises(ExportError, match=f"{CODE} is not approved"):
        check_approved(ExportStudy(factory.definition(), [unapproved]))
