"""A build analyzes each sentence once and derives the rest (passage and report tokens)
from it; what it builds must be exactly what analyzing every text on its own gives.

The references here are the straightforward analysis the shortcuts replace: every
passage's text and every report's text analyzed whole, every sentence's cues worked out
by the word-by-word rules (a copy of them as they were before they were made faster).
"""

from __future__ import annotations

import itertools
import sys
import unicodedata
from array import array
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.corpus import CorpusSpec, generate
from bot.config import PROJECT_SEEDS
from retrieval import rerank
from retrieval.analyzer import Analyzer, space_separated
from retrieval.answer_types import (
    _CALENDAR_NAMES,
    _NOT_NAMES,
    _NUMBER_WORDS,
    _PLACE_PREPOSITIONS,
    _RELATIVE_DAYS,
    _WORD,
    _YEAR,
    Cues,
    _terms,
    sentence_cues,
)
from retrieval.corpus import Corpus, index_reports, make_corpus, with_language
from retrieval.loader import load_reports
from retrieval.models import Passage, Report
from retrieval.passages import make_passages
from retrieval.rerank_profile import PassageProfile

ANALYZER = Analyzer()
WHEN = datetime(2024, 5, 1, tzinfo=UTC)
SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
# Characters that make tokenizing hard: NFKC and casefold changes, combining marks,
# Hangul jamo that compose, apostrophes, separators inside numbers, every space.
TRICKY = (
    "aZ9_.,'’-ßİﬁＷ½Ⅻ\u00e9e\u0301\u0307\u1100\u1161\u11a8한\u00a0\u2003\u3000\t\n"
    "Ms.Dr.May Monday 1990s 40,000 3.5 one "
)


def reference_cues(sentence: str, analyzer: Analyzer) -> Cues:
    """sentence_cues as it was, word by word."""
    matches = list(_WORD.finditer(sentence))
    if not matches:
        return (frozenset(), frozenset(), frozenset(), frozenset())
    words = [match.group() for match in matches]
    joined = [False] + [
        sentence[a.end() : b.start()].isspace() for a, b in itertools.pairwise(matches)
    ]
    found: tuple[set[str], set[str], set[str], set[str]] = (set(), set(), set(), set())
    numbers, dates, names, places = found
    for position, word in enumerate(words):
        lowered = word.casefold().rstrip(".")
        if word[0].isdigit():
            numbers.update(_terms(word, analyzer))
            if _YEAR.fullmatch(lowered):
                dates.update(_terms(word, analyzer))
            continue
        if lowered in _NUMBER_WORDS:
            numbers.update(_terms(word, analyzer))
        if lowered in _RELATIVE_DAYS or (word[0].isupper() and lowered in _CALENDAR_NAMES):
            dates.update(_terms(word, analyzer))
            continue
        if not word[0].isupper() or lowered in _NOT_NAMES:
            continue
        following = words[position + 1] if position + 1 < len(words) else ""
        if position == 0 and not following[:1].isupper():
            continue
        names.update(_terms(word, analyzer))
        before = position - 1
        while (
            before >= 0
            and joined[before + 1]
            and words[before][:1].isupper()
            and words[before].casefold() not in _NOT_NAMES
        ):
            before -= 1
        if before >= 0 and joined[before + 1] and words[before].casefold() in _PLACE_PREPOSITIONS:
            places.update(_terms(word, analyzer))
    return (frozenset(numbers), frozenset(dates), frozenset(names), frozenset(places))


def reference_profiles(
    passages: Sequence[Passage], tokens: Sequence[Sequence[str]], languages: dict[str, Analyzer]
) -> list[PassageProfile]:
    """rerank's profiles as they were worked out, report by report (`languages`: each
    report id's analyzer)."""
    profiles = []
    pairs = list(zip(passages, tokens, strict=True))
    for report_id, group in itertools.groupby(pairs, key=lambda pair: pair[0].report_id):
        analyzer = languages[report_id]
        of_report = list(group)
        sentence_tokens: dict[str, list[str]] = {}
        for passage, _ in of_report:
            for sentence in passage.sentences:
                sentence_tokens.setdefault(sentence, analyzer.tokens(sentence))
        ordinals = {sentence: i for i, sentence in enumerate(sentence_tokens)}
        counts = Counter(itertools.chain.from_iterable(sentence_tokens.values()))
        for passage, passage_tokens in of_report:
            first = ordinals[passage.sentences[0]] if passage.sentences else 0
            recurring = sum(1 << p for p, t in enumerate(passage_tokens) if counts[t] > 1)
            ends = list(itertools.accumulate(len(sentence_tokens[s]) for s in passage.sentences))
            if not ends or ends[-1] != len(passage_tokens):
                whole = (reference_cues(passage.text, analyzer),)
                profiles.append(PassageProfile.of(passage_tokens, (), first, whole, recurring))
            else:
                each = tuple(reference_cues(s, analyzer) for s in passage.sentences)
                profiles.append(
                    PassageProfile.of(passage_tokens, tuple(ends), first, each, recurring)
                )
    return profiles


