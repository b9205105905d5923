"""Reports → passages: the caption, each paragraph, or windows of a long paragraph.

Windows hold whole sentences (`retrieval.sentences`) and carry the speaker of
their quotation (`retrieval.speakers`); `widen` grows a hit's window for quoting.
"""

from __future__ import annotations

import math
from dataclasses import replace

from retrieval.models import MAX_QUOTE_CHARS, Passage, Report
from retrieval.sentences import sentence_spans, strip_span
from retrieval.speakers import find_speaker

MAX_PASSAGE_CHARS = 600


def make_passages(report: Report) -> list[Passage]:
    """The caption (position 0, when present), then each paragraph or its windows."""
    blocks: list[tuple[str, bool, int | None]] = []
    if report.caption:
        blocks.append((report.caption, True, None))
    pages = report.pages
    blocks.extend(
        (paragraph, False, pages[index] if index < len(pages) else None)
        for index, paragraph in enumerate(report.paragraphs)
    )
    passages: list[Passage] = []
    for block, is_caption, page in blocks:
        for start, end, sentences in _windows(block):
            text = block[start:end]
            passages.append(
                Passage(
                    report_id=report.id,
                    position=len(passages),
                    text=text,
                    sentences=sentences,
                    speaker=find_speaker(text),
                    is_caption=is_caption,
                    page=page,
                )
            )
    return passages


def widen(passage: Passage, report: Report, limit: int = MAX_QUOTE_CHARS) -> Passage:
    """The passage grown by whole neighbouring sentences of its paragraph while it
    fits in `limit` characters: following sentences first, then preceding ones.

    Windows are cut at MAX_PASSAGE_CHARS for indexing, but a quote may be up to
    MAX_QUOTE_CHARS, and the sentence after the one that matched is where the
    answer often is (docs/quality.md, "Widened quotes").  The result is still an
    exact span of the report; a caption, or a passage whose paragraph cannot be
    found, comes back unchanged.
    """
    if passage.is_caption:
        return passage
    for paragraph in report.paragraphs:
        start = paragraph.find(passage.text)
        if start >= 0:
            break
    else:
        return passage
    end = start + len(passage.text)
    spans = sentence_spans(paragraph)
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
    text = paragraph[start:end]
    if text == passage.text:
        return passage
    sentences = tuple(paragraph[a:b] for a, b in spans if a >= start and b <= end)
    return replace(
        passage, text=text, sentences=sentences, speaker=passage.speaker or find_speaker(text)
    )


def _windows(paragraph: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, sentences) of each passage cut from one paragraph.

    Windows hold whole sentences and overlap so that every two adjacent
    sentences share at least one window whenever they fit in one together.
    """
    units = _units(paragraph)
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


def _units(paragraph: str) -> list[tuple[int, int]]:
    """Sentence spans, with any sentence too long for a passage cut into pieces."""
    units: list[tuple[int, int]] = []
    for start, end in sentence_spans(paragraph):
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
