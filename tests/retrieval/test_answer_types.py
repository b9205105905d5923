"""Question kinds and the answer cues of a sentence."""

from __future__ import annotations

import pytest

from retrieval.analyzer import Analyzer
from retrieval.answer_types import (
    NO_CUES,
    AnswerKind,
    question_kind,
    sentence_cues,
    without_question_words,
)

ANALYZER = Analyzer()


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many refugees have entered camps in Turkey?", AnswerKind.NUMBER),
        ("how much is Eastwood's bail", AnswerKind.NUMBER),
        ("What percentage of the vote did he get?", AnswerKind.NUMBER),
        # The first rule wins: a count is asked for, "when" only sets the scene.
        ("How many people died when the bridge fell?", AnswerKind.NUMBER),
        ("When did Patz disappear?", AnswerKind.DATE),
        ("In what year was the treaty signed?", AnswerKind.DATE),
        ("Who commands the rebels in Aleppo province?", AnswerKind.NAME),
        ("Paul Burrell was employed as butler by whom?", AnswerKind.NAME),
        ("What is the name of the sheriff's show?", AnswerKind.NAME),
        ("Where did Arthur C. Clarke die?", AnswerKind.PLACE),
        ("Which country was Bongo the leader of?", AnswerKind.PLACE),
        ("What did Faiz Amr say about the border crossings?", None),
        ("Why does my cat knead blankets?", None),
    ],
)
def test_question_kind(question: str, kind: AnswerKind | None) -> None:
    assert question_kind(question) == kind


def test_numbers_are_whole_and_number_words_count() -> None:
    numbers, _, _, _ = sentence_cues(
        "Over 40,000 refugees and two dozen aid workers crossed, 2.5 times more.", ANALYZER
    )
    assert {"40000", "2.5", "two", "dozen"} <= numbers


def test_dates_need_a_capital_except_relative_days() -> None:
    _, dates, _, _ = sentence_cues("Etan vanished on May 25, 1979, and was seen today.", ANALYZER)
    assert {"may", "1979", "today"} <= dates
    _, dates, _, _ = sentence_cues("Officials said they may leave soon.", ANALYZER)
    assert dates == frozenset()


def test_names_skip_a_lone_capital_at_the_start_and_clause_words() -> None:
    _, _, names, _ = sentence_cues("Police said the convoy left.", ANALYZER)
    assert names == frozenset()
    _, _, names, _ = sentence_cues(
        "Barack Obama met Col. Abdul-Jabbar Mohammed Aqidi, but The talks failed.", ANALYZER
    )
    assert {"barack", "obama", "aqidi", "moham"} <= names
    assert "the" not in names and "but" not in names


def test_places_follow_a_place_preposition() -> None:
    _, _, names, places = sentence_cues(
        "He died at a hospital in Colombo, Sri Lanka, Chase said.", ANALYZER
    )
    assert {"colombo", "chase"} <= names
    assert "colombo" in places
    assert "chase" not in places


def test_a_sentence_without_words_has_no_cues() -> None:
    assert sentence_cues("…", ANALYZER) == NO_CUES


@pytest.mark.parametrize(
    ("question", "language", "kind"),
    [
        ("Wie viele Flüchtlinge sind angekommen?", "de", AnswerKind.NUMBER),
        ("¿Cuándo abrió la fábrica?", "es", AnswerKind.DATE),
        ("Qui a gagné la finale ?", "fr", AnswerKind.NAME),
        ("Где начались пожары?", "ru", AnswerKind.PLACE),
        ("كم عدد اللاجئين؟", "ar", AnswerKind.NUMBER),
        ("有多少难民抵达土耳其？", "zh", AnswerKind.NUMBER),
        ("誰が選ばれましたか？", "ja", AnswerKind.NAME),
        # Other languages' words mean nothing in an English question, and the other way.
        ("What about Qui Nhon?", "en", None),
        ("Where is Wer?", "en", AnswerKind.PLACE),
        ("How many?", "de", None),
    ],
)
def test_question_kind_in_other_languages(
    question: str, language: str, kind: AnswerKind | None
) -> None:
    assert question_kind(question, language) == kind


def test_the_words_that_only_ask_are_dropped_in_other_languages() -> None:
    assert without_question_words("Wie viele Flüchtlinge?", "de").split() == ["flüchtlinge?"]
    assert without_question_words("渝昆高铁全长多少公里？", "zh") == "渝昆高铁全长 公里？"
    english = "How many refugees?"
    assert without_question_words(english, "en") == english
