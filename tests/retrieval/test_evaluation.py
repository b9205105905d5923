"""Scoring eval outcomes: which quote holds an answer, and whether the bold sentence does."""

from __future__ import annotations

from retrieval.evaluation import Outcome, Question, summarize
from tests.conftest import make_hit

LEAD = "The council met on Monday."
ANSWER = "It approved 12 new bridges."
QUOTE = f"{LEAD} {ANSWER}"


def outcome(answers: tuple[str, ...], *hits_best: str) -> Outcome:
    hits = tuple(make_hit(QUOTE, best, rank=rank) for rank, best in enumerate(hits_best, start=1))
    return Outcome(Question("q", "How many bridges?", answers), hits, 0.001)


def test_the_bold_sentence_counts_only_when_it_holds_the_answer_itself() -> None:
    # The quote holds "12" either way; only the second outcome puts it in bold.
    lead_in_bold = outcome(("12 new",), LEAD)
    answer_in_bold = outcome(("12 NEW",), ANSWER)  # case does not matter
    assert lead_in_bold.answer_rank == 1 and not lead_in_bold.bold_holds_answer
    assert answer_in_bold.answer_rank == 1 and answer_in_bold.bold_holds_answer
    assert not outcome(("12",)).bold_holds_answer  # refused: nothing in bold


def test_the_summary_gives_the_bold_sentence_share_of_answerable_questions() -> None:
    outcomes = [
        outcome(("12",), ANSWER),
        outcome(("12",), LEAD),
        outcome(("12",), LEAD),
        outcome(("12",), ANSWER),
        outcome((), LEAD),  # off-topic: not counted in the share
    ]
    summary = summarize(outcomes, passages=1, build_seconds=0.0)
    assert summary["bold_sentence_at_1"] == 0.5
    assert summary["recall_at_1"] == 1.0


def test_blank_answers_never_match() -> None:
    assert outcome(("  ",), ANSWER).answer_rank is None
    assert not outcome(("",), ANSWER).bold_holds_answer
