"""Transcript documents for coding tools: TXT (f4/MAXQDA and ``[hh:mm:ss]``), NVivo table, DOCX.

One paragraph per speaker turn, labelled ``I:`` for the interviewer and the pseudonym (or
``B1:``) for the informant. The f4/MAXQDA form puts ``#hh:mm:ss-d#`` at the end of each paragraph:
the time the turn ends, which is how f4 writes it and how MAXQDA links a paragraph to the media
between the stamp before it and its own. The ``[hh:mm:ss]`` form (QualCoder and tools that do not
read f4 stamps) puts the time the turn starts in front of it. Text files are UTF-8 without a BOM,
with LF line endings.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from functools import lru_cache
from xml.sax.saxutils import escape

import docx
from docx.document import Document as DocxDocument
from docx.oxml import parse_xml
from docx.shared import Mm

from fieldvault.export import timecode
from fieldvault.export.archive import normalise_zip, zip_bytes
from fieldvault.export.model import (
    ExportError,
    ExportStudy,
    ExportTranscript,
    label,
    labelled,
    speaker_label,
    turns,
)

__all__ = ["bracket_txt", "docx_bytes", "f4_txt", "nvivo_table", "overview_docx"]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def f4_txt(transcript: ExportTranscript) -> str:
    """The transcript as f4/MAXQDA text: ``I: … #00:01:02-3#`` per paragraph."""
    paragraphs = [
        f"{labelled(speaker_label(t.speaker, transcript), t.text)} {timecode.f4(t.end)}"
        for t in turns(transcript)
    ]
    return "\n\n".join(paragraphs) + "\n"


def bracket_txt(transcript: ExportTranscript) -> str:
    """The transcript with ``[hh:mm:ss]`` (the turn's start) in front of each paragraph."""
    paragraphs = [
        f"{timecode.bracket(t.start)} {labelled(speaker_label(t.speaker, transcript), t.text)}"
        for t in turns(transcript)
    ]
    return "\n\n".join(paragraphs) + "\n"


def nvivo_table(transcript: ExportTranscript) -> str:
    """Tab-separated Timespan, Content, Speaker rows, as NVivo imports transcript entries."""
    rows = ["Timespan\tContent\tSpeaker"]
    for t in turns(transcript):
        span = f"{timecode.nvivo(t.start)} - {timecode.nvivo(t.end)}"
        text = t.text.replace("\t", " ")
        rows.append(f"{span}\t{text}\t{speaker_label(t.speaker, transcript)}")
    return "\n".join(rows) + "\n"


def _new_document(as_of: dt.datetime, language: str, title: str) -> DocxDocument:
    document = docx.Document()
    props = document.core_properties
    props.title = title
    props.author = "fieldvault"
    props.last_modified_by = "fieldvault"
    props.comments = ""
    props.revision = 1
    props.created = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    props.modified = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    props.language = language
    for section in document.sections:  # A4, not python-docx's US Letter
        section.page_width = Mm(210)
        section.page_height = Mm(297)
    return document


def _save(document: DocxDocument, as_of: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return normalise_zip(buffer.getvalue(), as_of)


@lru_cache(maxsize=8)
def _template(as_of: dt.datetime, language: str) -> tuple[tuple[str, bytes], ...]:
    """The parts of an empty document python-docx writes, made once per export."""
    saved = _save(_new_document(as_of, language, ""), as_of)
    with zipfile.ZipFile(io.BytesIO(saved)) as archive:
        return tuple((info.filename, archive.read(info)) for info in archive.infolist())


def _label_run(speaker: str) -> str:
    if not speaker:
        return ""
    return f'<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{escape(speaker)}: </w:t></w:r>'


def docx_bytes(study: ExportStudy, transcript: ExportTranscript) -> bytes:
    """The f4/MAXQDA transcript as a Word document (label in bold, stamp at paragraph end)."""
    # The paragraphs go into python-docx's empty document as one XML fragment: its per-run API
    # costs ~0.1 ms a call, seconds for a hundred hour-long interviews.
    paragraphs = "".join(
        "<w:p>"
        + _label_run(speaker_label(t.speaker, transcript))
        + f'<w:r><w:t xml:space="preserve">{escape(t.text)} {timecode.f4(t.end)}</w:t></w:r></w:p>'
        for t in turns(transcript)
    ).encode("utf-8")
    entries = []
    for name, data in _template(study.as_of, study.language):
        if name == "word/document.xml":
            head, body, tail = data.partition(b"<w:body>")
            if not body:
                raise ExportError("python-docx wrote a document without a body")
            data = head + body + paragraphs + tail
        entries.append((name, data))
    return zip_bytes(entries, study.as_of)


def _cell(text: str, bold: bool) -> str:
    run_properties = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return (
        f"<w:tc><w:p><w:r>{run_properties}"
        f'<w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p></w:tc>'
    )


def overview_docx(study: ExportStudy, header: list[str], rows: list[list[str]]) -> bytes:
    """The participant overview as a Word table (for the DOCX bundle), total row in bold."""
    document = _new_document(study.as_of, study.language, label(study, "overview"))
    document.add_heading(label(study, "overview"), level=1)
    # Cells set through python-docx's table API cost O(table) each: quadratic for 100 rows.
    grid = "".join("<w:gridCol/>" for _ in header)
    body = [f"<w:tr>{''.join(_cell(text, True) for text in header)}</w:tr>"]
    body += [
        f"<w:tr>{''.join(_cell(text, number == len(rows) - 1) for text in row)}</w:tr>"
        for number, row in enumerate(rows)
    ]
    table = parse_xml(
        f'<w:tbl xmlns:w="{_W}"><w:tblPr><w:tblStyle w:val="TableGrid"/>'
        f'<w:tblW w:w="0" w:type="auto"/></w:tblPr><w:tblGrid>{grid}</w:tblGrid>'
        f"{''.join(body)}</w:tbl>"
    )
    body_element = document.element.body
    if body_element.sectPr is not None:
        body_element.sectPr.addprevious(table)
    else:
        body_element.append(table)
    return _save(document, study.as_of)
