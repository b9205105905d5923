"""What kind of answer a question asks for, and which words of a sentence could be one.

"How many refugees…?" wants a number, "When…?" a date, "Who…?" a name and
"Where…?" a place.  A sentence that holds such a word *besides* the words of
the question is more likely to be the answer than one that only repeats the
question.  Both sides are cheap surface rules (no models): a question's kind
comes from its wh-phrase, a sentence's cues from digits, number words,
month and weekday names, and capitalised words.

Cues are kept as analyzer terms so the ranker can drop the ones the
question itself contains ("How many of the 40,000 …" does not make 40,000 an
answer).
"""

from __future__ import annotations

import itertools
import re
from enum import IntEnum
from typing import Final

from retrieval.analyzer import Analyzer


class AnswerKind(IntEnum):
    """The kinds of answer we can spot; the value indexes `Cues`."""

    NUMBER = 0
    DATE = 1
    NAME = 2
    PLACE = 3


# A sentence's cue terms, one frozenset per AnswerKind, in AnswerKind order.
Cues = tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]

_NONE: Final[frozenset[str]] = frozenset()
NO_CUES: Final[Cues] = (_NONE, _NONE, _NONE, _NONE)

_Rules = tuple[tuple["AnswerKind", re.Pattern[str]], ...]

# First matching rule wins: "how many people died when…" asks for a number.
_QUESTION_RULES: Final[_Rules] = (
    (
        AnswerKind.NUMBER,
        re.compile(
            r"\bhow (?:many|much|long|old|far|big|tall|often|large|high|fast|deep|heavy)\b"
            r"|\bwhat (?:percentage|percent|number|age|amount|sum|proportion|share|price|cost)\b"
            r"|\bnumber of\b|\bamount of\b"
        ),
    ),
    (
        AnswerKind.DATE,
        re.compile(r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time|decade|century)\b"),
    ),
    (
        AnswerKind.NAME,
        re.compile(
            r"\bwho(?:m|se)?\b|\b(?:what|which) (?:person|man|woman|company|group|team|"
            r"organi[sz]ation|band|actor|actress|singer|president|leader)\b|\bname\b"
        ),
    ),
    (
        AnswerKind.PLACE,
        re.compile(
            r"\bwhere\b|\b(?:what|which) (?:city|country|state|town|province|nation|region|"
            r"place|continent|county|area|island)\b"
        ),
    ),
)


def _rules(number: str, date: str, name: str, place: str) -> _Rules:
    kinds = (AnswerKind.NUMBER, AnswerKind.DATE, AnswerKind.NAME, AnswerKind.PLACE)
    words = (number, date, name, place)
    return tuple((kind, re.compile(w)) for kind, w in zip(kinds, words, strict=True) if w)


# The question words of other languages, for questions in them (the cues are the same
# everywhere: digits, capitals).  Chinese and Japanese have no spaces: no \b there.
_OTHER_RULES: Final[dict[str, _Rules]] = {
    "de": _rules(
        r"\bwie (?:viele?|lange|alt|weit|hoch|oft|groß|teuer)\b|\bwieviele?\b",
        r"\bwann\b|\bseit wann\b",
        r"\bwer\b|\bwen\b|\bwem\b|\bwessen\b",
        r"\bwo(?:hin|her)?\b",
    ),
    "es": _rules(r"\bcu[aá]nt[oa]s?\b", r"\bcu[aá]ndo\b", r"\bqui[eé]n(?:es)?\b", r"\bd[oó]nde\b"),
    "pt": _rules(r"\bquant[oa]s?\b", r"\bquando\b", r"\bquem\b", r"\bonde\b"),
    "fr": _rules(r"\bcombien\b", r"\bquand\b", r"^\W*qui\b|\bqui est\b", r"\boù\b"),
    "it": _rules(r"\bquant[oiae]\b", r"\bquando\b", r"\bchi\b", r"\bdove\b"),
    "ru": _rules(r"\bсколько\b", r"\bкогда\b", r"\bкто\b|\bкого\b|\bкому\b", r"\bгде\b|\bкуда\b"),
    "ar": _rules(
        r"(?:^|\s)كم(?:\s|$)", r"(?:^|\s)متى(?:\s|$)", r"^\W*من(?:\s|$)", r"(?:^|\s)أين(?:\s|$)"
    ),
    "zh": _rules(
        r"多少|几[个名人天年次位]|多久|多长|多大|多高",
        r"什么时候|何时|哪一?年|哪天",
        r"谁",
        r"哪里|哪儿|在哪",
    ),
    "ja": _rules(
        r"何人|いくつ|いくら|何[件台回]|どのくらい", r"いつ|何年|何日", r"誰|だれ", r"どこ"
    ),
}


