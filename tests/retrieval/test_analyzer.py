"""The analyzer: normalisation, tokens, numbers, stopwords, stems and spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.analyzer import Analyzer, AnalyzerSettings
from retrieval.scripts import BIGRAM_RUN

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_cd10308accc684f1.txt"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def test_nfkc_and_casefold_make_variants_equal(analyzer: Analyzer) -> None:
    assert analyzer.tokens("ＷＯＲＬＤ") == analyzer.tokens("world")
    assert analyzer.tokens("ﬁnance") == analyzer.tokens("finance")
    assert analyzer.tokens("STRASSE") == analyzer.tokens("Straße")
    # A composed and a decomposed "é" are the same word.
    assert analyzer.tokens("caf\u00e9") == analyzer.tokens("cafe\u0301")


def test_numbers_stay_whole(analyzer: Analyzer) -> None:
    assert analyzer.tokens("Over 40,000 refugees") == ["40000", "refuge"]
    assert analyzer.tokens("3.5 percent") == ["3.5", "percent"]
    assert analyzer.tokens("1,000.5") == ["1000.5"]
    assert analyzer.tokens("on 19-20 July") == ["19", "20", "juli"]
    assert analyzer.tokens("nearly 1,000 troops") == analyzer.tokens("nearly 1000 troops")


def test_possessives_and_hyphens(analyzer: Analyzer) -> None:
    assert analyzer.tokens("Syria's army") == analyzer.tokens("Syria army")
    assert analyzer.tokens("Syria’s army") == analyzer.tokens("Syria army")
    assert analyzer.tokens("Bashar al-Assad") == ["bashar", "al", "assad"]
    assert analyzer.tokens("the 1990's") == ["1990"]


def test_stopwords_are_removed_and_content_words_stemmed(analyzer: Analyzer) -> None:
    assert analyzer.tokens("The rebels have been fighting in the city") == [
        "rebel",
        "fight",
        "citi",
    ]
    assert analyzer.tokens("don't") == []
    assert analyzer.is_stopword("The")
    assert analyzer.is_stopword("DON’T")
    assert not analyzer.is_stopword("refugees")


def test_same_stem_for_inflections(analyzer: Analyzer) -> None:
    assert analyzer.tokens("recaptured") == analyzer.tokens("recapture")
    assert analyzer.tokens("refugees") == analyzer.tokens("refugee")


def test_all_stopword_query_keeps_its_words(analyzer: Analyzer) -> None:
    assert analyzer.tokens("Who is he?") == []
    assert analyzer.query_tokens("Who is he?") == ["who", "is", "he"]
    assert analyzer.query_tokens("How many refugees?") == ["mani", "refuge"]
    assert analyzer.query_tokens("?! ...") == []


def test_settings_switch_steps_off() -> None:
    plain = Analyzer(AnalyzerSettings(remove_stopwords=False, stem=False))
    assert plain.tokens("The Refugees") == ["the", "refugees"]
    assert plain.fingerprint() != Analyzer().fingerprint()


def test_fingerprint_is_stable_for_equal_settings() -> None:
    assert Analyzer().fingerprint() == Analyzer(AnalyzerSettings()).fingerprint()
    assert len(Analyzer().fingerprint()) == 16


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="klingon"):
        Analyzer(AnalyzerSettings(language="klingon"))


@pytest.mark.parametrize(
    "text",
    [
        "Over 40,000 refugees have already entered camps in Turkey.",
        "ＷＯＲＬＤ ﬁnance: Straße, naïve cafe\u0301 — ½ and Ⅻ, Syria’s 1990’s",
        "İstanbul ǅemal ﬀ ㎞ 한국어 \u1100\u1161\u11a8 end",
    ],
)
def test_spans_point_into_the_original_text(analyzer: Analyzer, text: str) -> None:
    spans = analyzer.spans(text)
    assert [term for term, _, _ in spans] == analyzer.tokens(text)
    previous_start = previous_end = 0
    for term, start, end in spans:
        assert 0 <= start < end <= len(text)
        # "½" yields two terms, one span; bigrams ("한국", "국어") overlap by one character.
        assert start >= previous_end or term.isdigit() or BIGRAM_RUN.fullmatch(term)
        assert start >= previous_start
        previous_start, previous_end = start, end
        # The original slice analyses back to the same term.
        assert term in analyzer.query_tokens(text[start:end]) or term.isdigit()


def test_spans_of_the_seed(analyzer: Analyzer) -> None:
    text = SEED.read_text(encoding="utf-8")
    spans = analyzer.spans(text)
    assert [term for term, _, _ in spans] == analyzer.tokens(text)
    by_term = {term: text[start:end] for term, start, end in spans}
    assert by_term["40000"] == "40,000"
    assert by_term["aleppo"] == "Aleppo"
    assert by_term["assad"] == "Assad"  # "Assad's" highlights the name, not the "'s"


def test_combining_marks_stay_inside_words(analyzer: Analyzer) -> None:
    # "İ" casefolds to "i" + U+0307; the word must not break at the mark.
    assert len(analyzer.tokens("İstanbul")) == 1
    assert analyzer.tokens("İSTANBUL") == analyzer.tokens("İstanbul")


def test_tokens_and_spans_agree_on_real_text(analyzer: Analyzer) -> None:
    # tokens() has its own fast loop; it must give exactly the terms spans() gives.
    text = SEED.read_text(encoding="utf-8") + " Ｔｈｅ naïve 1990’s co-operation 3.5"
    assert analyzer.tokens(text) == [term for term, _, _ in analyzer.spans(text)]
