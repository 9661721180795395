"""Checks of REFI-QDA files: the official schemas, then the rules importers enforce.

The schemas (kept in ``fieldvault/export/schemas``) are what the standard allows; the rules
beyond them (see :mod:`fieldvault.export.qdpx`) come from running MAXQDA, NVivo, ATLAS.ti and
QualCoder on real files. Every export is checked here before it is handed out.
"""

from __future__ import annotations

import io
import re
import zipfile
from functools import lru_cache
from importlib import resources

from lxml import etree

from fieldvault.export.model import ExportError

__all__ = ["CODEBOOK_NS", "PROJECT_NS", "check_qdpx", "validate_codebook", "validate_project"]

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@lru_cache(maxsize=2)
def _schema(name: str) -> etree.XMLSchema:
    data = resources.files("fieldvault.export").joinpath("schemas", name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


def _validate(data: bytes, schema_name: str, what: str) -> etree._Element:
    try:
        document = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        raise ExportError(f"the {what} is not well-formed XML: {exc}") from None
    schema = _schema(schema_name)
    if not schema.validate(document):
        error = schema.error_log.last_error
        where = f"line {error.line}: " if error is not None else ""
        message = error.message if error is not None else "invalid"
        raise ExportError(
            f"the {what} does not validate against the REFI-QDA schema: {where}{message}"
        )
    return document


def validate_project(data: bytes) -> etree._Element:
    """Parse ``project.qde`` and validate it against the official Project schema."""
    return _validate(data, "Project-mrt2019.xsd", "project.qde")


def validate_codebook(data: bytes) -> etree._Element:
    """Parse a ``.qdc`` and validate it against the official Codebook schema, then our rules."""
    document = _validate(data, "Codebook-mrt2019.xsd", "codebook")
    _check_rules(document, CODEBOOK_NS)
    return document


def _check_rules(document: etree._Element, ns: str) -> None:
    """The importers' rules the schema does not state (see the module docstring)."""
    guids = [value for value in document.xpath("//@guid")]
    for value in guids:
        if not _GUID.match(str(value)):
            raise ExportError(f"malformed GUID {value!r} in the export")
    if len(guids) != len(set(guids)):
        raise ExportError("the export has a GUID twice")
    names = [str(c.get("name", "")) for c in document.iter(f"{{{ns}}}Code")]
    if any(not n.strip() for n in names):
        raise ExportError("the export has a code without a name")
    if len({n.casefold() for n in names}) != len(names):
        raise ExportError("the export has two codes with the same name")
    if document.get("origin") is None:
        raise ExportError("the export has no origin attribute")
    containers = ("Users", "CodeBook", "Codes", "Variables", "Cases", "Sources", "Notes", "Sets")
    for tag in containers:
        for element in document.iter(f"{{{ns}}}{tag}"):
            if len(element) == 0:
                raise ExportError(f"the export has an empty <{tag}> element")


def check_qdpx(data: bytes) -> etree._Element:
    """Open a .qdpx, validate ``project.qde`` and check every rule importers enforce."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ExportError("the .qdpx is not a ZIP archive") from None
    with archive:
        names = archive.namelist()
        if names.count("project.qde") != 1:
            raise ExportError("a .qdpx must hold exactly one project.qde")
        for name in names:
            if name != "project.qde" and not re.fullmatch(r"sources/[^/]+", name):
                raise ExportError(f"unexpected entry {name!r} in the .qdpx")
        document = validate_project(archive.read("project.qde"))
        _check_rules(document, PROJECT_NS)
        for note in document.iter(f"{{{PROJECT_NS}}}Note"):
            if not note.get("creationDateTime"):
                raise ExportError("a Note in the export has no date")
        for source in document.iter(f"{{{PROJECT_NS}}}TextSource"):
            path = source.get("plainTextPath") or ""
            if not path.startswith("internal://"):
                raise ExportError("a TextSource has no internal plainTextPath")
            member = "sources/" + path.removeprefix("internal://")
            if member not in names:
                raise ExportError(f"{path} does not resolve to a file in the .qdpx")
            raw = archive.read(member)
            if raw.startswith(b"\xef\xbb\xbf") or b"\r" in raw:
                raise ExportError(f"{member} must be UTF-8 without BOM and with LF line endings")
            length = len(raw.decode("utf-8"))
            for selection in source.iter(f"{{{PROJECT_NS}}}PlainTextSelection"):
                start = int(selection.get("startPosition", "-1"))
                end = int(selection.get("endPosition", "-1"))
                if not 0 <= start < end <= length:
                    raise ExportError(f"a selection in {member} lies outside its text")
    return document
