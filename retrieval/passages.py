"""Reports → passages: the caption, each paragraph, or windows of a long paragraph.

Windows hold whole sentences (`retrieval.sentences`) and carry the speaker of
their quotation (`retrieval.speakers`); `widen` grows a hit's window for quoting.
What widen needs depends only on the report, so `make_passages` works it out once,
at index time, and packs it into the passage (`Passage.quote`: a few offsets, not a
second copy of the text); a question only slices the report's paragraph.
"""

from __future__ import annotations

import bisect
import itertools
import math
import struct
from collections.abc import Sequence
from dataclasses import replace

from retrieval.models import MAX_QUOTE_CHARS, Passage, Report
from retrieval.records import maker
from retrieval.sentences import sentence_spans, strip_span
from retrieval.speakers import find_speaker

MAX_PASSAGE_CHARS = 600

# A packed quote: the paragraph's index, the quote's start and end in it, where the
# window starts in the quote and how many sentences the quote holds, then each sentence's
# start and end in the quote (a quote is at most MAX_QUOTE_CHARS long: two bytes each),
# then the quote's speaker in UTF-8 when the window itself names none.
_QUOTE_HEADER = struct.Struct("<IIIHH")
# Joins the paragraphs for one search over all of them: no window holds it, so no match
# runs across two paragraphs (a window that does hold it is looked for paragraph by one).
_SEPARATOR = "\x00"

Span = tuple[int, int]

_make_passage = maker(Passage)


def make_passages(report: Report) -> list[Passage]:
    """The caption (position 0, when present), then each paragraph or its windows."""
    passages: list[Passage] = []
    if report.caption:
        caption = report.caption
        for start, end, sentences in _windows(caption, sentence_spans(caption)):
            text = caption[start:end]
            passages.append(
                Passage(
                    report_id=report.id,
                    position=len(passages),
                    text=text,
                    sentences=sentences,
                    speaker=find_speaker(text),
                    is_caption=True,
                    quote=b"",  # widen leaves a caption as it is
                )
            )
    quotes = _Quotes(report.paragraphs)
    pages = report.pages
    for index, paragraph in enumerate(report.paragraphs):
        for start, end, sentences in _windows(paragraph, quotes.spans(index)):
            text = paragraph[start:end]
            speaker = find_speaker(text)
            passages.append(
                Passage(
                    report_id=report.id,
                    position=len(passages),
                    text=text,
                    sentences=sentences,
                    speaker=speaker,
                    page=pages[index] if index < len(pages) else None,
                    quote=quotes.pack(text, index, start, speaker),
                )
            )
    return passages


def widen(passage: Passage, report: Report, limit: int = MAX_QUOTE_CHARS) -> Passage:
    """The passage grown by whole neighbouring sentences of its paragraph while it
    fits in `limit` characters: following sentences first, then preceding ones.

    Windows are cut at MAX_PASSAGE_CHARS for indexing, but a quote may be up to
    MAX_QUOTE_CHARS, and the sentence after the one that matched is where the
    answer often is (docs/quality.md, "Widened quotes").  The result is still an
    exact span of the report: that of the passage's text where it first occurs in
    the report's paragraphs.  A caption, or a passage whose paragraph cannot be
    found, comes back unchanged.

    A passage from `make_passages` carries its quote, packed at index time; one made
    otherwise, or another limit, is widened by searching the report.
    """
    if passage.quote is not None and limit == MAX_QUOTE_CHARS:
        unpacked = _unpack(passage, report)
        if unpacked is not None:
            return unpacked
    return _widen_by_search(passage, report, limit)


def _widen_by_search(passage: Passage, report: Report, limit: int) -> Passage:
    if passage.is_caption:
        return passage
    for paragraph in report.paragraphs:
        at = paragraph.find(passage.text)
        if at >= 0:
            break
    else:
        return passage
    spans = sentence_spans(paragraph)
    start, end = _grown(spans, at, at + len(passage.text), limit)
    text = paragraph[start:end]
    if text == passage.text:
        return passage
    sentences = tuple(paragraph[a:b] for a, b in spans if a >= start and b <= end)
    return replace(
        passage,
        text=text,
        sentences=sentences,
        speaker=passage.speaker or find_speaker(text),
        quote=b"",
    )


def _grown(spans: Sequence[Span], start: int, end: int, limit: int) -> Span:
    """text[start:end] grown by whole sentences (`spans`) within `limit`, following first."""
    for first, last in spans:
        if first >= end:
            if last - start > limit:
                break
            end = last
    for first, last in reversed(spans):
        if last <= start:
            if end - first > limit:
                break
            start = first
    return start, end


def _unpack(passage: Passage, report: Report) -> Passage | None:
    """The quote packed in `passage` (see _QUOTE_HEADER), cut from `report`; None when
    it does not fit the report (a passage of another version of it)."""
    packed = passage.quote
    if not packed:
        return passage
    index, start, end, window, count = _QUOTE_HEADER.unpack_from(packed)
    if index >= len(report.paragraphs):
        return None
    text = report.paragraphs[index][start:end]
    if not text.startswith(passage.text, window):
        return None
    offsets = struct.unpack_from(f"<{2 * count}H", packed, _QUOTE_HEADER.size)
    sentences = tuple([text[offsets[i] : offsets[i + 1]] for i in range(0, 2 * count, 2)])
    named = packed[_QUOTE_HEADER.size + 4 * count :]
    # A frozen dataclass's __init__ (let alone dataclasses.replace) takes longer than
    # the rest of this function; the record maker sets the slots directly.
    return _make_passage(
        passage.report_id,
        passage.position,
        text,
        sentences,
        passage.speaker or (named.decode("utf-8", "surrogatepass") if named else None),
        passage.is_caption,
        passage.page,
        b"",
    )


