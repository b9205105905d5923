"""Sentence splitting: every sentence is an exact substring of its text, so quotes stay
verbatim.  A leaf module: it imports nothing from the rest of the package."""

from __future__ import annotations

import re


def word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of `words`, for the word lists here and in speakers."""
    return frozenset(words.split())


# A run of terminators, then any closing quotes or brackets.  Besides the Latin ones:
# Arabic's question mark and full stop (؟ ۔), Devanagari's danda (।), and the full-width
# terminators of Chinese and Japanese (。！？), which no space follows.  The lookahead
# names every first character at once: without it, the regex engine tries each
# alternative at every position of the text, four times slower.
_TERMINATOR = re.compile(
    r"(?=[.!?…؟۔।。！？])(?:[.!?]+|…|[؟۔।]+|(?P<wide>[。！？]+))[\"”’')\]」』）]*"
)
_OPENERS = "\"“‘'([«"

# Titles written before a name: a period after them never ends a sentence.
_TITLES = word_set(
    "mr mrs ms messrs dr prof col gen lt sgt capt maj cpl pvt adm cmdr brig gov sen rep "
    "rev hon pres supt det insp st mt ft fr jr sr vs v e.g i.e cf approx dept"
)
_MONTHS = word_set("jan feb mar apr jun jul aug sep sept oct nov dec")
# Company suffixes: they end a sentence only when a usual sentence opener follows.
_COMPANY = word_set("inc corp ltd co bros plc llc")
# Words that usually open a sentence; after "U.S." or "a.m." they mean a new sentence.
_SENTENCE_OPENERS = word_set(
    """the a an he she it they we i you his her its their our this that these those there
    but and or so yet if when while after before as at in on for from by with since then
    however meanwhile still now some many most all both no not one two three what who why
    how where which officials police"""
)
_INITIALS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each an exact substring, in order."""
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, in order, surrounding whitespace left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _TERMINATOR.finditer(text):
        end = match.end()
        wide = match.group("wide") is not None and end < len(text)
        if wide or _ends_sentence(text, match.start(), end):
            spans.append(strip_span(text, start, end))
            start = end
    spans.append(strip_span(text, start, len(text)))
    return [(s, e) for s, e in spans if s < e]


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span text[start:end] without its leading and trailing whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _ends_sentence(text: str, term_start: int, term_end: int) -> bool:
    """Does the terminator at text[term_start:term_end] end a sentence?"""
    if term_end >= len(text) or not text[term_end].isspace():
        return False  # "1,000.5", "U.S.-led", "J.K.Rowling", or the very end
    following = term_end
    while following < len(text) and text[following].isspace():
        following += 1
    while following < len(text) and text[following] in _OPENERS:
        following += 1
    if following >= len(text):
        return False
    first = text[following]
    caseless = first.isalpha() and not first.islower() and not first.isupper()
    if not (first.isupper() or first.isdigit() or caseless):
        return False  # '"Why?" he asked' or a lowercase continuation
    if caseless:
        return True  # Arabic, Hebrew, Devanagari…: no capital marks the next sentence
    if text[term_start:term_end] != ".":
        return True  # "!", "?", "...", '."' all end a sentence before a capital
    word = _word_before(text, term_start)
    next_word = _word_after(text, following)
    lowered = word.lower()
    if lowered in _TITLES:
        return False
    if lowered in _MONTHS or (word == "No" and first.isdigit()):
        return not first.isdigit()  # "Jan. 5", "No. 10"
    if lowered in _COMPANY or _INITIALS.fullmatch(word):
        # "U.S. Army", "J.K. Rowling", "10 a.m. Monday" go on; "the U.S. The ..." ends.
        return next_word.lower() in _SENTENCE_OPENERS
    return True


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in _OPENERS:
        start -= 1
    return text[start:end]


def _word_after(text: str, start: int) -> str:
    end = start
    while end < len(text) and (text[end].isalnum() or text[end] in "'’-"):
        end += 1
    return text[start:end]