def reference_corpus(reports: Sequence[Report]) -> Corpus:
    reports = [with_language(report, ANALYZER) for report in reports]
    # Reports of one id are in one language here.
    languages = {report.id: ANALYZER.for_language(report.language) for report in reports}
    passages = [passage for report in reports for passage in make_passages(report)]
    tokens = tuple(tuple(languages[passage.report_id].tokens(passage.text)) for passage in passages)
    index = {report.id: i for i, report in enumerate(reports)}
    return Corpus(
        reports=tuple(reports),
        passages=tuple(passages),
        passage_tokens=tokens,
        problems=(),
        profiles=tuple(reference_profiles(passages, tokens, languages)),
        passage_reports=array("i", [index[passage.report_id] for passage in passages]),
        report_tokens=tuple(tuple(languages[r.id].tokens(rerank.report_text(r))) for r in reports),
    )


def report(
    report_id: str, *paragraphs: str, title: str = "T", caption: str | None = None
) -> Report:
    return Report(report_id, title, paragraphs, WHEN, caption=caption)


def tricky_reports() -> list[Report]:
    long_word = "x" * 1500  # windows cut inside it: no sentence boundary to derive from
    repeated = " ".join(["Yes, the council met again." for _ in range(40)] + ["No."])
    return [
        report("cut", f"Before it. {long_word} After it.", "A " * 400 + "end."),
        report("repeats", repeated, "Yes. Yes. Yes.", title="Yes."),
        report(
            "unicode",
            "Ｔｈｅ ﬁnance chief said 40,000\u00a0people fled. İstanbul’s mayor agreed.\u2003"
            "Café e\u0301 ½ Ⅻ.\u3000\u0301Odd start. Straße\tand\nlines.",
            title="  Ｕｎｉｃｏｄｅ  ",
            caption="\u0301 A caption. With two sentences.",
        ),
        report("blank", "   ", "", title="", caption="   "),
        # One id twice, the second time after a report without passages: profiled as one.
        report("twice", "Officials in Sri Lanka said 12 died on May 5, 1999."),
        report("empty", ""),
        report("twice", "Police said Ann Varga from Colombo left today."),
        report("twice", "A third report of that id."),
        report("lead", "Zero. One two three four five six seven eight nine ten eleven."),
        report(
            "german",
            "Mehr als 40.000 Flüchtlinge sind in den Lagern angekommen, sagte der Minister. "
            "Die Behörden rechnen mit weiteren Ankünften in den nächsten Tagen.",
            title="Flüchtlinge erreichen die Türkei",
        ),
        report(
            "chinese",
            "据报道，已有两万名难民抵达土耳其的营地。官员说，营地已经人满为患。",
            title="难民抵达土耳其",
        ),
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Report]:
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    corpus = generate(CorpusSpec(passages=1500, questions=10), out)
    return list(load_reports(corpus.reports_dir).reports)


def test_a_build_is_the_straightforward_analysis(generated: list[Report]) -> None:
    reports = list(load_reports(PROJECT_SEEDS).reports) + generated + tricky_reports()
    assert make_corpus(reports, Analyzer(), ()) == reference_corpus(reports)


def test_each_report_alone_too() -> None:
    reports = tricky_reports()
    parts = index_reports(reports, Analyzer())
    assert parts == [reference_corpus([r]) for r in reports]


