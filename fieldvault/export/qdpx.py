"""REFI-QDA exchange files: the project (.qdpx) and the codebook (.qdc).

What the official schema allows is not all that importers accept; these rules come from running
MAXQDA, NVivo, ATLAS.ti and QualCoder on real files:

- the archive holds exactly ``project.qde`` and a flat, lowercase ``sources/`` folder;
- text sources are UTF-8 without a BOM, LF only; selections count code points from 0, end
  exclusive;
- the project has an ``origin``; every TextSource has a ``plainTextPath``; every Note a date;
- no empty container elements; every code name non-empty and unique (compared case-blind).
- QualCoder ignores a ``SourceRef`` inside a named ``Case``; it reads *source* variables. So each
  transcript carries its participant's variables (and its interview's date, interviewer, mode)
  as ``VariableValue`` of its ``TextSource`` too, which QualCoder, MAXQDA and NVivo attach to
  the document, besides the case's.
- The project's users are the researchers who approved the transcripts (their labels, never an
  informant's identity); each source is created by its approver, the guide pre-coding by
  ``fieldvault``, since a machine made it.
- Time stamps stay in the text (``TIMESTAMPS``): MAXQDA's ``#hh:mm:ss-d#`` at the end of each
  paragraph by default, or ``[hh:mm:ss]`` in front of it (QualCoder's form), or none.
- Code names are unique after folding case and diacritics: a guide theme titled like a
  codebook code («Relasjonsbygging» and the code «relasjonsbygging») codes onto that code
  instead of making a second one, and a later codebook code folding like an earlier one is
  merged into it (its children move under the first).

GUIDs are UUID 5 names under a fixed namespace, derived from the study id and what the element
stands for (a code's name, a participant code), so exporting the same material twice gives the
same project, and codes keep their identity from one export to the next. Every file is validated
against the official schema (kept in ``fieldvault/export/schemas``) before it is handed out;
the checks live in :mod:`fieldvault.export.qdpx_check`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from lxml import etree

from fieldvault import __version__
from fieldvault.export import timecode
from fieldvault.export.archive import zip_bytes
from fieldvault.export.model import (
    ExportError,
    ExportStudy,
    ExportTranscript,
    clean_text,
    file_stems,
    label,
    labelled,
    localised,
    speaker_label,
    turns,
)
from fieldvault.export.qdpx_check import (
    CODEBOOK_NS,
    PROJECT_NS,
    check_qdpx,
    validate_codebook,
    validate_project,
)

__all__ = [
    "CODEBOOK_NS",
    "PROJECT_NS",
    "TIMESTAMPS",
    "check_qdpx",
    "code_key",
    "codebook_xml",
    "guid",
    "project_qdpx",
    "source_text",
    "validate_codebook",
    "validate_project",
]

# Namespace of every GUID fieldvault derives: uuid5(NAMESPACE_URL, "https://fieldvault/refi-qda").
_GUID_NAMESPACE = uuid.UUID("135f6f52-7378-5e15-a018-6fd47ca3a120")
_WORD = re.compile(r"\w+")
_QUESTION_MIN_WORDS = 4
_QUESTION_MIN_SHARE = 0.7
# How time stamps appear in the QDPX text: MAXQDA's f4 form at a paragraph's end (default, as
# the seed study coded in MAXQDA), the bracket form in front (QualCoder), or none.
TIMESTAMPS: tuple[str, ...] = ("maxqda", "bracket", "none")
_NOT_ALNUM = re.compile(r"[\W_]+")
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "ł": "l", "đ": "d", "ß": "ss"})


def code_key(name: str) -> str:
    """What two code names are compared by: case, diacritics and punctuation folded away."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # ø, æ and ł have no decomposition; fold them to the letters they are typed as.
    bare = bare.casefold().translate(_LETTERS)
    return _NOT_ALNUM.sub(" ", bare).strip()


def guid(study_id: str, *parts: str) -> str:
    """The stable GUID of one element of a study's export."""
    return str(uuid.uuid5(_GUID_NAMESPACE, "/".join((study_id, *parts))))


def _stamp(study: ExportStudy) -> str:
    return study.as_of.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _origin() -> str:
    return f"fieldvault {__version__}"


# --- codebook -----------------------------------------------------------------------------------


@dataclass
class _Code:
    guid: str
    name: str
    description: str
    colour: str | None
    codable: bool
    children: list[_Code] = field(default_factory=list)


