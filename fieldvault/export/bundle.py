"""Build an export in memory, guard and validate it, then write it atomically and audit it.

Nothing reaches the disk until every file is built, scanned by the leak guard and (for QDPX and
QDC) validated against the official schema. The files are then written into a private temporary
folder next to the target and renamed into place in one step, so a failed export leaves nothing
behind, and a finished one is complete. The audit event records formats, counts and a digest of
the content, never a name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from fieldvault.domain.participants import list_participants
from fieldvault.export import documents, overview, qdpx, subtitles
from fieldvault.export.collect import collect
from fieldvault.export.guard import Needle, check_approved, needles_for, scan
from fieldvault.export.model import ExportError, ExportStudy, file_stems
from fieldvault.storage import audit
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services

__all__ = ["FORMATS", "ExportResult", "Progress", "build_files", "parse_formats", "write_export"]

FORMATS: tuple[str, ...] = ("qdpx", "qdc", "docx", "txt", "srt", "csv")
_WRITERS = 8

# (stage, done, total); stages: "build", "check", "write".
Progress = Callable[[str, int, int], None]
Source = Callable[[Session, str], ExportStudy]

_README = """\
fieldvault export of study {study}: approved, pseudonymised transcripts only.

{study}.qdpx        REFI-QDA project (MAXQDA, NVivo, ATLAS.ti, QualCoder): transcripts (with
                    time stamps, and their participant's variables as document variables),
                    cases with variables, codebook, interview-guide themes as codes
{study}.qdc         the codebook alone (REFI-QDA)
docx/               one Word transcript per interview (f4/MAXQDA time stamps) and overview.docx
txt/                plain text, "I:" / pseudonym labels, #hh:mm:ss-d# at each paragraph's end
txt-hhmmss/         plain text with [hh:mm:ss] at each paragraph's start (QualCoder)
nvivo/              tab-separated Timespan, Content, Speaker (NVivo transcript import)
subtitles/          SRT and WebVTT per interview
overview.csv, .md   the participant overview (pseudonym, variables, date, duration, total)

Only the folders for the formats asked for are present.
"""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out_dir: Path
    files: list[str]
    transcripts: int
    participants: int
    sha256: str


def parse_formats(names: Iterable[str]) -> list[str]:
    """The formats asked for, in canonical order; ``all`` means every one."""
    chosen: set[str] = set()
    for name in names:
        key = name.strip().lower()
        if key == "all":
            chosen.update(FORMATS)
        elif key in FORMATS:
            chosen.add(key)
        else:
            raise ExportError(
                f"unknown export format {name!r}; choose from {', '.join(FORMATS)} or all"
            )
    if not chosen:
        raise ExportError(f"no export format given; choose from {', '.join(FORMATS)} or all")
    return [f for f in FORMATS if f in chosen]


def build_files(
    study: ExportStudy,
    formats: Sequence[str],
    progress: Progress | None = None,
    *,
    qdpx_timestamps: str = "maxqda",
) -> dict[str, bytes]:
    """Every file of the export as relative POSIX path -> bytes (nothing is written)."""
    if not study.transcripts:
        raise ExportError(
            f"nothing to export: study {study.definition.id!r} has no approved transcripts"
        )
    study_id = study.definition.id
    files: dict[str, bytes] = {"README.txt": _README.format(study=study_id).encode("utf-8")}
    stems = file_stems(study.transcripts, reserved=frozenset({"overview"}))
    per_transcript = [f for f in formats if f in {"docx", "txt", "srt"}]
    singles = sum(f in formats for f in ("qdpx", "qdc", "docx", "csv"))
    total = len(study.transcripts) * len(per_transcript) + singles
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("build", done, total)

    if "qdpx" in formats:
        files[f"{study_id}.qdpx"] = qdpx.project_qdpx(study, qdpx_timestamps)
        step()
    if "qdc" in formats:
        files[f"{study_id}.qdc"] = qdpx.codebook_xml(study)
        step()
    for stem, transcript in zip(stems, study.transcripts, strict=True):
        if "docx" in formats:
            files[f"docx/{stem}.docx"] = documents.docx_bytes(study, transcript)
            step()
        if "txt" in formats:
            files[f"txt/{stem}.txt"] = documents.f4_txt(transcript).encode("utf-8")
            files[f"txt-hhmmss/{stem}.txt"] = documents.bracket_txt(transcript).encode("utf-8")
            files[f"nvivo/{stem}.txt"] = documents.nvivo_table(transcript).encode("utf-8")
            step()
        if "srt" in formats:
            files[f"subtitles/{stem}.srt"] = subtitles.srt(transcript).encode("utf-8")
            files[f"subtitles/{stem}.vtt"] = subtitles.vtt(transcript).encode("utf-8")
            step()
    if "docx" in formats:
        header, rows = overview.overview_table(study)
        files["docx/overview.docx"] = documents.overview_docx(study, header, rows)
        step()
    if "csv" in formats:
        files["overview.csv"] = overview.overview_csv(study)
        files["overview.md"] = overview.overview_markdown(study)
        step()
    return files


def validate_files(files: dict[str, bytes]) -> None:
    """Validate every REFI-QDA file of an export against the official schemas and rules."""
    for name, data in files.items():
        if name.endswith(".qdpx"):
            qdpx.check_qdpx(data)
        elif name.endswith(".qdc"):
            qdpx.validate_codebook(data)


def content_digest(files: dict[str, bytes]) -> str:
    """SHA-256 over every path and its content, in path order (recorded in the audit)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _identity_needles(services: Services, session: Session, study_id: str) -> list[Needle]:
    needles: list[Needle] = []
    for participant in list_participants(session, study_id):
        identity = services.vault.get(study_id, participant.code)
        if identity is not None:
            needles += needles_for(participant.code, identity)
    return needles


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError(
            f"{out_dir} already exists and is not an empty folder; choose a new folder "
            "(an export never overwrites files)"
        )


def _write_file(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_tree(root: Path, files: dict[str, bytes], progress: Progress | None) -> None:
    """Write every file (0600) and fsync it; fsync waits on the disk, so threads overlap it."""
    paths = {name: root.joinpath(*name.split("/")) for name in sorted(files)}
    for folder in sorted({path.parent for path in paths.values()}):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        futures = [pool.submit(_write_file, path, files[name]) for name, path in paths.items()]
        for number, future in enumerate(as_completed(futures), start=1):
            future.result()
            if progress is not None:
                progress("write", number, len(files))


def write_export(
    services: Services,
    study_id: str,
    formats: Sequence[str],
    out_dir: Path,
    now: dt.datetime,
    *,
    source: Source = collect,
    progress: Progress | None = None,
    qdpx_timestamps: str = "maxqda",
) -> ExportResult:
    """Export a study's approved transcripts into the new folder ``out_dir``, all or nothing.

    ``qdpx_timestamps`` is the form time stamps take in the QDPX text (``qdpx.TIMESTAMPS``).
    """
    chosen = parse_formats(formats)
    if qdpx_timestamps not in qdpx.TIMESTAMPS:
        raise ExportError(
            f"unknown QDPX time stamp form {qdpx_timestamps!r}; choose from "
            f"{', '.join(qdpx.TIMESTAMPS)}"
        )
    out_dir = Path(out_dir)
    _check_target(out_dir)
    with transaction(services.research) as session:  # reads only
        study = source(session, study_id)
        check_approved(study)
        needles = _identity_needles(services, session, study_id)
    files = build_files(study, chosen, progress, qdpx_timestamps=qdpx_timestamps)
    if progress is not None:
        progress("check", 0, 2)
    scan(files, needles)
    if progress is not None:
        progress("check", 1, 2)
    validate_files(files)
    if progress is not None:
        progress("check", 2, 2)
    digest = content_digest(files)
    codes = sorted({t.participant_code for t in study.transcripts})

    # The files are written before the audit transaction begins, so the database's write lock
    # is held only for the append and the rename; a failed commit takes the files away again.
    staging = _stage(files, out_dir, progress)
    placed = False
    try:
        with transaction(services.research) as session:
            audit.append(
                session,
                audit.Event.EXPORT_CREATED,
                actor="researcher",
                study_id=study_id,
                details={
                    "formats": chosen,
                    "transcripts": len(study.transcripts),
                    "participants": len(codes),
                    "participant_codes": codes,
                    "files": len(files),
                    "content_sha256": digest,
                },
                at=now,
            )
            _check_target(out_dir)
            if out_dir.exists():
                out_dir.rmdir()  # empty (checked); a directory is renamed onto a missing name
            staging.rename(out_dir)
            placed = True
    except BaseException:
        shutil.rmtree(out_dir if placed else staging, ignore_errors=True)
        raise
    return ExportResult(out_dir, sorted(files), len(study.transcripts), len(codes), digest)


def _stage(files: dict[str, bytes], out_dir: Path, progress: Progress | None) -> Path:
    """Write ``files`` into a new private folder beside ``out_dir`` (same file system)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        _write_tree(staging, files, progress)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging
