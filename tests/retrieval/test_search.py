"""The search engine over real report files: the seed examples and the engine's contract."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import PROJECT_SEEDS
from retrieval.models import MAX_QUOTE_CHARS, Report
from retrieval.search import SearchEngine, SearchSettings
from tests.conftest import make_report


@pytest.fixture(scope="module")
def seeds() -> SearchEngine:
    return SearchEngine.from_path(PROJECT_SEEDS)


@pytest.mark.parametrize(
    ("question", "quote_start"),
    [
        ("How many refugees have entered camps in Turkey?", "Over 40,000 refugees"),
        ("Who commands the rebels in Aleppo province?", "The commander of Syrian rebels"),
        ("Which districts of Damascus were recaptured?", "In Damascus, Assad's forces"),
        ("What did Faiz Amr say about the border crossings?", '"Seizing the border crossings'),
    ],
)
def test_seed_questions_quote_the_answering_paragraph(
    seeds: SearchEngine, question: str, quote_start: str
) -> None:
    hits = seeds.search(question)
    assert hits, f"not found: {question}"
    assert hits[0].quote.startswith(quote_start)
    assert hits[0].report.title == "Syria Battle"


def test_seed_answer_names_the_quoted_speaker(seeds: SearchEngine) -> None:
    hit = seeds.search("What did Faiz Amr say about the border crossings?")[0]
    assert hit.speaker is not None and "Faiz Amr" in hit.speaker


def test_commander_paragraph_names_aqidi(seeds: SearchEngine) -> None:
    hit = seeds.search("Who commands the rebels in Aleppo province?")[0]
    assert "Col. Abdul-Jabbar Mohammed Aqidi" in hit.quote


def test_districts_paragraph_names_mezzeh_and_barzeh(seeds: SearchEngine) -> None:
    hit = seeds.search("Which districts of Damascus were recaptured?")[0]
    assert "Mezzeh and Barzeh" in hit.quote


@pytest.mark.parametrize(
    "question",
    [
        "How do I bake sourdough bread?",
        "quantum chromodynamics lattice",
        "",
        "   ",
        "?!",
        "Who is he?",
    ],
)
def test_questions_the_reports_cannot_answer_are_not_found(
    seeds: SearchEngine, question: str
) -> None:
    assert seeds.search(question) == []


def test_hits_carry_attribution_and_the_answering_sentence(seeds: SearchEngine) -> None:
    hit = seeds.search("How many refugees have entered camps in Turkey?")[0]
    assert hit.rank == 1 and hit.score > 0
    assert hit.best_sentence in hit.quote
    assert "refugees" in hit.best_sentence and "40,000" in hit.best_sentence
    assert hit.report.id == "000_cd10308accc684f1"
    assert len(hit.quote) <= MAX_QUOTE_CHARS


def test_the_best_sentence_is_the_quoted_sentence_that_holds_the_question(
    seeds: SearchEngine,
) -> None:
    hit = seeds.search("Which districts of Damascus were recaptured?")[0]
    assert len(hit.passage.sentences) > 1, "the quote should give a choice of sentences"
    assert hit.best_sentence in hit.passage.sentences
    assert all(word in hit.best_sentence for word in ("districts", "Damascus", "recaptured"))


def test_more_hits_are_ranked_distinct_passages(seeds: SearchEngine) -> None:
    hits = seeds.search("Aleppo rebels border Turkey", top=5)
    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert len({hit.passage.id for hit in hits}) == len(hits)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_latest_lists_newest_first(tmp_path: Path) -> None:
    def report(report_id: str, day: int) -> Report:
        return make_report(
            f"Report {report_id}",
            paragraphs=(f"Paragraph about topic {report_id}.",),
            report_id=report_id,
            published=datetime(2024, 5, day, tzinfo=UTC),
        )

    engine = SearchEngine.build([report("a", 1), report("b", 3), report("c", 2)])
    assert [r.id for r in engine.latest(2)] == ["b", "c"]
    assert engine.newest_date() == datetime(2024, 5, 3, tzinfo=UTC)


def test_example_questions_come_from_the_reports(seeds: SearchEngine) -> None:
    examples = seeds.example_questions(2)
    assert len(examples) == 2
    # Each example must itself be answerable: that is what makes it a good example.
    assert all(seeds.search(example) for example in examples)


def test_both_backends_give_identical_hits(seeds: SearchEngine) -> None:
    reference = SearchEngine.from_path(PROJECT_SEEDS, SearchSettings(backend="rank-bm25"))
    for question in ("Aleppo rebels", "refugees camps Turkey", "Assad forces Damascus"):
        fast = [(h.passage.id, h.score) for h in seeds.search(question, top=5)]
        slow = [(h.passage.id, h.score) for h in reference.search(question, top=5)]
        assert fast == slow


def test_cached_index_serves_the_same_answers_and_notices_changes(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "wheat.md").write_text(
        "---\ntitle: Harvest\n---\nThe wheat harvest reached 12 million tonnes.\n\n"
        "Rain delayed planting in the north.\n",
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    first = SearchEngine.from_path(reports, cache_dir=cache)
    again = SearchEngine.from_path(reports, cache_dir=cache)
    question = "How big was the wheat harvest?"
    assert [h.quote for h in again.search(question)] == [h.quote for h in first.search(question)]
    assert any(cache.rglob("*")), "the index was not cached"

    (reports / "port.jsonl").write_text(
        json.dumps({"text": "The harbour reopened after the storm."}) + "\n", encoding="utf-8"
    )
    updated = SearchEngine.from_path(reports, cache_dir=cache)
    assert len(updated.reports) == 2
    assert updated.search("When did the harbour reopen?")


@pytest.mark.parametrize(
    ("question", "subject"),
    [("What happened in Aleppo?", "aleppo"), ("What is the news from Damascus?", "damascus")],
)
def test_a_broad_question_is_answered_from_a_passage_about_its_subject(
    seeds: SearchEngine, question: str, subject: str
) -> None:
    hits = seeds.search(question)
    assert hits, f"{question!r} was refused"
    assert subject in hits[0].best_sentence.casefold()


@pytest.mark.parametrize("question", ["What happened to the sourdough?", "What happened?"])
def test_a_broad_question_about_nothing_the_reports_hold_is_refused(
    seeds: SearchEngine, question: str
) -> None:
    assert seeds.search(question) == []


def test_a_copy_with_other_stages_shares_what_the_corpus_gives(seeds: SearchEngine) -> None:
    # Made once per engine (over a million passages a tenth of a second of a restart).
    question = "How many refugees have reached camps in Turkey?"
    hits = seeds.search(question)
    copy = seeds.with_semantic(None)
    assert copy._reports_by_id is seeds._reports_by_id
    assert copy.corpus is seeds.corpus
    assert copy._spelling is seeds._spelling
    assert [h.passage.id for h in copy.search(question)] == [h.passage.id for h in hits]