def _unique(name: str, taken: set[str], suffix: str) -> str:
    candidate = name
    number = 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{name} ({suffix})" if number == 2 else f"{name} ({suffix} {number})"
    taken.add(candidate.casefold())
    return candidate


def _codes(study: ExportStudy) -> tuple[list[_Code], dict[str, str]]:
    """The code tree and a map theme id -> code GUID."""
    definition = study.definition
    taken: set[str] = set()
    nodes: dict[str, _Code] = {}
    by_key: dict[str, _Code] = {}
    for code in definition.codebook.codes:
        name = clean_text(code.name)
        if not name:
            raise ExportError("a code in the study's codebook has an empty name; name it")
        earlier = by_key.get(code_key(name))
        if earlier is not None:  # folds like an earlier code: the same code, merged into it
            nodes[code.name] = earlier
            continue
        node = _Code(
            guid=guid(definition.id, "code", code.name),
            name=_unique(name, taken, "2"),
            description=clean_text(code.description),
            colour=code.colour.upper() if code.colour else None,
            codable=True,
        )
        nodes[code.name] = by_key[code_key(name)] = node
    roots: list[_Code] = []
    placed: set[int] = set()
    for code in definition.codebook.codes:
        node = nodes[code.name]
        if id(node) in placed:
            continue
        placed.add(id(node))
        parent = nodes.get(code.parent) if code.parent else None
        if parent is node:
            parent = None
        (parent.children if parent else roots).append(node)

    theme_codes: dict[str, str] = {}
    themes = definition.interview_guide.themes
    if themes:
        language, fallback = study.language, definition.languages
        guide = _Code(
            guid=guid(definition.id, "guide"),
            name=_unique(label(study, "guide"), taken, "fieldvault"),
            description="",
            colour=None,
            codable=False,
        )
        for theme in themes:
            title = clean_text(localised(theme.title, language, fallback))
            if not title:
                raise ExportError(f"interview guide theme {theme.id!r} has an empty title")
            questions = [clean_text(localised(q, language, fallback)) for q in theme.questions]
            same = by_key.get(code_key(title))
            if same is not None:  # a code of that name exists: the theme codes onto it
                theme_codes[theme.id] = same.guid
                continue
            node = _Code(
                guid=guid(definition.id, "theme", theme.id),
                name=_unique(title, taken, label(study, "theme")),
                description="\n".join(q for q in questions if q),
                colour=None,
                codable=True,
            )
            guide.children.append(node)
            by_key[code_key(title)] = node
            theme_codes[theme.id] = node.guid
        if guide.children:
            roots.append(guide)
    return roots, theme_codes


def _code_element(parent: etree._Element, ns: str, code: _Code) -> None:
    element = etree.SubElement(parent, f"{{{ns}}}Code", guid=code.guid, name=code.name)
    element.set("isCodable", "true" if code.codable else "false")
    if code.colour:
        element.set("color", code.colour)
    if code.description:
        etree.SubElement(element, f"{{{ns}}}Description").text = code.description
    for child in code.children:
        _code_element(element, ns, child)


def codebook_xml(study: ExportStudy) -> bytes:
    """The codebook alone as a REFI-QDA ``.qdc`` document."""
    roots, _ = _codes(study)
    if not roots:
        raise ExportError(
            f"study {study.definition.id!r} has no codebook and no interview guide themes; "
            "add [[codebook.codes]] to the study file"
        )
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS})
    root.set("origin", _origin())
    codes = etree.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")
    for code in roots:
        _code_element(codes, CODEBOOK_NS, code)
    return _serialise(root)


# --- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paragraph:
    start: int  # code point offsets in the source text, end exclusive
    end: int
    speaker: str
    text: str


def _paragraphs(
    transcript: ExportTranscript, timestamps: str = "maxqda"
) -> tuple[str, list[_Paragraph]]:
    parts: list[str] = []
    paragraphs: list[_Paragraph] = []
    offset = 0
    for turn in turns(transcript):
        line = labelled(speaker_label(turn.speaker, transcript), turn.text)
        if timestamps == "maxqda":
            line = f"{line} {timecode.f4(turn.end)}"
        elif timestamps == "bracket":
            line = f"{timecode.bracket(turn.start)} {line}"
        paragraphs.append(_Paragraph(offset, offset + len(line), turn.speaker, turn.text))
        parts.append(line)
        offset += len(line) + 2  # the blank line between paragraphs
    return "\n\n".join(parts) + "\n", paragraphs


def source_text(transcript: ExportTranscript, timestamps: str = "maxqda") -> str:
    """The plain text of a transcript as stored in ``sources/``: ``Label: text`` paragraphs."""
    return _paragraphs(transcript, timestamps)[0]


def _question_index(study: ExportStudy) -> list[tuple[str, str, frozenset[str]]]:
    """(theme id, question, its words) for every guide question, in every study language.

    An interview may be held in any of the study's languages (and Whisper names Norwegian
    ``no``, not ``nb``), so each question is recognised in each language it is written in.
    """
    index = []
    languages = study.definition.languages
    for theme in study.definition.interview_guide.themes:
        for question in theme.questions:
            texts = dict.fromkeys(
                clean_text(localised(question, lang, languages)) for lang in languages
            )
            for text in texts:
                words = frozenset(_WORD.findall(text.casefold()))
                if len(words) >= _QUESTION_MIN_WORDS:
                    index.append((theme.id, text, words))
    return index


def _aligned_questions(
    study: ExportStudy, transcript: ExportTranscript, paragraphs: Sequence[_Paragraph]
) -> Iterator[tuple[int, str, str]]:
    """(paragraph index, theme id, question) where the interviewer asks a guide question."""
    questions = _question_index(study)
    if not questions:
        return
    for number, paragraph in enumerate(paragraphs):
        if not paragraph.speaker.startswith("interviewer"):
            continue
        words = set(_WORD.findall(paragraph.text.casefold()))
        best: tuple[float, str, str] | None = None
        for theme_id, text, qwords in questions:
            share = len(qwords & words) / len(qwords)
            if share >= _QUESTION_MIN_SHARE and (best is None or share > best[0]):
                best = (share, theme_id, text)
        if best is not None:
            yield number, best[1], best[2]


# --- project ------------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{PROJECT_NS}}}{tag}", attributes)


def _variables(study: ExportStudy) -> list[tuple[str, str, str, str]]:
    """(guid, name, typeOfVariable, description) of every variable, study-declared first."""
    definition = study.definition
    declared = [
        (
            guid(definition.id, "variable", v.name),
            v.name,
            "Integer" if v.type == "integer" else "Text",
            clean_text(v.description),
        )
        for v in definition.participant_variables
    ]
    builtin = [
        ("interview_date", "Date", "Date of the (first) interview"),
        ("duration_minutes", "Integer", "Total recorded interview time in minutes"),
        ("language", "Text", "Language of the interview (nb, nn, en)"),
        ("interviewer", "Text", "Who interviewed (a researcher's label)"),
        ("interview_mode", "Text", "How the interview was held: in_person, video or phone"),
    ]
    names = {v[1] for v in declared}
    for name, _, _ in builtin:
        if name in names:
            raise ExportError(
                f"participant variable {name!r} clashes with the variable fieldvault adds to the "
                "QDPX cases; rename it in the study file"
            )
    return declared + [
        (guid(definition.id, "variable", name), name, kind, text) for name, kind, text in builtin
    ]


def _variable_value(
    case: etree._Element, variable: tuple[str, str, str, str], value: object, code: str
) -> None:
    var_guid, name, kind, _ = variable
    if value is None or value == "":
        return
    element = _sub(case, "VariableValue")
    _sub(element, "VariableRef", targetGUID=var_guid)
    if kind == "Integer":
        try:
            number = int(str(value))
        except ValueError:
            raise ExportError(
                f"participant {code}: variable {name!r} should be a whole number"
            ) from None
        _sub(element, "IntegerValue").text = str(number)
    elif kind == "Date":
        _sub(element, "DateValue").text = str(value)
    else:
        _sub(element, "TextValue").text = clean_text(str(value))


def _approver(transcript: ExportTranscript) -> str | None:
    """The label of the researcher who approved a transcript, made safe for a user name."""
    name = clean_text(transcript.approved_by or "")[:64]
    return name or None


def _users(study: ExportStudy) -> tuple[str, dict[str, str], str]:
    """The program's user GUID, approver label -> user GUID, and the project's creating user."""
    study_id = study.definition.id
    approvers = sorted({a for t in study.transcripts if (a := _approver(t))})
    machine = guid(study_id, "user", "fieldvault")
    by_name = {
        name: machine if name.casefold() == "fieldvault" else guid(study_id, "user", "user", name)
        for name in approvers
    }
    dated = [t for t in study.transcripts if t.approved_at and _approver(t)]
    latest = max(dated, key=lambda t: (t.approved_at, t.participant_code), default=None)
    creator = by_name[_approver(latest) or ""] if latest is not None else machine
    return machine, by_name, creator


