"""Spelling correction of unknown query terms: the distance, the limits, the engine."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import PROJECT_SEEDS
from retrieval.analyzer import Analyzer
from retrieval.search import SearchEngine
from retrieval.spelling import (
    DEFAULT_LIMITS,
    SpellingCorrector,
    SpellingLimits,
    _codes,
    distances_within,
)

NEWS = (
    "Rebels in Libya said the government expected more refugees to reach the border, "
    "and the president thanked the neighbouring countries for their help."
)


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook table (the reference)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def corrector(text: str = NEWS, limits: SpellingLimits = DEFAULT_LIMITS) -> SpellingCorrector:
    analyzer = Analyzer()
    tokens = analyzer.tokens(text)
    return SpellingCorrector(frozenset(tokens), lambda term: tokens.count(term), limits)


def stem(word: str) -> str:
    (term,) = Analyzer().tokens(word)
    return term


@given(
    st.text(alphabet="abcé", min_size=1, max_size=7),
    st.lists(st.text(alphabet="abcé", min_size=3, max_size=3), min_size=1, max_size=20),
    st.integers(min_value=0, max_value=3),
)
def test_distances_match_the_textbook_table(word: str, terms: list[str], limit: int) -> None:
    rows, distances = distances_within(word, _codes(terms, 3), limit)
    expected = [(i, osa(word, t)) for i, t in enumerate(terms) if osa(word, t) <= limit]
    assert [(int(r), int(d)) for r, d in zip(rows, distances, strict=True)] == expected


def test_a_typo_becomes_the_known_stem() -> None:
    speller = corrector()
    assert speller.correct([stem("rebels"), stem("exptected")]) == [stem("rebels"), "expect"]
    assert speller.correction(stem("refugeees")) == stem("refugees")


def test_two_edits_only_for_long_words_unless_told() -> None:
    assert corrector().correction("lybia") == "lybia"  # two edits in five letters
    allowed = SpellingLimits(two_edits_from=5, same_last_letter=False)
    assert corrector(limits=allowed).correction("lybia") == stem("Libya")


def test_short_far_known_and_numeric_terms_are_left_alone() -> None:
    speller = corrector("The tea was hot in the 1990s and in 1991.")
    assert speller.correction("teh") == "teh"  # too short to guess
    assert corrector().correction("zebra") == "zebra"  # nothing close
    assert corrector().correction("border") == "border"  # known
    assert speller.correction("1992") == "1992"


def test_first_and_last_letters_must_match_unless_told() -> None:
    # "outer" is one edit from "router", but nobody mistypes a word's first letter.
    speller = corrector("The outer wall.")
    assert speller.correction("router") == "router"
    loose = SpellingLimits(same_first_letter=False, same_last_letter=False)
    assert corrector("The outer wall.", loose).correction("router") == "outer"


def test_ties_go_to_the_commoner_term() -> None:
    speller = corrector("cart cart cart card")
    assert speller.correction("carst") == "cart"


@pytest.fixture(scope="module")
def seeds() -> SearchEngine:
    return SearchEngine.from_path(PROJECT_SEEDS)


def test_a_misspelt_question_gets_the_answer_of_the_right_spelling(seeds: SearchEngine) -> None:
    right = seeds.search("How many refugees have entered camps in Turkey?")
    typo = seeds.search("How many refugeees have entered camps in Turkye?")
    assert right
    assert [h.passage.id for h in typo] == [h.passage.id for h in right]
    strict = seeds.with_rerank(replace(seeds.settings.rerank, spelling=None))
    assert [h.passage.id for h in strict.search("How many refugeees entered Turkye?")] != [
        h.passage.id for h in right
    ]