class _Quotes:
    """What `widen` would make of each window of one report's paragraphs, worked out as
    make_passages cuts them, reusing its sentence splits."""

    def __init__(self, paragraphs: Sequence[str]) -> None:
        self._paragraphs = paragraphs
        self._spans: dict[int, list[Span]] = {}
        self._joined: str | None = None
        self._starts: list[int] = []
        # Overlapping windows often grow into the same quote: its speaker is found once.
        self._speakers: dict[tuple[int, int, int], str | None] = {}

    def spans(self, index: int) -> list[Span]:
        """The sentence spans of paragraph `index`, split once."""
        spans = self._spans.get(index)
        if spans is None:
            spans = self._spans[index] = sentence_spans(self._paragraphs[index])
        return spans

    def pack(self, text: str, index: int, start: int, speaker: str | None) -> bytes:
        """The packed quote of the window `text`, cut at `start` of paragraph `index`."""
        found = self._first(text, index, start)
        if found == (index, 0) and len(text) == len(self._paragraphs[index]):
            return b""  # a whole paragraph has no sentence outside it to grow by
        index, start = found
        paragraph = self._paragraphs[index]
        spans = self.spans(index)
        begin, end = _grown(spans, start, start + len(text), MAX_QUOTE_CHARS)
        if (begin, end) == (start, start + len(text)):
            return b""
        inside = [(a - begin, b - begin) for a, b in spans if a >= begin and b <= end]
        named = b""
        if not speaker:
            key = (index, begin, end)
            if key not in self._speakers:
                self._speakers[key] = find_speaker(paragraph[begin:end])
            # A JSON escape such as "\ud83d" leaves a lone surrogate in a report's text.
            named = (self._speakers[key] or "").encode("utf-8", "surrogatepass")
        header = _QUOTE_HEADER.pack(index, begin, end, start - begin, len(inside))
        offsets = struct.pack(f"<{2 * len(inside)}H", *(x for span in inside for x in span))
        return header + offsets + named

    def _first(self, text: str, index: int, start: int) -> Span:
        """(paragraph, offset) of the first occurrence of `text` in the paragraphs, which
        is where widen's search finds it: the window's own place, or an earlier one."""
        paragraphs = self._paragraphs
        if len(paragraphs) == 1:
            return 0, paragraphs[0].find(text, 0, start + len(text))
        if _SEPARATOR in text:
            for number, paragraph in enumerate(paragraphs[: index + 1]):
                at = paragraph.find(text)
                if at >= 0:
                    return number, at
        if self._joined is None:
            self._joined = _SEPARATOR.join(paragraphs)
            self._starts = list(
                itertools.accumulate((len(p) + 1 for p in paragraphs[:-1]), initial=0)
            )
        own = self._starts[index] + start
        at = self._joined.find(text, 0, own + len(text))
        number = bisect.bisect_right(self._starts, at) - 1
        return number, at - self._starts[number]


def _windows(paragraph: str, spans: Sequence[Span]) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, sentences) of each passage cut from one paragraph, whose sentence
    spans are `spans`.

    Windows hold whole sentences and overlap so that every two adjacent
    sentences share at least one window whenever they fit in one together.
    """
    units = _units(paragraph, spans)
    if not units:
        return []
    if units[-1][1] - units[0][0] <= MAX_PASSAGE_CHARS:
        return [(units[0][0], units[-1][1], tuple(paragraph[s:e] for s, e in units))]
    ranges: list[tuple[int, int]] = []
    first = 0
    while True:
        last = first
        while last + 1 < len(units) and units[last + 1][1] - units[first][0] <= MAX_PASSAGE_CHARS:
            last += 1
        ranges.append((first, last))
        if last == len(units) - 1:
            break
        # Next window starts after the middle of this one, yet early enough to hold
        # the pair (last, last + 1); if even `last` alone cannot, no overlap is possible.
        following = max(first + 1, (first + last) // 2 + 1)
        while following <= last and units[last + 1][1] - units[following][0] > MAX_PASSAGE_CHARS:
            following += 1
        first = following
    return [
        (units[a][0], units[b][1], tuple(paragraph[s:e] for s, e in units[a : b + 1]))
        for a, b in ranges
    ]


def _units(paragraph: str, spans: Sequence[Span]) -> list[Span]:
    """Sentence spans, with any sentence too long for a passage cut into pieces."""
    units: list[Span] = []
    for start, end in spans:
        if end - start <= MAX_PASSAGE_CHARS:
            units.append((start, end))
        else:
            units.extend(_cut_at_words(paragraph, start, end))
    return units


def _cut_at_words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut text[start:end] at spaces into pieces of at most MAX_PASSAGE_CHARS, of even size."""
    pieces_needed = math.ceil((end - start) / MAX_PASSAGE_CHARS)
    target = math.ceil((end - start) / pieces_needed)
    pieces: list[tuple[int, int]] = []
    position = start
    while end - position > MAX_PASSAGE_CHARS:
        cut = _last_space(text, position, position + target)
        if cut is None:
            cut = _last_space(text, position, position + MAX_PASSAGE_CHARS)
        if cut is None:  # one enormous "word" (a URL, a table row): cut it anyway
            cut = position + MAX_PASSAGE_CHARS
        pieces.append(strip_span(text, position, cut))
        position = strip_span(text, cut, end)[0]
    pieces.append(strip_span(text, position, end))
    return [(s, e) for s, e in pieces if s < e]


def _last_space(text: str, start: int, limit: int) -> int | None:
    """Index of the last whitespace in text(start, limit], or None."""
    for index in range(min(limit, len(text) - 1), start, -1):
        if text[index].isspace():
            return index
    return None
