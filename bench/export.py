"""Export benchmark: 100 generated interviews of 60 minutes (~9,000 words each), every format.

The whole ``write_export`` path on SQLite: vault identities of all 100 participants loaded for the
leak guard, every format built, scanned, validated against the REFI-QDA schema, written
atomically and audited. Reference, measured in the same run: writing the same transcripts as
bare text files (the I/O floor). Prints wall times, the ratio, and peak RSS (target: <= 10 s).

    .venv/bin/python bench/export.py [--transcripts 100] [--minutes 60] [--formats all]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldvault.config.settings import load_settings  # noqa: E402
from fieldvault.config.study import load_study  # noqa: E402
from fieldvault.domain import studies  # noqa: E402
from fieldvault.domain.participants import register_participant  # noqa: E402
from fieldvault.export import ExportStudy, write_export  # noqa: E402
from fieldvault.export.model import ExportTranscript  # noqa: E402
from fieldvault.storage.db import transaction  # noqa: E402
from fieldvault.storage.services import initialise, open_services  # noqa: E402
from fieldvault.storage.vault import Identity  # noqa: E402
from tests.export_factory import EXAMPLE, long_transcript  # noqa: E402

NOW = dt.datetime(2021, 4, 20, 12, 0, tzinfo=dt.UTC)
FIRST = ("Astrid", "Bjørnar", "Cecilie", "Dagfinn", "Eirik", "Frøydis", "Gunnhild", "Håkon")
LAST = ("Aasen", "Bråthen", "Christiansen", "Dahle", "Eide", "Fjeld", "Gulbrandsen", "Hovland")


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference(transcripts: list[ExportTranscript], folder: Path) -> float:
    """Seconds to write each transcript's segments as one bare text file."""
    started = time.perf_counter()
    folder.mkdir()
    for t in transcripts:
        text = "\n".join(s.text for s in t.segments)
        (folder / f"{t.participant_code}.txt").write_text(text, encoding="utf-8")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transcripts", type=int, default=100)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--formats", default="all")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(
            environ={},
            data_dir=root / "data",
            database_url=f"sqlite:///{root / 'research.sqlite3'}",
            vault_url=f"sqlite:///{root / 'vault.sqlite3'}",
        )
        initialise(settings)
        services = open_services(settings)
        definition = load_study(EXAMPLE)
        with transaction(services.research) as session:
            studies.register_study(session, definition, EXAMPLE.read_text("utf-8"), NOW)
        codes = []
        for number in range(args.transcripts):
            identity = Identity(
                name=f"{FIRST[number % 8]} {LAST[number // 8 % 8]}",
                email=f"person{number}@example.org",
                phone=f"+47 9{number:07d}",
                telegram_username=f"person_{number}",
            )
            codes.append(register_participant(services, definition.id, identity, {}, NOW))
        transcripts = []
        for number, code in enumerate(codes):
            generated = long_transcript(number, minutes=args.minutes)
            transcripts.append(
                ExportTranscript(
                    participant_code=code,
                    pseudonym=generated.pseudonym,
                    variables=generated.variables,
                    interview_date=generated.interview_date,
                    duration_s=generated.duration_s,
                    language=generated.language,
                    segments=generated.segments,
                    approved_at=generated.approved_at,
                )
            )
        words = sum(len(s.text.split()) for t in transcripts for s in t.segments)
        segments = sum(len(t.segments) for t in transcripts)
        study = ExportStudy(definition, transcripts, as_of=NOW)
        rss_before = peak_rss_mb()

        reference_s = reference(transcripts, root / "reference")
        marks: dict[str, float] = {}

        def progress(stage: str, _done: int, _total: int) -> None:
            marks.setdefault(stage, time.perf_counter())

        started = time.perf_counter()
        result = write_export(
            services,
            definition.id,
            [args.formats],
            root / "export",
            NOW,
            source=lambda _session, _study_id: study,
            progress=progress,
        )
        finished = time.perf_counter()
        export_s = finished - started
        stages = {
            "build (incl. vault read)": marks["check"] - started,
            "leak guard + schema": marks["write"] - marks["check"],
            "write + audit + rename": finished - marks["write"],
        }
        size = sum((root / "export" / name).stat().st_size for name in result.files)
        services.close()

    print(
        f"transcripts: {len(transcripts)} x {args.minutes} min, "
        f"{words / len(transcripts):,.0f} words and {segments / len(transcripts):,.0f} segments "
        "each"
    )
    print(f"formats: {args.formats}; {len(result.files)} files, {size / 1e6:.1f} MB written")
    print(f"reference (bare text files): {reference_s:.3f} s")
    print(f"write_export:                {export_s:.2f} s  (target <= 10 s)")
    print(f"ratio export / reference:    {export_s / reference_s:.0f}x")
    print("  " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items()))
    print(f"peak RSS: {peak_rss_mb():.0f} MB (before the export: {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
