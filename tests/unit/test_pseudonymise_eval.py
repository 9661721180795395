"""Measured quality on the labelled evaluation sets (tests/data/pseudonymisation/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pseudonymise_eval import (  # type: ignore[import-not-found]
    GROUPS,
    HELDOUT,
    HELDOUT_GROUPS,
    HELDOUT_TARGETS,
    TARGETS,
    evaluate,
    load_passages,
)


@pytest.fixture(scope="module")
def scored():  # type: ignore[no-untyped-def]
    passages = load_passages()
    score, results = evaluate(passages)
    print("\n" + score.table())
    return passages, score, results


@pytest.fixture(scope="module")
def heldout():  # type: ignore[no-untyped-def]
    passages = load_passages(HELDOUT)
    score, results = evaluate(passages)
    print("\nheld-out set:\n" + score.table(HELDOUT_GROUPS, HELDOUT_TARGETS))
    for line in score.misses + [f"false hit {hit}" for hit in score.false_hits]:
        print("  " + line)
    return passages, score, results


def test_the_evaluation_set_is_large_enough(scored) -> None:  # type: ignore[no-untyped-def]
    passages, score, _ = scored
    assert len(passages) >= 60
    assert sum(score.total.values()) >= 300
    assert {p.language for p in passages} == {"nb", "nn", "en"}
    assert score.distractors >= 40


@pytest.mark.parametrize("group", list(GROUPS))
def test_recall_meets_the_target_of_each_group(scored, group: str) -> None:  # type: ignore[no-untyped-def]
    _, score, _ = scored
    assert score.recall(GROUPS[group]) >= TARGETS[group], score.table()


def test_precision_overall_is_at_least_ninety_percent(scored) -> None:  # type: ignore[no-untyped-def]
    _, score, _ = scored
    assert score.precision >= 0.90, score.table()


def test_nothing_the_vault_knows_appears_in_the_output(scored) -> None:  # type: ignore[no-untyped-def]
    passages, _, results = scored
    for passage, result in zip(passages, results, strict=True):
        for person in passage.people:
            for secret in (*person.emails, *person.usernames):
                assert secret.casefold() not in result.text.casefold(), passage.pid
            for name in person.names:
                assert f" {name} " not in f" {result.text} ", passage.pid


def test_the_heldout_set_covers_both_languages_and_every_kind(heldout) -> None:  # type: ignore[no-untyped-def]
    passages, score, _ = heldout
    assert len(passages) >= 20
    assert {p.language for p in passages} == {"nb", "en"}
    for cats in HELDOUT_GROUPS.values():
        assert sum(score.total[c] for c in cats) > 0
    assert score.distractors >= 15


@pytest.mark.parametrize("group", list(HELDOUT_GROUPS))
def test_heldout_recall_meets_the_target_of_each_category(heldout, group: str) -> None:  # type: ignore[no-untyped-def]
    _, score, _ = heldout
    table = score.table(HELDOUT_GROUPS, HELDOUT_TARGETS)
    assert score.recall(HELDOUT_GROUPS[group]) >= HELDOUT_TARGETS[group], table


def test_heldout_precision_is_at_least_ninety_percent(heldout) -> None:  # type: ignore[no-untyped-def]
    _, score, _ = heldout
    assert score.precision >= 0.90, score.table(HELDOUT_GROUPS, HELDOUT_TARGETS)
