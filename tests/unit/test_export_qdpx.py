"""REFI-QDA project (.qdpx) and codebook (.qdc): schema, layout, GUIDs, offsets, stability."""

from __future__ import annotations

import dataclasses
import io
import re
import uuid
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from fieldvault.export import ExportError, ExportStudy
from fieldvault.export.archive import zip_bytes
from fieldvault.export.qdpx import (
    CODEBOOK_NS,
    PROJECT_NS,
    check_qdpx,
    codebook_xml,
    project_qdpx,
    source_text,
)
from tests import export_factory as factory

SCHEMAS = Path(__file__).parents[1] / "data" / "refi-qda"
PACKAGE_SCHEMAS = Path(__file__).parents[2] / "fieldvault" / "export" / "schemas"
NS = {"q": PROJECT_NS}


def official(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def open_project(data: bytes) -> tuple[zipfile.ZipFile, etree._Element]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return archive, etree.fromstring(archive.read("project.qde"))


@pytest.fixture
def qdpx() -> bytes:
    return project_qdpx(factory.study())


def test_package_schemas_are_the_official_copies() -> None:
    for name in ("Project-mrt2019.xsd", "Codebook-mrt2019.xsd"):
        assert (PACKAGE_SCHEMAS / name).read_bytes() == (SCHEMAS / name).read_bytes()


def test_project_validates_against_the_official_schema(qdpx: bytes) -> None:
    _, project = open_project(qdpx)
    schema = official("Project-mrt2019.xsd")
    assert schema.validate(project), schema.error_log
    check_qdpx(qdpx)  # and against the importers' rules


def test_codebook_validates_against_the_official_schema() -> None:
    document = etree.fromstring(codebook_xml(factory.study()))
    schema = official("Codebook-mrt2019.xsd")
    assert schema.validate(document), schema.error_log
    assert document.get("origin", "").startswith("fieldvault")
    names = [c.get("name") for c in document.iter(f"{{{CODEBOOK_NS}}}Code")]
    assert "relasjonsbygging" in names and "digital veiledning" in names


def test_archive_holds_project_qde_and_flat_lowercase_sources(qdpx: bytes) -> None:
    archive, project = open_project(qdpx)
    names = archive.namelist()
    assert names[0] == "project.qde"
    assert all(re.fullmatch(r"sources/[0-9a-f-]{36}\.txt", n) for n in names[1:])
    sources = project.findall(".//q:TextSource", NS)
    assert len(sources) == 2 == len(names) - 1
    for source in sources:
        path = source.get("plainTextPath")
        assert path == f"internal://{source.get('guid')}.txt"
        raw = archive.read("sources/" + path.removeprefix("internal://"))
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
        text = raw.decode("utf-8")
        assert "ærlig" in text and "færre" in text and "åtte" in text


def test_guids_are_unique_and_well_formed(qdpx: bytes) -> None:
    _, project = open_project(qdpx)
    guids = [str(g) for g in project.xpath("//@guid")]
    assert len(guids) == len(set(guids)) > 20
    for value in guids:
        assert str(uuid.UUID(value)) == value
    references = {str(r) for r in project.xpath("//@targetGUID")}
    assert references <= set(guids)


def test_codebook_has_the_guide_themes_under_one_parent(qdpx: bytes) -> None:
    _, project = open_project(qdpx)
    codes = project.find("q:CodeBook/q:Codes", NS)
    top = [c.get("name") for c in codes.findall("q:Code", NS)]
    assert top == ["veilederrollen", "relasjonsbygging", "kollegaveiledning", "Intervjuguide"]
    guide = codes.findall("q:Code", NS)[-1]
    assert guide.get("isCodable") == "false"
    themes = [c.get("name") for c in guide.findall("q:Code", NS)]
    # The theme «Relasjonsbygging» folds like the code «relasjonsbygging»: it codes onto that
    # code, and no second «Relasjonsbygging (tema)» is made (issue 15).
    assert themes == ["Digitalisering", "Skjønnsutøving"]
    names = [c.get("name").casefold() for c in project.iter(f"{{{PROJECT_NS}}}Code")]
    assert len(names) == len(set(names)) and all(names)
    child = codes.find("q:Code/q:Code", NS)
    assert child.get("name") == "digital veiledning" and child.get("color") == "#FF7F0E"


def test_cases_carry_variables_and_sources(qdpx: bytes) -> None:
    _, project = open_project(qdpx)
    variables = {
        v.get("guid"): (v.get("name"), v.get("typeOfVariable"))
        for v in project.findall("q:Variables/q:Variable", NS)
    }
    case = project.find("q:Cases/q:Case", NS)
    assert case.get("name") == "Kari"
    values = {}
    for value in case.findall("q:VariableValue", NS):
        name, _ = variables[value.find("q:VariableRef", NS).get("targetGUID")]
        values[name] = value[1].text
    assert values["utdanning"] == "sosionom"
    assert values["erfaring_ar"] == "8"
    assert values["interview_date"] == "2021-03-10"
    assert values["duration_minutes"] == "1"
    source = project.find("q:Sources/q:TextSource", NS)
    assert case.find("q:SourceRef", NS).get("targetGUID") == source.get("guid")


def test_project_attributes_and_dated_notes(qdpx: bytes) -> None:
    _, project = open_project(qdpx)
    assert project.get("origin", "").startswith("fieldvault")
    notes = project.findall("q:Notes/q:Note", NS)
    assert notes and all(n.get("creationDateTime") for n in notes)
    assert project.find("q:NoteRef", NS).get("targetGUID") == notes[0].get("guid")


def test_guide_questions_become_coded_selections_with_code_point_offsets(qdpx: bytes) -> None:
    archive, project = open_project(qdpx)
    source = project.find("q:Sources/q:TextSource", NS)
    text = archive.read("sources/" + source.get("plainTextPath")[11:]).decode("utf-8")
    assert text == source_text(factory.study().transcripts[0])
    selections = source.findall("q:PlainTextSelection", NS)
    assert len(selections) == 2
    first, second = (
        text[int(s.get("startPosition")) : int(s.get("endPosition"))] for s in selections
    )
    # Offsets count code points (æ, ø, å are one each), end exclusive: the slices are exact.
    assert first.startswith("I: Fortell om hvordan du bygger tillit")
    # The paragraph ends with MAXQDA's time stamp (on by default).
    assert first.endswith("og å følge opp. #00:00:33-7#")
    assert second.startswith("I: Hva har endret seg") and second.endswith(
        "begge veier. #00:00:53-2#"
    )
    themes = {c.get("guid"): c.get("name") for c in project.iter(f"{{{PROJECT_NS}}}Code")}
    coded = [themes[s.find("q:Coding/q:CodeRef", NS).get("targetGUID")] for s in selections]
    assert coded == ["relasjonsbygging", "Digitalisering"]


def test_exporting_twice_gives_the_same_bytes() -> None:
    assert project_qdpx(factory.study()) == project_qdpx(factory.study())
    assert codebook_xml(factory.study()) == codebook_xml(factory.study())


def test_a_participant_keeps_its_guids_when_others_are_added() -> None:
    kari = factory.transcript()
    alone = open_project(project_qdpx(factory.study(kari)))[1]
    with_more = open_project(
        project_qdpx(factory.study(factory.transcript("P-AAAAAA", "Eva"), kari))
    )[1]
    guid_of = {
        e.get("name"): e.get("guid") for e in with_more.findall("q:Sources/q:TextSource", NS)
    }
    assert alone.find("q:Sources/q:TextSource", NS).get("guid") == guid_of["Kari"]


def test_no_empty_containers_without_codebook_or_guide() -> None:
    definition = factory.definition()
    bare = definition.model_copy(update={"codebook": type(definition.codebook)()})
    bare = bare.model_copy(update={"interview_guide": type(definition.interview_guide)()})
    study = ExportStudy(bare, [factory.transcript()], as_of=factory.APPROVED)
    data = project_qdpx(study)
    _, project = open_project(data)
    assert project.find("q:CodeBook", NS) is None
    assert official("Project-mrt2019.xsd").validate(project)
    check_qdpx(data)
    with pytest.raises(ExportError, match="no codebook"):
        codebook_xml(study)


def test_an_empty_study_is_refused() -> None:
    with pytest.raises(ExportError, match="no approved transcripts"):
        project_qdpx(ExportStudy(factory.definition(), [], as_of=factory.APPROVED))


def _rezip(data: bytes, rename: dict[str, str] | None = None, edit: bytes | None = None) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = []
        for name in archive.namelist():
            content = archive.read(name)
            if name == "project.qde" and edit is not None:
                content = edit
            entries.append(((rename or {}).get(name, name), content))
    return zip_bytes(entries, factory.APPROVED)


def test_check_refuses_what_importers_reject(qdpx: bytes) -> None:
    archive, _ = open_project(qdpx)
    qde = archive.read("project.qde")
    source = archive.namelist()[1]
    with pytest.raises(ExportError, match="unexpected entry"):
        check_qdpx(_rezip(qdpx, {source: "Sources/" + source[8:]}))
    with pytest.raises(ExportError, match="does not resolve"):
        check_qdpx(_rezip(qdpx, {source: "sources/other.txt"}))
    with pytest.raises(ExportError, match="REFI-QDA schema"):
        check_qdpx(_rezip(qdpx, edit=qde.replace(b"<Users>", b"<Sets/><Users>", 1)))
    with pytest.raises(ExportError, match="same name"):
        check_qdpx(
            _rezip(qdpx, edit=qde.replace(b'name="kollegaveiledning"', b'name="Veilederrollen"'))
        )
    with pytest.raises(ExportError, match="origin"):
        check_qdpx(_rezip(qdpx, edit=re.sub(rb' origin="[^"]*"', b"", qde, count=1)))


def test_integer_variable_that_is_not_a_number_is_refused() -> None:
    broken = dataclasses.replace(factory.transcript(), variables={"erfaring_ar": "mange"})
    with pytest.raises(ExportError, match="erfaring_ar"):
        project_qdpx(factory.study(broken))
