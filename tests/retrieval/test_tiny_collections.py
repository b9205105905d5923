"""A new user's first test is one file of their own: tiny collections answer from it.

BM25Okapi's idf is 0 or below for a word in half the passages or more, which in one
short report is every word; stage two's evidence then weighed nothing, and everything
was refused.  These hold the one- and three-report folders to "answered in the report's
own words, refused when unrelated".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.search import SearchEngine

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


def engine_over(tmp_path: Path, **files: str) -> SearchEngine:
    for name, text in files.items():
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    return SearchEngine.from_path(tmp_path)


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
def test_one_report_answers_in_its_own_words(tmp_path: Path, question: str, quoted: str) -> None:
    engine = engine_over(tmp_path, port=PORT)
    hits = engine.search(question)
    assert hits, f"{question!r} was refused over the one report that answers it"
    assert quoted in hits[0].best_sentence


@pytest.mark.parametrize("question", UNRELATED)
def test_one_report_refuses_what_it_does_not_hold(tmp_path: Path, question: str) -> None:
    assert engine_over(tmp_path, port=PORT).search(question) == []


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
    tmp_path: Path, question: str, report: str
) -> None:
    engine = engine_over(tmp_path, port=PORT, farm=FARM, school=SCHOOL)
    hits = engine.search(question)
    assert hits, f"{question!r} was refused"
    assert hits[0].report.id == report


@pytest.mark.parametrize("question", UNRELATED)
def test_three_reports_refuse_what_they_do_not_hold(tmp_path: Path, question: str) -> None:
    assert engine_over(tmp_path, port=PORT, farm=FARM, school=SCHOOL).search(question) == []
