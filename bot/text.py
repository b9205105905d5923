"""Text shaping shared by every surface (Telegram and the terminal), without Telegram.

What is here is the *shape* of what users read, not its markup: one-line
fields cut at a word with "…", dates as "22 Jul 2012", the names of languages, a
passage cut around its best sentence (`excerpt`), and what a user typed after
/latest.  Telegram HTML is built on top of it in `bot/telegram/html.py`, the
terminal's plain text in `bot/terminal.py`; neither needs the other, and importing
this module never imports python-telegram-bot.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from babel import Locale

from retrieval import topics
from retrieval.models import Report

ELLIPSIS = "…"
# Display caps for one-line fields, so a hostile report cannot crowd out the quote.
TITLE_MAX_CHARS = 300
NAME_MAX_CHARS = 120
# Ranks are 1-based; no surface offers more than this many answers to one question.
MAX_ANSWERS = 5
LATEST_DEFAULT = 5
LATEST_MAX = 20
# A reply for a question in a language no report is in names at most this many of the
# reports' languages, most reports first.
NAMED_LANGUAGES = 5
# Shown when a report has no title (a JSONL line with only text has its first sentence).
UNTITLED = "Untitled report"
FILE_DATE_MARK = "(file date)"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A count typed by a user: at most six digits, so int() is cheap whatever they send.
_COUNT = re.compile(r"[0-9]{1,6}")
# Used when the passage does not list its sentences.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s")


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (JSON escapes such as "\\ud83d" make them) replaced by
    U+FFFD: Telegram refuses any string that is not valid UTF-8, and so do terminals."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary with "…" when longer than `limit`."""
    flat = " ".join(valid_unicode(text).split())
    if len(flat) <= limit:
        return flat
    cut = _cut(flat, 0, limit - 1, ())
    return flat[:cut].rstrip() + ELLIPSIS


def day(moment: datetime) -> str:
    """ "22 Jul 2012": the same in every locale, and unambiguous, unlike 07/22."""
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def language_name(code: str, locale: str = "en") -> str:
    """The name of the language `code` (ISO 639, as `Report.language`) in the language
    `locale`: CLDR's, through Babel ("German"; "Deutsch" in German, "немецкий" in
    Russian), else its English name, else the code itself."""
    return _locale(locale).languages.get(code) or _locale("en").languages.get(code) or code


@functools.cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def format_date(report: Report) -> str:
    """ "22 Jul 2012", marked when it is only the file's modification date."""
    shown = day(report.published)
    return f"{shown} {FILE_DATE_MARK}" if report.published_from_mtime else shown


def parse_count(word: str) -> int | None:
    """A count a user typed (digits only), or None when `word` is not one."""
    return int(word) if _COUNT.fullmatch(word) else None


@dataclass(frozen=True, slots=True)
class LatestRequest:
    """What `/latest [N] [TOPIC]` asks for; `capped` when N was above LATEST_MAX."""

    count: int
    topic: str = ""
    capped: bool = False


def parse_latest(words: Sequence[str]) -> LatestRequest | None:
    """`/latest`, `/latest N`, `/latest TOPIC` or `/latest N TOPIC`; None when N is
    not a count from 1 up, or what follows it has nothing to search for."""
    rest = list(words)
    count = LATEST_DEFAULT
    if rest and (typed := parse_count(rest[0])) is not None:
        if typed < 1:
            return None
        count, rest = typed, rest[1:]
    topic = topics.normalize_topic(" ".join(rest))
    if rest and not topic:
        return None
    return LatestRequest(min(count, LATEST_MAX), topic, capped=count > LATEST_MAX)


