"""A new user's first test is one file of their own: tiny collections answer from it.

BM25Okapi's idf is 0 or below for a word in half the passages or more, which in one
short report is every word; stage two's evidence then weighed nothing, and everything
was refused.  These hold the one- and three-report folders to "answered in the report's
own words, refused when unrelated", with BM25 and stage two alone and with the semantic
stage (the default), whose not-found rule is the question's best cosine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from retrieval.search import SearchEngine
from retrieval.semantic_stage import SemanticStage

PORT = (
    "Port reopens after storm\n\n"
    "The port of Valmere reopened on Monday after the storm damaged two cranes. "
    "The harbour master said the bridge reopened too, and ferries will run from Tuesday.\n"
)
FARM = (
    "Harvest report\n\n"
    "The wheat harvest reached 12 million tonnes this year, the ministry said. "
    "Rain delayed planting in the north of the country.\n"
)
SCHOOL = (
    "Schools open late\n\n"
    "Schools in the capital will open a week late because of repairs to the port road. "
    "Teachers were told on Friday.\n"
)
UNRELATED = (
    "how do I bake sourdough bread",
    "what is the capital of France",
    "price of Bitcoin",
    "Who won the football match?",
)


EngineOver = Callable[..., SearchEngine]


@pytest.fixture(scope="module")
def stage() -> SemanticStage:
    return SemanticStage(None)


@pytest.fixture(params=["lexical", "semantic"])
def engine_over(request: pytest.FixtureRequest, tmp_path: Path, stage: SemanticStage) -> EngineOver:
    def over(**files: str) -> SearchEngine:
        for name, text in files.items():
            (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
        engine = SearchEngine.from_path(tmp_path)
        if request.param == "lexical":
            return engine
        stage.prepare(engine.corpus)
        return engine.with_semantic(stage)

    return over


@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        ("port", "The port of Valmere reopened"),
        ("bridge reopened", "the bridge reopened too"),
        ("When did the port reopen?", "The port of Valmere reopened"),
        ("ferries", "ferries will run"),
        ("cranes damaged by the storm", "damaged two cranes"),
    ],
)
def test_one_report_answers_in_its_own_words(
    engine_over: EngineOver, question: str, quoted: str
) -> None:
    engine = engine_over(port=PORT)
    hits = engine.search(question)
    assert hits, f"{question!r} was refused over the one report that answers it"
    assert quoted in hits[0].best_sentence


@pytest.mark.parametrize("question", UNRELATED)
def test_one_report_refuses_what_it_does_not_hold(engine_over: EngineOver, question: str) -> None:
    assert engine_over(port=PORT).search(question) == []


@pytest.mark.parametrize(
    ("question", "report"),
    [
        ("How big was the wheat harvest?", "farm"),
        ("Why will schools open late?", "school"),
        ("ferries", "port"),
        # "port" is in two of the three reports: more than half of them.
        ("port", "port"),
        ("port road repairs", "school"),
    ],
)
def test_three_reports_answer_in_their_own_words(
    engine_over: EngineOver, question: str, report: str
) -> None:
    engine = engine_over(port=PORT, farm=FARM, school=SCHOOL)
    hits = engine.search(question)
    assert hits, f"{question!r} was refused"
    assert hits[0].report.id == report


@pytest.mark.parametrize("question", UNRELATED)
def test_three_reports_refuse_what_they_do_not_hold(engine_over: EngineOver, question: str) -> None:
    assert engine_over(port=PORT, farm=FARM, school=SCHOOL).search(question) == []


def test_the_semantic_engines_here_use_the_semantic_stage(
    stage: SemanticStage, tmp_path: Path
) -> None:
    (tmp_path / "port.txt").write_text(PORT, encoding="utf-8")
    engine = SearchEngine.from_path(tmp_path)
    assert not engine.with_semantic(stage).semantic_ready  # nothing embedded yet
    stage.prepare(engine.corpus)
    assert engine.with_semantic(stage).semantic_ready
