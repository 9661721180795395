"""Roles guessed from questions or tracks, paragraphs cut at pauses, QDPX for real importers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile

import pytest
from lxml import etree

from fieldvault.config.study import InterviewGuide, Theme
from fieldvault.domain.speakers import guess, is_question
from fieldvault.export import ExportStudy
from fieldvault.export.model import MAX_PARAGRAPH_S, ExportSegment, turns
from fieldvault.export.qdpx import PROJECT_NS, check_qdpx, code_key, project_qdpx, source_text
from tests import export_factory as factory

NS = {"q": PROJECT_NS}


def seg(speaker: str, text: str, start: float = 0.0, end: float = 1.0) -> dict[str, object]:
    return {"speaker": speaker, "text": text, "start": start, "end": end}


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "asks", "answers"),
    [
        ("nb", ["Hva jobber du med", "Hvordan bygger du tillit?"], ["Jeg er veileder.", "Ja."]),
        ("nn", ["Kva jobbar du med", "Korleis byggjer du tillit"], ["Eg er rettleiar.", "Mm."]),
        ("en", ["What do you do", "How do you build trust"], ["I am an adviser.", "Yes."]),
    ],
)
def test_the_voice_that_asks_most_is_the_interviewer_in_each_language(
    language: str, asks: list[str], answers: list[str]
) -> None:
    # Diarized single track: speaker-1 answers first here, so order alone would guess wrong.
    segments = [seg("speaker-1", "Hei.")]
    for question, answer in zip(asks, answers, strict=True):
        segments += [seg("speaker-2", question), seg("speaker-1", answer)]
    roles = guess(segments, track_count=1, host_track=None, languages=[language])
    assert roles["speaker-2"][0] == "interviewer"
    assert roles["speaker-2"][1] == "asks 2 of the 2 questions"
    assert roles["speaker-1"][0] == "informant"


def test_question_words_need_the_language_but_a_question_mark_is_enough() -> None:
    assert is_question("Kva meiner du", ["nn"]) and not is_question("Kva meiner du", ["en"])
    assert is_question("Right?", []) and not is_question("Jeg tror det.", ["nb", "nn", "en"])


def test_a_tie_in_questions_goes_to_the_one_who_speaks_less() -> None:
    segments = [
        seg("speaker-1", "Hva tenker du?"),
        seg("speaker-2", "Hva jeg tenker? Det er et langt svar med mange ord om arbeidet mitt."),
    ]
    roles = guess(segments, track_count=1, host_track=None)
    assert roles == {
        "speaker-1": ("interviewer", "asks 1 of the 2 questions"),
        "speaker-2": ("informant", "speaks the most apart from the interviewer"),
    }


def test_on_tracks_the_host_track_decides_and_track_one_is_the_default() -> None:
    segments = [seg("speaker-2", "Hva gjør du?"), seg("speaker-1", "Jeg svarer.")]
    default = guess(segments, track_count=2, host_track=None)
    assert default["speaker-1"][0] == "interviewer" and default["speaker-2"][0] == "informant"
    assert "unless the upload says otherwise" in default["speaker-1"][1]
    marked = guess(segments, track_count=2, host_track=1)
    assert marked["speaker-2"] == ("interviewer", "track 2 was marked as the host's at upload")
    assert marked["speaker-1"][0] == "informant"


def test_a_third_voice_is_other_and_an_unsplit_track_is_nobodys_guess() -> None:
    segments = [
        seg("speaker-1", "Hva gjør du?"),
        seg("speaker-2", "Jeg jobber her, og har gjort det lenge."),
        seg("speaker-3", "Ja."),
    ]
    roles = guess(segments, track_count=1, host_track=None)
    assert [roles[label][0] for label in ("speaker-1", "speaker-2", "speaker-3")] == [
        "interviewer",
        "informant",
        "other",
    ]
    assert guess([seg("unknown", "Hva?")], track_count=1, host_track=None) == {
        "unknown": ("other", "one mixed track: the voices were not told apart")
    }


# --- paragraphs -------------------------------------------------------------------------------


def monologue(count: int, length: float, pauses: dict[int, float]) -> list[ExportSegment]:
    """``count`` informant segments of ``length`` s; ``pauses[i]`` s of silence before i."""
    segments, clock = [], 0.0
    for number in range(count):
        clock += pauses.get(number, 0.3)
        segments.append(ExportSegment(clock, clock + length, "informant", f"Del {number}."))
        clock += length
    return segments


def test_a_long_turn_is_cut_at_its_longest_pauses_into_paragraphs_of_at_most_a_minute() -> None:
    segments = [ExportSegment(0.0, 4.0, "interviewer", "Fortell.")]
    # 40 segments of 8 s (about 5.5 minutes) with longer pauses before segments 9, 17 and 30.
    segments += [
        dataclasses.replace(s, start=s.start + 5, end=s.end + 5)
        for s in monologue(40, 8.0, {9: 2.5, 17: 3.0, 30: 2.0})
    ]
    transcript = dataclasses.replace(factory.transcript(), segments=segments)
    paragraphs = turns(transcript)
    assert paragraphs[0].speaker == "interviewer"
    spoken = paragraphs[1:]
    assert len(spoken) > 5 and all(t.speaker == "informant" for t in spoken)
    assert all(t.end - t.start <= MAX_PARAGRAPH_S for t in spoken)
    starts = [t.text.split()[1] for t in spoken]
    # The three long pauses are paragraph breaks, and no word is lost or reordered.
    assert {"9.", "17.", "30."} <= set(starts)
    words = " ".join(t.text for t in spoken).split()
    assert words == " ".join(f"Del {n}." for n in range(40)).split()
    assert [t.start for t in spoken] == sorted(t.start for t in spoken)


def test_a_short_turn_stays_one_paragraph_and_one_long_segment_is_never_cut() -> None:
    short = monologue(5, 8.0, {})
    long_one = [ExportSegment(0.0, 95.0, "informant", "Ett langt segment.")]
    assert len(turns(dataclasses.replace(factory.transcript(), segments=short))) == 1
    assert len(turns(dataclasses.replace(factory.transcript(), segments=long_one))) == 1


# --- QDPX for real importers -------------------------------------------------------------------


def project(study: ExportStudy, timestamps: str = "maxqda") -> tuple[etree._Element, dict]:
    data = project_qdpx(study, timestamps)
    check_qdpx(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    texts = {n: archive.read(n).decode() for n in archive.namelist() if n.startswith("sources/")}
    return etree.fromstring(archive.read("project.qde")), texts


def two_informants() -> ExportStudy:
    kari = dataclasses.replace(
        factory.transcript(), approved_by="IH", interviewer="IH", mode="video"
    )
    lars = dataclasses.replace(
        factory.transcript("P-9M2WQR", "Lars", date=dt.date(2021, 3, 12)),
        approved_by="AB",
        approved_at=factory.APPROVED + dt.timedelta(days=1),
        interviewer="AB",
        mode="phone",
    )
    return factory.study(kari, lars)


def values_of(element: etree._Element, names: dict[str, str]) -> dict[str, str]:
    out = {}
    for value in element.findall("q:VariableValue", NS):
        name = names[value.find("q:VariableRef", NS).get("targetGUID")]
        out[name] = value[1].text
    return out


def test_each_source_carries_its_participants_and_interviews_variables() -> None:
    root, _ = project(two_informants())
    names = {v.get("guid"): v.get("name") for v in root.iter(f"{{{PROJECT_NS}}}Variable")}
    sources = root.findall("q:Sources/q:TextSource", NS)
    kari, lars = (values_of(source, names) for source in sources)
    assert kari["utdanning"] == "sosionom" and kari["erfaring_ar"] == "8"
    assert kari["interview_date"] == "2021-03-10" and kari["interview_mode"] == "video"
    assert lars["interviewer"] == "AB" and lars["interview_date"] == "2021-03-12"
    cases = root.findall("q:Cases/q:Case", NS)
    assert values_of(cases[0], names)["interviewer"] == "IH"


def test_the_approvers_are_the_projects_users_and_the_last_one_created_it() -> None:
    root, _ = project(two_informants())
    users = {u.get("guid"): u.get("name") for u in root.findall("q:Users/q:User", NS)}
    assert sorted(users.values()) == ["AB", "IH", "fieldvault"]
    assert users[root.get("creatingUserGUID")] == "AB"  # approved last
    sources = root.findall("q:Sources/q:TextSource", NS)
    assert [users[s.get("creatingUser")] for s in sources] == ["IH", "AB"]
    codings = list(root.iter(f"{{{PROJECT_NS}}}Coding"))
    assert codings and {users[c.get("creatingUser")] for c in codings} == {"fieldvault"}


@pytest.mark.parametrize(
    ("form", "first_line"),
    [
        ("maxqda", "I: Takk for at du stiller opp. Kan du først fortelle litt om deg selv? "
         "#00:00:07-7#"),
        ("bracket", "[00:00:02] I: Takk for at du stiller opp. Kan du først fortelle litt om deg "
         "selv?"),
        ("none", "I: Takk for at du stiller opp. Kan du først fortelle litt om deg selv?"),
    ],
)  # fmt: skip
def test_time_stamps_stay_in_the_qdpx_text_in_the_form_asked_for(
    form: str, first_line: str
) -> None:
    study = factory.study(factory.transcript())
    _, texts = project(study, form)
    [text] = texts.values()
    assert text.split("\n")[0] == first_line
    assert text == source_text(study.transcripts[0], form)


def test_code_names_are_compared_without_case_diacritics_or_punctuation() -> None:
    assert code_key("Relasjonsbygging") == code_key("relasjonsbygging")
    assert code_key("Skjønnsutøving") == code_key("skjonnsutoving")
    assert code_key("Kollega-veiledning") == code_key("kollega veiledning")
    assert code_key("relasjonsbygging") != code_key("Relasjonsbygging (tema)")


def test_guide_questions_are_recognised_in_each_study_language() -> None:
    definition = factory.definition()
    guide = InterviewGuide(
        themes=[
            Theme(
                id="tillit",
                title={"nb": "Tillit", "nn": "Tillit", "en": "Trust"},
                questions=[
                    {
                        "nb": "Fortell om hvordan du bygger tillit i møte med en ny bruker.",
                        "nn": "Fortel om korleis du byggjer tillit i møte med ein ny brukar.",
                        "en": "Tell me how you build trust when you meet a new client.",
                    }
                ],
            )
        ]
    )
    bilingual = definition.model_copy(update={"interview_guide": guide})
    english = dataclasses.replace(
        factory.transcript(
            dialogue=[
                ("interviewer", "Tell me how you build trust when you meet a new client."),
                ("informant", "By being honest and following up."),
            ]
        ),
        language="en",
    )
    nynorsk = dataclasses.replace(
        factory.transcript(
            "P-9M2WQR",
            "Lars",
            dialogue=[
                ("interviewer", "Fortel om korleis du byggjer tillit i møte med ein ny brukar."),
                ("informant", "Ved å vere ærleg."),
            ],
        ),
        language="no",  # Whisper's code for Norwegian
    )
    root, _ = project(ExportStudy(bilingual, [english, nynorsk], as_of=factory.APPROVED))
    selections = root.findall("q:Sources/q:TextSource/q:PlainTextSelection", NS)
    assert [s.get("name") for s in selections] == [
        "Tell me how you build trust when you meet a new client.",
        "Fortel om korleis du byggjer tillit i møte med ein ny brukar.",
    ]
