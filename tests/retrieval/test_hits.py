"""From ranked passages to hits: the first distinct windows, widened from their packed quotes."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.hits import distinct_windows
from retrieval.models import Passage
from retrieval.passages import make_passages
from retrieval.rerank import Candidate, Scored
from retrieval.search import SearchEngine
from retrieval.stored_columns import StoredColumn
from tests.retrieval.test_passages import (
    long_paragraph,
    one_long_paragraph,
    report_of,
    seed_report,
    shown,
    widen_as_before,
)

QUESTIONS = (
    "How many refugees entered camps in Turkey?",
    "Who posted a video on YouTube?",
    "Which districts did Assad's forces recapture?",
    "What happened at the infantry school in Musalmiyeh?",
    "Where did thousands of refugees cross the border?",
)


def scored(passages: list[Passage]) -> list[Scored]:
    return [
        Scored(Candidate(index, 1.0, passage, ()), 1.0) for index, passage in enumerate(passages)
    ]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), limit=st.integers(0, 12), shared=st.integers(0, 2))
def test_the_first_distinct_windows_are_those_of_the_whole_ranking(
    seed: int, limit: int, shared: int
) -> None:
    rng = random.Random(seed)
    passages = [
        passage
        for number in range(3)
        for passage in make_passages(
            replace(report_of(long_paragraph(rng, rng.randint(2, 30))), id=f"r{number}")
        )
    ]
    rng.shuffle(passages)
    ranked = scored(passages)
    everything = distinct_windows(ranked, shared)
    assert distinct_windows(ranked, shared, limit) == everything[:limit]
    assert distinct_windows(ranked, shared, None) == everything


def check_hits(engine: SearchEngine) -> int:
    """Every hit of the questions quotes what the old widen gave its window; how many hits."""
    windows = {passage.id: passage for passage in engine.passages}
    count = 0
    for question in QUESTIONS:
        for hit in engine.search(question):
            window = windows[hit.passage.id]
            assert window.quote is not None
            assert shown(hit.passage) == shown(widen_as_before(window, hit.report)), question
            count += 1
    return count


def test_hits_are_quoted_as_the_old_widen_quoted_them() -> None:
    report = replace(one_long_paragraph(seed_report()), id="long")
    engine = SearchEngine.build([report, seed_report()])
    assert check_hits(engine) >= len(QUESTIONS)
    widened = [h for q in QUESTIONS for h in engine.search(q) if h.passage.report_id == report.id]
    assert any(len(h.passage.text) > len(engine.passages[0].text) for h in widened)


def test_an_engine_from_the_index_cache_quotes_the_same(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    text = "\n\n".join(one_long_paragraph(seed_report()).paragraphs)
    (folder / "aleppo.md").write_text(f"---\ntitle: Syria Battle\n---\n{text}\n", "utf-8")
    cache = tmp_path / "cache"
    built = SearchEngine.from_path(folder, cache_dir=cache)
    cached = SearchEngine.from_path(folder, cache_dir=cache)
    assert isinstance(cached.passages, StoredColumn), "not loaded from the cache"
    assert [p.quote for p in cached.passages] == [p.quote for p in built.passages]
    assert any(p.quote for p in cached.passages)
    assert check_hits(cached) > 0
    for question in QUESTIONS:
        assert cached.search(question) == built.search(question)