# -- cutting a passage around its best sentence ------------------------------------------


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A window of a passage, split around the best sentence (which may be empty)."""

    before: str
    best: str
    after: str
    cut_start: bool
    cut_end: bool


def _sentence_ends(text: str, sentences: Sequence[str]) -> list[int]:
    """Where each sentence of `text` ends, found in order (sentences are exact substrings)."""
    ends: list[int] = []
    at = 0
    for sentence in sentences:
        found = text.find(sentence, at) if sentence else -1
        if found >= 0:
            at = found + len(sentence)
            ends.append(at)
    return ends or [m.end() - 1 for m in _SENTENCE_END.finditer(text)]


def _cut(text: str, start: int, end: int, sentence_ends: Sequence[int]) -> int:
    """An index <= `end` to stop at: a sentence end, else a space, else `end` itself.

    Only boundaries in the last 40% of the window count: a cut further back
    would throw away too much of the quote.
    """
    if end >= len(text):
        return len(text)
    floor = start + (end - start) * 6 // 10
    usable = [e for e in sentence_ends if floor <= e <= end]
    if usable:
        return usable[-1]
    space = text.rfind(" ", floor, end)
    return space if space > floor else end


def _best_span(text: str, best: str) -> tuple[int, int] | None:
    best = best.strip()
    if not best:
        return None
    at = text.find(best)
    if at < 0:
        at = text.casefold().find(best.casefold())
        # casefold can change lengths (ß → ss); only trust it when it did not.
        if at < 0 or len(text.casefold()) != len(text):
            return None
    return at, at + len(best)


def excerpt(text: str, best: str, limit: int, sentences: Sequence[str] = ()) -> Excerpt:
    """At most `limit` characters of `text`, cut at sentence or word boundaries.

    When the passage is too long the window keeps the best sentence in view.
    """
    span = _best_span(text, best)
    start, end = 0, len(text)
    if len(text) > limit:
        ends = _sentence_ends(text, sentences)
        if span is None or span[1] <= limit:
            end = _cut(text, 0, limit, ends)
        else:
            start = span[0]
            end = _cut(text, start, min(len(text), start + limit), ends)
    cut_start, cut_end = start > 0, end < len(text)
    if span is None or span[1] <= start or span[0] >= end:
        return Excerpt(text[start:end].strip(), "", "", cut_start, cut_end)
    bold_start, bold_end = max(span[0], start), min(span[1], end)
    return Excerpt(
        text[start:bold_start].lstrip(),
        text[bold_start:bold_end],
        text[bold_end:end].rstrip(),
        cut_start,
        cut_end,
    )


# -- the short quote and its context -------------------------------------------------------

# What a user reads first: the best sentence, and the one after it when both fit.
SHORT_QUOTE_CHARS = 350


@dataclass(frozen=True, slots=True)
class Quote:
    """A passage as an answer shows it: the short quote (`short`: the best sentence, and
    the sentence after it when the two fit SHORT_QUOTE_CHARS) and the rest of the passage
    around it, `before` and `after` (each "" when there is none), together within the
    limit; `cut_before` / `cut_after` say the passage went on past what is kept."""

    short: Excerpt
    before: str
    after: str
    cut_before: bool
    cut_after: bool


def split_quote(
    text: str,
    best: str,
    limit: int,
    sentences: Sequence[str] = (),
    short_limit: int = SHORT_QUOTE_CHARS,
) -> Quote:
    """`text` cut into the short quote around `best` and the context either side of it,
    at most `limit` characters in all, each cut at a sentence or word boundary."""
    short_limit = min(short_limit, limit)
    span = _best_span(text, best)
    ends = _sentence_ends(text, sentences)
    if span is None:  # no best sentence to show: the passage's start is the quote
        start, end = 0, _cut(text, 0, short_limit, ends)
        short = Excerpt(text[:end].strip(), "", "", False, end < len(text))
    else:
        start, end = span
        if end - start > short_limit:  # one very long sentence: cut inside it
            end = _cut(text, start, start + short_limit, ())
            short = Excerpt("", text[start:end].rstrip(), "", False, True)
        else:
            if start > 0 and _needs_previous(text[start:end]):
                begin = _previous_start(text, start, ends)
                if end - begin <= short_limit:
                    start = begin
            next_ends = [e for e in ends if e > end and text[end:e].strip()]
            if next_ends and next_ends[0] - start <= short_limit:
                end = next_ends[0]
            short = Excerpt(
                text[start : span[0]],
                text[span[0] : span[1]],
                text[span[1] : end].rstrip(),
                False,
                False,
            )
    room = max(0, limit - len(short.before + short.best + short.after))
    before, after = text[:start].strip(), text[end:].strip()
    # The sentence before the quote matters less than the one after: it gets a third.
    keep_before = min(len(before), max(room // 3, room - len(after)))
    kept_before = _tail(before, keep_before)
    kept_after = _head(after, room - len(kept_before))
    return Quote(
        short,
        kept_before,
        kept_after,
        cut_before=len(kept_before) < len(before),
        cut_after=len(kept_after) < len(after),
    )


_REFERS_BACK = frozenset(
    {
        "it",
        "he",
        "she",
        "they",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "its",
        "their",
        "there",
        "such",
    }
)


def _previous_start(text: str, start: int, sentence_ends: Sequence[int]) -> int:
    """Where the sentence before the one at `start` begins."""
    done = [e for e in sentence_ends if e <= start]
    if done and not text[done[-1] : start].strip():
        done.pop()  # that is the end of the previous sentence itself
    begin = done[-1] if done else 0
    return begin + len(text[begin:start]) - len(text[begin:start].lstrip())


def _needs_previous(sentence: str) -> bool:
    """Whether a sentence reads wrong alone: it closes a quotation opened before it (an
    odd number of straight quotes, or a closing curly one first), or opens with a word
    that points back ("It (the new capture) is…")."""
    words = sentence.split(maxsplit=1)
    first = words[0].strip("\"'“‘(").casefold() if words else ""
    curly = [c for c in sentence if c in "“”"]
    return (
        sentence.count('"') % 2 == 1 or (bool(curly) and curly[0] == "”") or first in _REFERS_BACK
    )


def _head(text: str, limit: int) -> str:
    """The start of `text`, at most `limit` characters, cut at a word."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    return text[: cut if cut > 0 else limit].rstrip()


def _tail(text: str, limit: int) -> str:
    """The end of `text`, at most `limit` characters, cut at a word."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    start = len(text) - limit
    space = text.find(" ", start)
    return text[space + 1 if 0 <= space < len(text) - 1 else start :].lstrip()
