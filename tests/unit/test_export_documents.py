"""Transcript documents (TXT, DOCX, NVivo table), subtitles, overview, time codes, file names."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Sequence

import docx
import pytest

from fieldvault.export import ExportError, ExportSegment, build_files, parse_formats, timecode
from fieldvault.export.documents import bracket_txt, docx_bytes, f4_txt, nvivo_table
from fieldvault.export.model import file_stems, turns
from fieldvault.export.overview import overview_csv, overview_markdown
from fieldvault.export.subtitles import srt, vtt
from tests import export_factory as factory


def seconds(parts: Sequence[str], scale: int = 10) -> float:
    """hh, mm, ss and an optional fraction (in 1/scale s) as seconds."""
    h, m, s, *fraction = parts
    return int(h) * 3600 + int(m) * 60 + int(s) + (int(fraction[0]) / scale if fraction else 0)


def test_time_codes() -> None:
    assert timecode.f4(3723.46) == "#01:02:03-5#"
    assert timecode.f4(59.96) == "#00:01:00-0#"
    assert timecode.bracket(3723.99) == "[01:02:03]"
    assert timecode.srt(3723.4567) == "01:02:03,457"
    assert timecode.vtt(0.0) == "00:00:00.000"
    assert timecode.nvivo(61.25) == "00:01:01.2"


def test_turns_merge_consecutive_segments_of_one_speaker() -> None:
    transcript = factory.transcript()
    paragraphs = turns(transcript)
    assert [t.speaker for t in paragraphs] == ["interviewer", "informant"] * 3
    assert paragraphs[1].start == transcript.segments[1].start
    assert paragraphs[1].end == transcript.segments[2].end


def test_f4_text_has_labels_and_stamps_at_paragraph_ends() -> None:
    transcript = factory.transcript()
    text = f4_txt(transcript)
    paragraphs = text.rstrip("\n").split("\n\n")
    assert paragraphs[0].startswith("I: Takk for at du stiller opp.")
    assert paragraphs[1].startswith("Kari: Ja, jeg er utdannet sosionom")
    stamps = [re.search(r"#(\d\d):(\d\d):(\d\d)-(\d)#$", p) for p in paragraphs]
    assert all(stamps)
    ends = [seconds(m.groups()) for m in stamps if m]
    assert ends == pytest.approx([t.end for t in turns(transcript)], abs=0.05)


def test_bracket_text_stamps_match_segment_starts() -> None:
    transcript = factory.transcript(start=3600.0 + 61.7)
    text = bracket_txt(transcript)
    stamps = re.findall(r"^\[(\d\d):(\d\d):(\d\d)\] ", text, flags=re.MULTILINE)
    starts = [int(t.start) for t in turns(transcript)]
    assert [seconds(s) for s in stamps] == starts
    assert text.startswith("[01:01:01] I: Takk")


def test_informant_without_pseudonym_is_b1() -> None:
    transcript = factory.transcript(pseudonym=None)
    assert "\n\nB1: Ja, jeg er utdannet" in f4_txt(transcript)


def test_unknown_speaker_has_no_label_and_text_is_cleaned() -> None:
    transcript = factory.transcript(
        dialogue=[("unknown", "Første linje\r\nandre\u00a0linje\x07"), ("speaker-2", "Hei.")]
    )
    text = f4_txt(transcript)
    assert text.startswith("Første linje andre\u00a0linje #00:00:07-7#\n\nspeaker-2: Hei.")
    assert "\r" not in text and "\x07" not in text


def test_nvivo_table_columns() -> None:
    rows = list(csv.reader(io.StringIO(nvivo_table(factory.transcript())), delimiter="\t"))
    assert rows[0] == ["Timespan", "Content", "Speaker"]
    assert rows[1][0] == "00:00:02.0 - 00:00:07.7"
    assert rows[2][2] == "Kari" and rows[2][1].startswith("Ja, jeg er utdannet")


def test_subtitles_one_cue_per_segment() -> None:
    transcript = factory.transcript()
    cues = re.findall(r"^(\S+) --> (\S+)$", srt(transcript), flags=re.MULTILINE)
    assert len(cues) == len(transcript.segments)
    starts = [seconds(re.split(r"[:,]", start), scale=1000) for start, _ in cues]
    assert starts == pytest.approx([s.start for s in transcript.segments])
    web = vtt(transcript)
    assert web.startswith("WEBVTT\n\n00:00:02.000 --> 00:00:07.700\n<v I>Takk")
    assert "<v Kari>Ja, jeg er utdannet sosionom og har jobbet på kontoret i åtte år." in web


def test_docx_paragraphs_keep_norwegian_letters_and_stamps() -> None:
    study = factory.study()
    data = docx_bytes(study, study.transcripts[0])
    document = docx.Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs if p.text]
    assert paragraphs == f4_txt(study.transcripts[0]).rstrip("\n").split("\n\n")
    assert document.paragraphs[0].runs[0].bold and document.paragraphs[0].runs[0].text == "I: "
    assert "ærlig" in paragraphs[3] and "færre" in paragraphs[5]
    assert docx_bytes(study, study.transcripts[0]) == data  # deterministic


def test_overview_like_table_1() -> None:
    study = factory.study()
    rows = list(csv.reader(io.StringIO(overview_csv(study).decode("utf-8-sig"))))
    assert rows[0][0] == "Pseudonym" and rows[0][-2:] == ["Intervjudato", "Varighet (min)"]
    assert rows[1][:2] == ["Kari", "sosionom"] and rows[1][-2] == "2021-03-10"
    assert rows[2][:2] == ["Lars", "barnevernspedagog"]
    assert rows[-1][0] == "Totalt" and rows[-1][-1] == "2"
    markdown = overview_markdown(study).decode("utf-8")
    assert "| Kari | sosionom |" in markdown and "**Totalt**" in markdown


def test_file_names_by_pseudonym_unique_and_safe() -> None:
    transcripts = [
        factory.transcript("P-1", "Kari"),
        factory.transcript("P-2", "kari"),
        factory.transcript("P-3", "../Liv/"),
        factory.transcript("P-4", None),
        factory.transcript("P-5", "overview"),
    ]
    assert file_stems(transcripts, frozenset({"overview"})) == [
        "Kari",
        "kari 2",
        "Liv",
        "P-4",
        "overview 2",
    ]


def test_every_format_together() -> None:
    files = build_files(factory.study(), parse_formats(["all"]))
    assert set(files) == {
        "README.txt",
        "nav-veileder.qdpx",
        "nav-veileder.qdc",
        "docx/Kari.docx",
        "docx/Lars.docx",
        "docx/overview.docx",
        "txt/Kari.txt",
        "txt/Lars.txt",
        "txt-hhmmss/Kari.txt",
        "txt-hhmmss/Lars.txt",
        "nvivo/Kari.txt",
        "nvivo/Lars.txt",
        "subtitles/Kari.srt",
        "subtitles/Kari.vtt",
        "subtitles/Lars.srt",
        "subtitles/Lars.vtt",
        "overview.csv",
        "overview.md",
    }
    for name, data in files.items():
        if name.endswith((".txt", ".srt", ".vtt", ".md")):
            assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data, name
            data.decode("utf-8")
    assert build_files(factory.study(), parse_formats(["all"])) == files
    overview = docx.Document(io.BytesIO(files["docx/overview.docx"]))
    assert overview.tables[0].rows[1].cells[0].text == "Kari"


def test_formats_are_checked() -> None:
    assert parse_formats(["csv", "qdpx", "csv"]) == ["qdpx", "csv"]
    with pytest.raises(ExportError, match="unknown export format 'pdf'"):
        parse_formats(["pdf"])
    with pytest.raises(ExportError, match="no export format"):
        parse_formats([])


def test_segments_out_of_order_and_empty_are_handled() -> None:
    transcript = factory.transcript()
    shuffled = dataclasses.replace(
        transcript,
        segments=[*reversed(transcript.segments), ExportSegment(1.0, 1.0, "informant", "  ")],
    )
    assert f4_txt(shuffled) == f4_txt(transcript)