def question_kind(question: str, language: str = "en") -> AnswerKind | None:
    """The kind of answer `question` (in `language`, an ISO code) asks for, or None when
    its question words do not say."""
    lowered = question.casefold()
    rules = _QUESTION_RULES if language == "en" else _OTHER_RULES.get(language, ())
    for kind, pattern in rules:
        if pattern.search(lowered):
            return kind
    return None


def without_question_words(question: str, language: str) -> str:
    """`question` without the question words of `language`'s rules ("Wie viele", "多少"):
    they ask, and a report rarely holds them.  English's stay: its stopwords already
    leave out "how" and "many", and its rules' nouns ("what price") say what is asked."""
    rules = _OTHER_RULES.get(language, ())
    for _, pattern in rules:
        question = pattern.sub(" ", question.casefold())
    return question


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NUMBER_WORDS: Final = _words(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred hundreds thousand thousands million millions billion billions
    trillion dozen dozens half percent"""
)
# Months and weekdays count only capitalised ("May 25", not "may"); these always count.
_CALENDAR_NAMES: Final = _words(
    """january february march april may june july august september october november
    december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday
    thursday friday saturday sunday"""
)
_RELATIVE_DAYS: Final = _words("yesterday today tonight")
# Prepositions that put a capitalised word in a place: "in Colombo", "from Canada".
_PLACE_PREPOSITIONS: Final = _words("in at from near to into across outside inside of")
# Capitalised only because they open a clause or are titles, not names themselves.
_NOT_NAMES: Final = _words(
    """the a an he she it they we i you his her its their our this that these those there
    but and or so yet if when while after before as at in on for from by with since then
    however meanwhile mr mrs ms dr"""
)
# Numbers whole ("40,000", "2.5"), then words with inner apostrophes, dots or hyphens.
_WORD: Final = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?[^\W_]*|[^\W_](?:[\w'’.-]*[^\W_])?")
_YEAR: Final = re.compile(r"(?:1[5-9]|20)\d\ds?")


# What a word can be, worked out once per distinct word (`_kind`): bits of a mask.
_DIGIT: Final = 1  # starts with a digit: a number
_YEAR_LIKE: Final = 2  # and reads as a year: a date too
_NUMBER_WORD: Final = 4
_DATE_WORD: Final = 8  # a relative day, or a capitalised month or weekday
_CAPITALISED: Final = 16  # capitalised and not a date nor a word in _NOT_NAMES: a name?
_KINDS: dict[str, int] = {}
_MAX_KINDS: Final = 200_000  # distinct words remembered before starting again
# _WORD with its match captured, so split() gives each word and what lies between; and
# the same for ASCII text, where it is faster ([^\W_] is [a-zA-Z0-9], no ’ can occur).
_WORD_SPLIT: Final = re.compile(f"({_WORD.pattern})")
_ASCII_WORD_SPLIT: Final = re.compile(
    r"([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?[a-zA-Z0-9]*|[a-zA-Z0-9](?:[a-zA-Z0-9_'.-]*[a-zA-Z0-9])?)"
)


def sentence_cues(
    sentence: str, analyzer: Analyzer, memo: dict[str, list[str]] | None = None
) -> Cues:
    """The analyzer terms in `sentence` that could answer each kind of question.

    `memo` (word -> terms) may be shared between calls with the same analyzer to
    save re-analyzing words that recur, as names and numbers do in a report.
    """
    memo = {} if memo is None else memo

    def terms_of(word: str) -> list[str]:
        terms = memo.get(word)
        if terms is None:
            terms = memo[word] = _terms(word, analyzer)
        return terms

    # [before, word, between, word, ..., word, after]: at index 2k, what lies between
    # words k-1 and k.
    parts = (_ASCII_WORD_SPLIT if sentence.isascii() else _WORD_SPLIT).split(sentence)
    if len(parts) == 1:
        return NO_CUES
    words = parts[1::2]
    if len(_KINDS) > _MAX_KINDS:
        _KINDS.clear()
    kinds: list[int | None] = list(map(_KINDS.get, words))
    if None in kinds:
        kinds = [
            _kind(word) if kind is None else kind for word, kind in zip(words, kinds, strict=True)
        ]
    numbers: set[str] = set()
    dates: set[str] = set()
    names: set[str] = set()
    places: set[str] = set()
    # Most words are none of these: only the others are looked at.
    for position in itertools.compress(range(len(words)), kinds):
        word, kind = words[position], kinds[position] or 0
        if kind & _DIGIT:
            terms = terms_of(word)
            numbers.update(terms)
            if kind & _YEAR_LIKE:
                dates.update(terms)
            continue
        if kind & _NUMBER_WORD:
            numbers.update(terms_of(word))
        if kind & _DATE_WORD:
            dates.update(terms_of(word))
            continue
        if not kind & _CAPITALISED:
            continue
        # A sentence's first word is capitalised anyway: a name only when a
        # capitalised word follows ("Barack Obama said…", not "Police said…").
        if position == 0 and not (len(words) > 1 and words[1][:1].isupper()):
            continue
        terms = terms_of(word)
        names.update(terms)
        if _in_place_phrase(words, parts, position):
            places.update(terms)
    if not (numbers or dates or names or places):
        return NO_CUES
    # One empty set for all: over a million sentences, a new one each is hundreds of MB.
    return (_frozen(numbers), _frozen(dates), _frozen(names), _frozen(places))


def _frozen(terms: set[str]) -> frozenset[str]:
    return frozenset(terms) if terms else _NONE


def _kind(word: str) -> int:
    """`word`'s bits of _DIGIT … _CAPITALISED, remembered in _KINDS."""
    lowered = word.casefold().rstrip(".")
    if word[0].isdigit():
        kind = _DIGIT | (_YEAR_LIKE if _YEAR.fullmatch(lowered) else 0)
    else:
        upper = word[0].isupper()
        kind = _NUMBER_WORD if lowered in _NUMBER_WORDS else 0
        if lowered in _RELATIVE_DAYS or (upper and lowered in _CALENDAR_NAMES):
            kind |= _DATE_WORD
        elif upper and lowered not in _NOT_NAMES:
            kind |= _CAPITALISED
    _KINDS[word] = kind
    return kind


def _terms(word: str, analyzer: Analyzer) -> list[str]:
    """The word's analyzer terms; a stopword ("one"?) keeps its plain folded form."""
    return analyzer.tokens(word) or [word.casefold()]


def _in_place_phrase(words: list[str], parts: list[str], position: int) -> bool:
    """Is words[position] in a capitalised run ("Sri Lanka") right after a place
    preposition?  Punctuation ends a run: in "in Colombo, Chase said" Chase is no place.
    `parts` is the sentence split at its words: parts[2k] lies between words k-1 and k."""

    def joined(k: int) -> bool:  # only spaces between words k-1 and k: they can be one name
        return k > 0 and parts[2 * k].isspace()

    before = position - 1
    while (
        before >= 0
        and joined(before + 1)
        and words[before][:1].isupper()
        and words[before].casefold() not in _NOT_NAMES
    ):
        before -= 1
    return before >= 0 and joined(before + 1) and words[before].casefold() in _PLACE_PREPOSITIONS
