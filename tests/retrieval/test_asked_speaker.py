""" "What did X say?" is answered from a passage where X speaks, or refused; the quote is
attributed to X, never to whoever else speaks in the passage."""

from __future__ import annotations

from retrieval.search import SearchEngine
from tests.conftest import make_report

ALEPPO = make_report(
    "Battle for Aleppo",
    report_id="aleppo",
    paragraphs=(
        '"We hold every district of Aleppo against Assad," said Bashir al-Kheir, an activist.',
        "Troops loyal to President Assad shelled the old city for a third day.",
    ),
)
SPEECH = make_report(
    "Assad speaks",
    report_id="speech",
    paragraphs=(
        'In a televised speech, the president blamed foreign powers. "The war in Aleppo '
        'will end when the terrorists are defeated," Assad said.',
    ),
)
STORM = make_report(
    "Storm on Nantucket",
    report_id="storm",
    paragraphs=('"The surf is definitely big," Emily Chibaro of Nantucket told CNN Radio.',),
)


def test_the_answer_is_a_passage_where_the_person_speaks() -> None:
    engine = SearchEngine.build([ALEPPO, SPEECH, STORM])

    hits = engine.search("What did Assad say about the war in Aleppo?")

    assert hits and hits[0].report.id == "speech"
    assert all(hit.report.id != "aleppo" for hit in hits)  # Assad is named there, not heard
    assert hits[0].speaker == "Assad"


def test_the_speaker_is_the_person_not_the_place() -> None:
    engine = SearchEngine.build([ALEPPO, SPEECH, STORM])

    [hit, *_] = engine.search("What did Emily Chibaro say?")

    assert hit.report.id == "storm" and hit.speaker == "Emily Chibaro"


WATCHED = make_report(
    "Surf on Nantucket",
    report_id="watched",
    paragraphs=(
        '"The surf is huge," said harbour master Tom Reed, while Emily Chibaro watched '
        "the storm from the pier.",
    ),
)


def test_no_passage_where_the_person_speaks_is_not_found() -> None:
    engine = SearchEngine.build([ALEPPO, WATCHED])

    assert engine.search("What did Emily Chibaro say about the surf?") == []
    # The same words, not asking for her words: answered.
    assert engine.search("What happened to the surf at the pier?")


def test_one_word_that_may_be_no_person_is_not_filtered() -> None:
    china = make_report(
        "Tibet",
        report_id="tibet",
        paragraphs=("Beijing has claimed to be the rightful government of Tibet since 1951.",),
    )
    engine = SearchEngine.build([china, STORM])

    [hit] = engine.search("What did China say about Beijing claiming Tibet?")

    assert hit.report.id == "tibet" and hit.speaker is None
