"""Benchmark: pseudonymisation throughput on one core, against a plain regex pass over the text.

Usage: .venv/bin/python bench/pseudonymise.py [--mb 2] [--words 9000]

The text is built from the labelled evaluation set (tests/data/pseudonymisation/), repeated
until it reaches the size asked for, so it is as dense in names, numbers and places as real
interview talk about colleagues and offices (denser, in fact). Reported:

- MB/s of transcript text (MB = 10**6 bytes of UTF-8), target >= 1 MB/s;
- the time for a 60-minute interview (~9,000 words, one line per ~12-word segment, as the
  transcription worker stores it), word lists already loaded, and the one-off load time;
- the ratio against the reference: one ``re.finditer(r"\\w+")`` pass over the same text.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "unit"))

from pseudonymise_eval import load_passages  # type: ignore[import-not-found]

from fieldvault.pseudonymise import (
    KnownPerson,
    PlaceholderBook,
    pseudonymise,
    pseudonymise_lines,
)
from fieldvault.pseudonymise.lexicon import lexicon

TARGET_MBPS = 1.0


def corpus(min_bytes: int) -> tuple[str, list[KnownPerson]]:
    """Evaluation passages repeated to at least ``min_bytes``, with all their vault people."""
    passages = load_passages()
    people = [p for passage in passages for p in passage.people]
    unit = "\n".join(p.text for p in passages) + "\n"
    text = unit * (min_bytes // len(unit.encode()) + 1)
    return text, people


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=2.0, help="MB of text for the throughput run")
    parser.add_argument("--words", type=int, default=9000, help="words in the 60-minute case")
    parser.add_argument(
        "--file", type=Path, help="also time a real text (e.g. the seed thesis), repeated to --mb"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    started = time.perf_counter()
    lexicon()
    load_s = time.perf_counter() - started

    text, people = corpus(int(args.mb * 1e6))
    size = len(text.encode())
    started = time.perf_counter()
    sum(1 for _ in re.finditer(r"\w+", text))
    reference_s = time.perf_counter() - started
    started = time.perf_counter()
    result = pseudonymise(
        text, language="nb", known_people=people[:8], placeholders=PlaceholderBook()
    )
    run_s = time.perf_counter() - started
    mbps = size / 1e6 / run_s

    words = text.split()[: args.words]
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    started = time.perf_counter()
    pseudonymise_lines(lines, language="nb", known_people=people[:8])
    interview_s = time.perf_counter() - started
    interview_kb = len("\n".join(lines).encode()) / 1e3

    print(f"word lists loaded once in {load_s:.2f} s")
    print(
        f"throughput: {size / 1e6:.2f} MB in {run_s:.2f} s = {mbps:.2f} MB/s on one core "
        f"({len(result.spans)} replacements; target >= {TARGET_MBPS} MB/s: "
        f"{'met' if mbps >= TARGET_MBPS else 'NOT met'})"
    )
    print(
        f"60-minute interview: {args.words} words, {len(lines)} segments, {interview_kb:.0f} kB "
        f"in {interview_s * 1000:.0f} ms"
    )
    print(f"reference (one \\w+ regex pass): {reference_s:.3f} s; ratio {run_s / reference_s:.0f}x")
    if args.file:
        real = args.file.read_text(encoding="utf-8")
        real = real * (int(args.mb * 1e6) // len(real.encode()) + 1)
        started = time.perf_counter()
        found = pseudonymise(real, language="nb", known_people=people[:8])
        real_s = time.perf_counter() - started
        print(
            f"{args.file.name}: {len(real.encode()) / 1e6:.2f} MB in {real_s:.2f} s = "
            f"{len(real.encode()) / 1e6 / real_s:.2f} MB/s ({len(found.spans)} replacements)"
        )


if __name__ == "__main__":
    main()
