"""The three frozen records that flow from the loader to the renderer.

`Report` is one news report as loaded from disk, `Passage` is the unit we
index and quote, and `Hit` is one ranked answer to a question.  Nothing here
does I/O, so every layer (retrieval, bot, CLI, tests) can share them freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retrieval.sentences import split_sentences

# The longest quote we ever show; passages are built to fit inside it.
MAX_QUOTE_CHARS = 700


@dataclass(frozen=True, slots=True)
class Report:
    """One news report.

    `published` is always timezone-aware (UTC when the source gave no zone).
    When the report carried no date at all we fall back to the file's
    modification time and set `published_from_mtime` so the UI can say so.
    `pages` is, for a paged document (a PDF), the page each paragraph starts on,
    parallel to `paragraphs`; empty for reports without pages.
    `language` is an ISO 639 code ("de"): from the report's metadata, else detected
    when the report is indexed (retrieval.corpus); None when it cannot be told.

    Fields are only ever added at the end, with a default: the index cache
    stores records by field order.
    """

    id: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    published_from_mtime: bool = False
    source: str | None = None
    url: str | None = None
    caption: str | None = None
    caption_credit: str | None = None
    path: str | None = None
    author: str | None = None
    pages: tuple[int, ...] = ()
    language: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def first_sentence(self) -> str:
        for paragraph in self.paragraphs:
            sentences = split_sentences(paragraph)
            if sentences:
                return sentences[0]
        return ""


@dataclass(frozen=True, slots=True)
class Passage:
    """A quotable span of a report: a caption, a paragraph or a window of one.

    `position` orders passages within their report (the caption, when there
    is one, is position 0).  `text` is exactly as the report has it and is
    never longer than MAX_QUOTE_CHARS.  `page` is the page of a paged document
    (a PDF) the passage's paragraph starts on, counted from 1.

    `quote` is the passage's widened quote (`retrieval.passages.widen`), worked out
    when the report was cut into passages and packed as a few offsets into the
    report: b"" when the quote is the passage itself, None when it was never worked
    out (a passage made by hand), and widen then searches the report.

    Fields are only ever added at the end, with a default: the index cache
    stores records by field order.
    """

    report_id: str
    position: int
    text: str
    sentences: tuple[str, ...]
    speaker: str | None = None
    is_caption: bool = False
    page: int | None = None
    quote: bytes | None = None

    @property
    def id(self) -> str:
        return f"{self.report_id}#{self.position}"


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked answer: the passage, the report it came from and its best sentence."""

    rank: int
    score: float
    passage: Passage
    report: Report
    best_sentence: str

    @property
    def quote(self) -> str:
        return self.passage.text[:MAX_QUOTE_CHARS]

    @property
    def speaker(self) -> str | None:
        return self.passage.speaker


def hit_as_dict(hit: Hit) -> dict[str, object]:
    """The JSON shape of a hit shared by `search --json` and `eval --output`.

    Other tools read these field names: keep them.
    """
    report = hit.report
    return {
        "rank": hit.rank,
        "score": hit.score,
        "quote": hit.quote,
        "best_sentence": hit.best_sentence,
        "speaker": hit.speaker,
        "page": hit.passage.page,
        "report": {
            "id": report.id,
            "title": report.title,
            "source": report.source,
            "published": report.published.isoformat(),
            "url": report.url,
            "author": report.author,
        },
    }
