"""Matching a batch of new reports against every subscription costs bounded work, however
many reports arrive and however many topics are followed: counted in searches, the
engine's unit of work, never timed."""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrieval import topics
from retrieval.models import Hit, Report
from retrieval.search import SearchEngine
from tests.conftest import make_report

REPORTS = 5_000
SUBSCRIPTIONS = 2_000
# What bot/telegram/pushes.py asks for: one more than a chat is sent, to notice overflows.
LIMIT = 6
# The most a topic may cost: one search over the batch, then one check per candidate.
PER_TOPIC = 1 + 2 * LIMIT


class TooMuchWork(AssertionError):
    pass


class CountingEngine(SearchEngine):
    """The real engine, counting its searches and refusing to go past `budget`."""

    searches = 0
    budget: int | None = None

    def search(
        self, question: str, top: int = 5, within: Collection[str] | None = None
    ) -> list[Hit]:
        self.searches += 1
        if self.budget is not None and self.searches > self.budget:
            raise TooMuchWork(f"more than {self.budget} searches for one batch")
        return super().search(question, top, within)


def _names(count: int) -> list[str]:
    rng = random.Random(12)
    syllables = ["ka", "lo", "mi", "ner", "sto", "vel", "dra", "pin", "shu", "tor", "ble", "gan"]
    names: dict[str, None] = {}
    while len(names) < count:
        names["".join(rng.choices(syllables, k=3)).capitalize()] = None
    return list(names)


TOWNS = _names(600)
START = datetime(2024, 1, 1, tzinfo=UTC)


def town_report(number: int) -> Report:
    town, other = TOWNS[number % 500], TOWNS[(number * 7 + 3) % 500]
    return make_report(
        f"News from {town}",
        paragraphs=(
            f"Flooding hit {town} on Monday and the river rose. "
            f"Rescue teams from {other} arrived by boat.",
        ),
        report_id=f"n{number}",
        published=START + timedelta(minutes=number),
    )


@pytest.fixture(scope="module")
def batch() -> list[Report]:
    return [town_report(n) for n in range(REPORTS)]


@pytest.fixture(scope="module")
def engine(batch: list[Report]) -> CountingEngine:
    built = CountingEngine.build(batch)
    assert isinstance(built, CountingEngine)
    return built


def counted(engine: CountingEngine, budget: int | None = None) -> CountingEngine:
    engine.searches, engine.budget = 0, budget
    return engine


def test_5000_new_reports_and_2000_subscriptions_cost_bounded_work(
    engine: CountingEngine, batch: list[Report], caplog: pytest.LogCaptureFixture
) -> None:
    # Towns that are in the reports, and 100 that are not: 2,000 distinct topics.
    followed = [f"{a} {b}" for a, b in itertools.permutations(TOWNS[450:], 2)][:SUBSCRIPTIONS]
    assert len(set(followed)) == SUBSCRIPTIONS
    # Report by report this would be 10,000,000 searches.
    counted(engine, budget=SUBSCRIPTIONS * PER_TOPIC)

    with caplog.at_level(logging.WARNING, logger="retrieval.topics"):
        found = topics.match_new_reports(engine, followed, batch, LIMIT)

    assert found.searches == engine.searches <= SUBSCRIPTIONS * PER_TOPIC
    assert found.searches <= topics.MAX_SEARCHES_PER_BATCH
    assert found.topics_left_out == 0  # 2,000 topics fit one batch's budget
    assert found.reports_left_out == REPORTS - topics.MAX_REPORTS_PER_BATCH
    assert "5000 new reports at once: only the newest 200 were matched" in caplog.text
    newest = {r.id for r in topics.newest_first(batch)[: topics.MAX_REPORTS_PER_BATCH]}
    assert found.hits, "some towns are in the newest reports"
    for topic, hits in found.hits.items():
        assert len(hits) <= LIMIT
        assert {h.report.id for h in hits} <= newest
        published = [h.report.published for h in hits]
        assert published == sorted(published, reverse=True)  # newest first
        for hit in hits:  # each one a report /latest TOPIC would list for the topic
            assert topics.report_answer(engine, topic, hit.report.id) is not None


def test_a_big_batch_finds_what_checking_each_report_would(engine: CountingEngine) -> None:
    newest = topics.newest_first(engine.reports)[: topics.MAX_REPORTS_PER_BATCH]
    town = TOWNS[(5_000 - 1) % 500]  # the newest report's town
    one_by_one = [r.id for r in newest if topics.report_answer(engine, f"{town} flooding", r.id)]
    assert one_by_one

    found = topics.match_new_reports(counted(engine), [f"{town} flooding"], newest, LIMIT)

    assert [h.report.id for h in found.hits[f"{town} flooding"]] == one_by_one[:LIMIT]
    assert engine.searches <= PER_TOPIC


def test_a_small_batch_is_checked_report_by_report(engine: CountingEngine) -> None:
    newest = topics.newest_first(engine.reports)[:3]
    found = topics.match_new_reports(counted(engine), ["flooding river", "sourdough"], newest, 2)
    assert [h.report.id for h in found.hits["flooding river"]] == [r.id for r in newest[:2]]
    assert "sourdough" not in found.hits
    assert engine.searches == found.searches == 2 + 3  # no search over the batch


def test_the_search_budget_cuts_the_batch_and_says_so(
    engine: CountingEngine, batch: list[Report], caplog: pytest.LogCaptureFixture
) -> None:
    # The worst case: every topic matches every report.
    everywhere = [f"flooding river {town}" for town in TOWNS[:100]]
    counted(engine, budget=3 * PER_TOPIC)

    with caplog.at_level(logging.WARNING, logger="retrieval.topics"):
        found = topics.match_new_reports(
            engine, everywhere, batch, LIMIT, max_searches=3 * PER_TOPIC
        )

    assert engine.searches == found.searches <= 3 * PER_TOPIC
    # A topic is matched whole or not at all: it starts only while its worst case fits.
    assert 3 <= 100 - found.topics_left_out < 100
    assert found.hits and all(len(hits) <= LIMIT for hits in found.hits.values())
    cut = f"{found.topics_left_out} subscribed topics were not matched against 200 new reports"
    assert cut in caplog.text


def test_repeated_topics_are_searched_once(engine: CountingEngine) -> None:
    newest = topics.newest_first(engine.reports)[:3]
    found: Any = topics.match_new_reports(counted(engine), ["flooding"] * 50, newest, 2)
    assert list(found.hits) == ["flooding"] and engine.searches <= 3