class Recording(Analyzer):
    """An analyzer that keeps every text it was asked to analyze."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def tokens(self, text: str) -> list[str]:
        self.texts.append(text)
        return super().tokens(text)


def test_only_sentences_and_titles_are_analyzed(generated: list[Report]) -> None:
    # Honesty: the shortcuts must be the usual path, or the tests above prove little.
    analyzer = Recording()
    make_corpus(generated, analyzer, ())
    sentences = {s for r in generated for p in make_passages(r) for s in p.sentences}
    titles = {r.title.strip() for r in generated}
    whole = [t for t in analyzer.texts if t not in sentences and t not in titles and " " in t]
    assert whole == []  # (single words are the cues' names and numbers)
    assert len(analyzer.texts) < 2 * (len(sentences) + len(titles))


text_of = st.text(alphabet=st.sampled_from(TRICKY), max_size=80)


@settings(max_examples=300, deadline=None)
@given(st.lists(text_of, min_size=1, max_size=4), st.sampled_from(["T", "", "Ｔ. x"]))
def test_random_reports(paragraphs: list[str], title: str) -> None:
    reports = [report("r", *paragraphs, title=title, caption=paragraphs[0] or None)]
    assert make_corpus(reports, Analyzer(), ()) == reference_corpus(reports)


@settings(max_examples=500, deadline=None)
@given(st.lists(text_of, min_size=1, max_size=5), st.lists(st.sampled_from(SPACES), min_size=6))
def test_pieces_parted_by_spaces_tokenize_as_the_whole(
    pieces: list[str], spaces: list[str]
) -> None:
    pieces = [piece.strip() for piece in pieces]
    after = spaces[1 : len(pieces) + 1]
    text = spaces[0] + "".join(piece + space for piece, space in zip(pieces, after, strict=True))
    taken = space_separated(text, pieces)
    assert taken == [piece for piece in pieces if piece]
    derived = itertools.chain.from_iterable(ANALYZER.tokens(piece) for piece in taken)
    assert list(derived) == ANALYZER.tokens(text)


def test_space_separated_refuses_what_is_not_made_of_the_pieces() -> None:
    assert space_separated("ab cd", ["ab", "cd"]) == ["ab", "cd"]
    assert space_separated("abcd", ["ab", "cd"]) is None  # nothing between: one word
    assert space_separated("ab cd ef", ["ab", "cd"]) is None  # "ef" left over
    assert space_separated(" ab\u00a0 cd ", ["ab", "ab", "cd"]) == ["ab", "cd"]  # an overlap


def test_no_space_joins_a_neighbour_in_normalization() -> None:
    # What space_separated relies on, checked for each space against the characters
    # most likely to combine: marks, jamo, and a sample of everything else.
    def fold(text: str) -> str:
        return unicodedata.normalize("NFKC", text).casefold()

    neighbours = [chr(c) for c in range(0x0300, 0x0370)] + [chr(c) for c in range(0x1100, 0x1200)]
    neighbours += [chr(c) for c in range(0, 0x30000, 97) if not 0xD800 <= c <= 0xDFFF]
    for space in SPACES:
        assert fold(space).isspace()
        for other in neighbours:
            assert fold(space + other) == fold(space) + fold(other)
            assert fold(other + space) == fold(other) + fold(space)


@settings(max_examples=500, deadline=None)
@given(st.one_of(text_of, st.text(alphabet=st.sampled_from("09azS'’,. -"), max_size=30)))
def test_fast_tokens_are_the_spans_terms(text: str) -> None:
    assert ANALYZER.tokens(text) == [term for term, _, _ in ANALYZER.spans(text)]


@pytest.mark.parametrize(
    "text",
    [
        "1990's 1990'x 18th 40,000.5 3.5.1 a'b'c don't U.S. e.g. x,y 1,00 1,000,0000",
        "O’Neil'S 7's 7’x 12,345,678.9.0 ,5 .5 5. 5, 'quoted' rock'n'roll 2'",
        "Ｏ’Ｎｅｉｌ 1990’s ½ 40,000’s İstanbul'un e\u0301'x",
    ],
)
def test_fast_tokens_on_numbers_and_apostrophes(text: str) -> None:
    assert ANALYZER.tokens(text) == [term for term, _, _ in ANALYZER.spans(text)]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(TRICKY + "ABCMSLxy in of from"), max_size=60))
def test_cues_are_the_word_by_word_rules(sentence: str) -> None:
    assert sentence_cues(sentence, ANALYZER, {}) == reference_cues(sentence, ANALYZER)


def test_cues_of_real_sentences(generated: list[Report]) -> None:
    sentences = [s for r in generated[:150] for p in make_passages(r) for s in p.sentences]
    seed = Path(PROJECT_SEEDS)
    sentences += [
        s for r in load_reports(seed).reports for p in make_passages(r) for s in p.sentences
    ]
    memo: dict[str, list[str]] = {}
    assert [sentence_cues(s, ANALYZER, memo) for s in sentences] == [
        reference_cues(s, ANALYZER) for s in sentences
    ]