def project_xml(
    study: ExportStudy, timestamps: str = "maxqda"
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """``project.qde`` and the ``sources/`` entries of the QDPX archive."""
    definition = study.definition
    if not study.transcripts:
        raise ExportError(f"nothing to export: study {definition.id!r} has no approved transcripts")
    if timestamps not in TIMESTAMPS:
        raise ExportError(
            f"unknown QDPX time stamp form {timestamps!r}; choose from {', '.join(TIMESTAMPS)}"
        )
    stamp = _stamp(study)
    user, approvers, creator = _users(study)
    root = _project_root(definition.title, creator, stamp)
    users = _sub(root, "Users")
    _sub(users, "User", guid=user, name="fieldvault")
    for name, approver_guid in approvers.items():
        if name.casefold() != "fieldvault":  # one user per name: importers match by name
            _sub(users, "User", guid=approver_guid, name=name)
    codes, theme_codes = _codes(study)
    if codes:
        codes_element = _sub(_sub(root, "CodeBook"), "Codes")
        for node in codes:
            _code_element(codes_element, PROJECT_NS, node)
    variables = _variables(study)
    _variables_element(root, variables)
    stems = file_stems(study.transcripts)
    source_guids = _source_guids(study)
    _cases(root, study, variables, stems, source_guids)
    sources = _sub(root, "Sources")
    entries: list[tuple[str, bytes]] = []
    for number, transcript in enumerate(study.transcripts):
        source_guid = source_guids[number]
        authors = _Authors(approvers.get(_approver(transcript) or "", user), user, stamp)
        text = _text_source(
            sources, study, transcript, source_guid, stems[number], theme_codes, authors, timestamps
        )
        _source_variables(sources[-1], variables, transcript)
        entries.append((f"sources/{source_guid}.txt", text.encode("utf-8")))
    _notes(root, study, user, stamp)
    return _serialise(root), entries


def _project_root(title: str, user: str, stamp: str) -> etree._Element:
    """The ``Project`` element with its name, origin, user and dates."""
    root = etree.Element(f"{{{PROJECT_NS}}}Project", nsmap={None: PROJECT_NS})
    root.set("name", clean_text(title))
    root.set("origin", _origin())
    root.set("creatingUserGUID", user)
    root.set("creationDateTime", stamp)
    root.set("modifyingUserGUID", user)
    root.set("modifiedDateTime", stamp)
    return root


def _variables_element(root: etree._Element, variables: list[tuple[str, str, str, str]]) -> None:
    """The ``Variables`` element: one ``Variable`` per participant variable."""
    variables_element = _sub(root, "Variables")
    for var_guid, name, kind, description in variables:
        variable = _sub(variables_element, "Variable", guid=var_guid, name=name)
        variable.set("typeOfVariable", kind)
        if description:
            _sub(variable, "Description").text = description


def _source_guids(study: ExportStudy) -> list[str]:
    """Each transcript's source GUID, by participant and the interview's number for them."""
    # A participant's n-th interview keeps its GUID when other participants' are added.
    source_guids: list[str] = []
    seen: dict[str, int] = {}
    for transcript in study.transcripts:
        code = transcript.participant_code
        seen[code] = seen.get(code, 0) + 1
        source_guids.append(guid(study.definition.id, "source", code, str(seen[code])))
    return source_guids


def _cases(
    root: etree._Element,
    study: ExportStudy,
    variables: list[tuple[str, str, str, str]],
    stems: Sequence[str],
    source_guids: list[str],
) -> None:
    """The ``Cases`` element: one per participant, in order of first appearance."""
    by_participant: dict[str, list[int]] = {}
    for number, transcript in enumerate(study.transcripts):
        by_participant.setdefault(transcript.participant_code, []).append(number)
    cases = _sub(root, "Cases")
    for code, numbers in by_participant.items():
        first = study.transcripts[numbers[0]]
        case_guid = guid(study.definition.id, "case", code)
        case = _sub(cases, "Case", guid=case_guid, name=stems[numbers[0]])
        dates = [study.transcripts[n].interview_date for n in numbers]
        known = sorted(d for d in dates if d is not None)
        values: dict[str, object] = {name: first.variables.get(name) for _, name, _, _ in variables}
        values["interview_date"] = known[0].isoformat() if known else None
        values["duration_minutes"] = round(
            sum(study.transcripts[n].duration_s for n in numbers) / 60
        )
        values["language"] = first.language
        values["interviewer"] = _first_known(study.transcripts[n].interviewer for n in numbers)
        values["interview_mode"] = _first_known(study.transcripts[n].mode for n in numbers)
        for variable in variables:
            _variable_value(case, variable, values[variable[1]], code)
        for n in numbers:
            _sub(case, "SourceRef", targetGUID=source_guids[n])


def _first_known(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def _transcript_values(
    variables: list[tuple[str, str, str, str]], transcript: ExportTranscript
) -> dict[str, object]:
    """One transcript's variable values: its participant's, and its own interview's."""
    values: dict[str, object] = {
        name: transcript.variables.get(name) for _, name, _, _ in variables
    }
    date = transcript.interview_date
    values["interview_date"] = date.isoformat() if date else None
    values["duration_minutes"] = round(transcript.duration_s / 60)
    values["language"] = transcript.language
    values["interviewer"] = transcript.interviewer
    values["interview_mode"] = transcript.mode
    return values


def _source_variables(
    source: etree._Element,
    variables: list[tuple[str, str, str, str]],
    transcript: ExportTranscript,
) -> None:
    """The transcript's variables as the source's own (QualCoder reads these, not cases)."""
    values = _transcript_values(variables, transcript)
    for variable in variables:
        _variable_value(source, variable, values[variable[1]], transcript.participant_code)


@dataclass(frozen=True)
class _Authors:
    source: str  # the approving researcher's user GUID
    machine: str  # fieldvault's, for what it made by itself (the guide pre-coding)
    stamp: str


def _text_source(
    sources: etree._Element,
    study: ExportStudy,
    transcript: ExportTranscript,
    source_guid: str,
    name: str,
    theme_codes: dict[str, str],
    authors: _Authors,
    timestamps: str,
) -> str:
    """One ``TextSource`` with a coded selection per guide question; returns its plain text."""
    study_id = study.definition.id
    stamp = authors.stamp
    user = authors.machine
    dated = {"creatingUser": user, "creationDateTime": stamp}
    text, paragraphs = _paragraphs(transcript, timestamps)
    source = _sub(
        sources,
        "TextSource",
        guid=source_guid,
        name=name,
        plainTextPath=f"internal://{source_guid}.txt",
        creatingUser=authors.source,
        creationDateTime=stamp,
    )
    aligned = list(_aligned_questions(study, transcript, paragraphs))
    for position, (index, theme_id, question) in enumerate(aligned):
        start = paragraphs[index].start
        end = (
            paragraphs[aligned[position + 1][0] - 1].end
            if position + 1 < len(aligned)
            else paragraphs[-1].end
        )
        selection_guid = guid(study_id, "selection", source_guid, str(start))
        selection = _sub(
            source,
            "PlainTextSelection",
            guid=selection_guid,
            name=question,
            startPosition=str(start),
            endPosition=str(end),
            **dated,
        )
        coding = _sub(selection, "Coding", guid=guid(study_id, "coding", selection_guid))
        coding.set("creatingUser", user)
        coding.set("creationDateTime", stamp)
        _sub(coding, "CodeRef", targetGUID=theme_codes[theme_id])
    return text


def _notes(root: etree._Element, study: ExportStudy, user: str, stamp: str) -> None:
    """The export's note, the project description and the reference to the note."""
    definition = study.definition
    note_guid = guid(definition.id, "note", "export")
    notes = _sub(root, "Notes")
    dated = {"creatingUser": user, "creationDateTime": stamp}
    note = _sub(notes, "Note", guid=note_guid, name="fieldvault", **dated)
    _sub(note, "PlainTextContent").text = (
        f"{clean_text(definition.title)}\n{clean_text(definition.research_question)}\n"
        f"{len(study.transcripts)} approved, pseudonymised transcripts exported by fieldvault."
    )
    _sub(root, "Description").text = clean_text(definition.research_question)
    _sub(root, "NoteRef", targetGUID=note_guid)


def project_qdpx(study: ExportStudy, timestamps: str = "maxqda") -> bytes:
    """The whole project as a ``.qdpx`` archive (deterministic bytes)."""
    qde, sources = project_xml(study, timestamps)
    return zip_bytes([("project.qde", qde), *sources], study.as_of)


def _serialise(root: etree._Element) -> bytes:
    # Written by hand: lxml's own declaration uses single quotes, which some importers mind.
    body: bytes = etree.tostring(root, xml_declaration=False, encoding="UTF-8", pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
