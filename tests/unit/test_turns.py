"""Speakers onto segments word by word (workers/turns.py): examples and properties."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from fieldvault.workers.diarization import SpeakerTurn, joined, windows
from fieldvault.workers.transcription import Segment, Word
from fieldvault.workers.turns import label_speakers, speaker_at, split


def _segment(words: list[tuple[float, float, str]], text: str | None = None) -> Segment:
    ws = [Word(a, b, t, 0.9) for a, b, t in words]
    return Segment(
        start=ws[0].start if ws else 0.0,
        end=ws[-1].end if ws else 1.0,
        text=text if text is not None else " ".join(t for _, _, t in words),
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        compression_ratio=1.2,
        words=ws,
    )


TURNS = [SpeakerTurn(0.0, 2.0, 7), SpeakerTurn(2.2, 5.0, 3), SpeakerTurn(6.0, 8.0, 7)]


def test_a_change_inside_a_segment_splits_it_with_its_own_text() -> None:
    segment = _segment(
        [
            (0.1, 0.5, "How"),
            (0.5, 1.0, "are"),
            (1.0, 1.8, "you?"),
            (2.3, 2.8, "Fine,"),
            (2.8, 3.4, "thanks."),
        ],
        text="How are you? Fine, thanks.",
    )
    parts = label_speakers([segment], TURNS)
    assert [(p.speaker, p.text, p.start, p.end) for p in parts] == [
        ("speaker-1", "How are you?", 0.1, 1.8),
        ("speaker-2", "Fine, thanks.", 2.3, 3.4),
    ]
    assert [w.text for w in parts[1].words] == ["Fine,", "thanks."]


def test_names_follow_the_order_of_first_speech_not_the_cluster_index() -> None:
    segments = [_segment([(2.5, 3.0, "ja")]), _segment([(6.5, 7.0, "mm")])]
    assert [s.speaker for s in label_speakers(segments, TURNS)] == ["speaker-1", "speaker-2"]


def test_a_word_in_a_gap_goes_to_the_nearest_turn() -> None:
    assert speaker_at(5.2, 5.4, TURNS) == 3  # 0.2 s after turn 3 ends, 0.6 s before turn 7
    assert speaker_at(5.7, 5.9, TURNS) == 7
    assert speaker_at(1.95, 2.5, TURNS) == 3  # overlaps 7 by 0.05 s, 3 by 0.3 s
    assert speaker_at(1.5, 2.1, TURNS) == 7  # overlaps 7 most


def test_a_segment_without_words_goes_by_its_span() -> None:
    segment = _segment([], text="(inaudible)")
    segment.start, segment.end = 2.4, 4.0
    ((who, part),) = split(segment, TURNS)
    assert who == 3 and part is segment


def test_without_turns_nothing_changes() -> None:
    segment = _segment([(0.0, 1.0, "hello")])
    assert label_speakers([segment], []) == [segment]
    assert segment.speaker == "unknown"


def test_text_that_does_not_hold_the_words_falls_back_to_joined_words() -> None:
    segment = _segment([(0.1, 0.5, "a"), (2.5, 3.0, "b")], text="something else")
    assert [p.text for p in label_speakers([segment], TURNS)] == ["a", "b"]


def test_windows_cover_a_region_and_end_where_it_ends() -> None:
    assert windows(0.0, 0.4) == [(0.0, 0.4)]
    spans = windows(1.0, 4.0)
    assert spans[0][0] == 1.0 and spans[-1][1] == 4.0
    assert all(b - a <= 1.5 + 1e-9 for a, b in spans)


def test_joined_windows_change_speaker_mid_overlap() -> None:
    spans = [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0), (4.0, 4.4)]
    assert joined(spans, [0, 0, 1, 1]) == [
        SpeakerTurn(0.0, 1.875, 0),
        SpeakerTurn(1.875, 3.0, 1),
        SpeakerTurn(4.0, 4.4, 1),
    ]


_word_times = st.lists(
    st.tuples(st.floats(0, 30, allow_nan=False), st.floats(0, 2, allow_nan=False)),
    min_size=1,
    max_size=30,
)
_turns = st.lists(
    st.tuples(st.floats(0, 30, allow_nan=False), st.floats(0.01, 5), st.integers(0, 3)),
    min_size=1,
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(_word_times, _turns)
def test_no_word_is_lost_and_each_part_has_one_speaker(
    times: list[tuple[float, float]], raw_turns: list[tuple[float, float, int]]
) -> None:
    at = 0.0
    words = []
    for i, (gap, length) in enumerate(times):
        start = at + gap / 10
        words.append((start, start + length, f"w{i}"))
        at = start + length
    turns = sorted((SpeakerTurn(a, a + d, s) for a, d, s in raw_turns), key=lambda t: t.start)
    segment = _segment(words)
    parts = label_speakers([segment], turns)
    assert [w.text for p in parts for w in p.words] == [t for _, _, t in words]
    names = [p.speaker for p in parts]
    first_seen = list(dict.fromkeys(names))
    assert first_seen == [f"speaker-{i + 1}" for i in range(len(first_seen))]
    for p in parts:
        assert p.start == p.words[0].start and p.end == p.words[-1].end
        assert p.text == " ".join(w.text for w in p.words)
        assert len({speaker_at(w.start, w.end, turns) for w in p.words}) == 1
    for before, after in itertools.pairwise(parts):
        assert before.speaker != after.speaker  # parts are maximal runs
