"""Pure: an RSS or Atom document (bytes) → reports, one per entry.

feedparser does the parsing (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, broken XML
included); this module decides what a report is made of:

* title: the entry's title (HTML stripped), else derived from its text;
* text: the entry's content, else its summary, HTML turned into paragraphs
  with the standard library's `html.parser`; an entry with neither is its title;
* source: the feed's title (else the feed's host); url: the entry's link;
* published: the entry's publication (else update) date, else `fetched_at`.

Each entry has a `key` (its guid, else its link) that identifies it within
its feed across fetches and restarts, and a `digest` of what the report shows,
which changes when the entry is updated.  An entry belongs to the feed it came
from: its report id is made from the feed's URL and the key, so two feeds that
use the same guid never share, or overwrite, a report.  One entry that cannot
be made into a report is skipped (`ParsedFeed.skipped` says which and why);
the others are kept.  No I/O here: the poller fetches the bytes.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from retrieval.errors import RetrievalError
from retrieval.formats import clean_text, derive_title, split_paragraphs
from retrieval.models import Report

REPORT_ID_PREFIX = "feed-"
TITLE_MAX_CHARS = 300
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class FeedFormatError(RetrievalError):
    """The document is not an RSS or Atom feed (an HTML page, garbage, an empty body)."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    key: str
    report: Report
    digest: str


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    entries: tuple[FeedEntry, ...]
    # Set when the markup is broken and feedparser only salvaged what it could:
    # the entries found are kept, but the response is not one to remember.
    malformed: str | None = None
    # One line per entry that could not be made into a report: which one, and why.
    skipped: tuple[str, ...] = ()


def report_id(feed_url: str, key: str) -> str:
    """The id of the report made from entry `key` of the feed configured as `feed_url`."""
    return REPORT_ID_PREFIX + hashlib.sha256(f"{feed_url}\n{key}".encode()).hexdigest()[:20]


def parse_feed(
    data: bytes,
    url: str,
    *,
    fetched_at: datetime,
    content_type: str | None = None,
    feed_url: str | None = None,
) -> ParsedFeed:
    """Parse one fetched document; raises FeedFormatError when it holds no feed.

    `url` is where the document came from (relative links are resolved against
    it); `feed_url`, the feed as configured (default: `url`), is what the entries
    belong to, however the document was reached.
    """
    feed_url = feed_url or url
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # Imported here: a fifth of the bot's own imports, and a restart answers before any
    # feed is read.
    import feedparser
    from feedparser.exceptions import ThingsNobodyCaresAboutButMe

    # A file object, never bytes or str: feedparser would treat a str as a URL to
    # fetch and a short bytes body as a file name to open.
    parsed: Any = feedparser.parse(io.BytesIO(_safe_charrefs(data)), response_headers=headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    # Encoding and content-type quibbles are not broken markup.
    malformed = None if isinstance(problem, ThingsNobodyCaresAboutButMe | None) else str(problem)
    if not parsed.entries and (malformed or not parsed.get("version")):
        reason = f" ({malformed})" if malformed else ""
        raise FeedFormatError(
            f"{url} did not return an RSS or Atom feed{reason}; check the address in FEEDS"
        )
    feed_title = _plain(parsed.feed.get("title", ""), parsed.feed.get("title_detail"))
    source = feed_title or urlsplit(url).hostname or url
    entries: dict[str, FeedEntry] = {}
    skipped: list[str] = []
    for number, raw in enumerate(parsed.entries, 1):
        try:
            entry = entry_report(raw, feed_url, source, fetched_at)
        except Exception as error:  # one odd entry must not cost the feed its others
            skipped.append(f"entry {number} ({_describe(raw)}): {type(error).__name__}: {error}")
            continue
        if entry is not None and entry.key not in entries:
            entries[entry.key] = entry
    return ParsedFeed(feed_title or None, tuple(entries.values()), malformed, tuple(skipped))


def _describe(raw: Mapping[str, Any]) -> str:
    for field in ("id", "link", "title"):
        value = " ".join(str(raw.get(field) or "").split())
        if value:
            return f"{field} {value[:120]!r}"
    return "no guid, link or title"


# A numeric character reference to a surrogate or past U+10FFFF makes feedparser
# raise on the whole document; as U+FFFD it costs one odd character instead.
_CHARREF = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]+)|0*([0-9]+));")


def _safe_charrefs(data: bytes) -> bytes:
    def fix(match: re.Match[bytes]) -> bytes:
        hexadecimal, decimal = match.groups()
        # Past 6 hex or 7 decimal digits it is out of range (and int() of a huge
        # decimal string would refuse).
        if len(hexadecimal or b"") > 6 or len(decimal or b"") > 7:
            return b"&#xFFFD;"
        code = int(hexadecimal, 16) if hexadecimal else int(decimal or b"0")
        return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match[0]

    return _CHARREF.sub(fix, data)


def entry_report(
    raw: Mapping[str, Any], feed_url: str, source: str, fetched_at: datetime
) -> FeedEntry | None:
    """One feedparser entry as a report, or None when it holds nothing to show."""
    # Control characters (a NUL from a broken CMS) must never reach a Telegram message.
    paragraphs = tuple(p for p in (clean_text(p).strip() for p in _entry_paragraphs(raw)) if p)
    title = clean_text(_plain(raw.get("title", ""), raw.get("title_detail")))
    if not title and paragraphs:
        title = derive_title(paragraphs[0])
    if not title and not paragraphs:
        return None
    title = title[:TITLE_MAX_CHARS]
    link = clean_text(str(raw.get("link") or "")).strip() or None
    key = entry_key(raw, feed_url, title)
    dated = _entry_date(raw)
    report = Report(
        id=report_id(feed_url, key),
        title=title,
        paragraphs=paragraphs or (title,),
        published=dated or fetched_at,
        source=clean_text(source),
        url=link,
    )
    # The fallback date is not part of the digest: refetching an undated entry
    # must not look like an update.
    shown = [report.title, list(report.paragraphs), link, dated.isoformat() if dated else None]
    digest = hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()
    return FeedEntry(key, report, digest)


def entry_key(raw: Mapping[str, Any], feed_url: str, title: str) -> str:
    """The guid (or Atom id), else the link, else the title: the entry within its feed.

    The key only has to be unique within one feed: the store and the report id
    pair it with the feed's URL.  A bare guid ("1234") or a title is prefixed
    with the feed's URL all the same, as state files from version 1 hold them.
    """
    guid = str(raw.get("id") or "").strip()
    if guid:
        return guid if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", guid) else f"{feed_url}#{guid}"
    link = str(raw.get("link") or "").strip()
    if link:
        return link
    return f"{feed_url}#title:{hashlib.sha256(title.encode()).hexdigest()[:20]}"


def _entry_paragraphs(raw: Mapping[str, Any]) -> tuple[str, ...]:
    contents: Sequence[Mapping[str, Any]] = raw.get("content") or ()
    candidates = [(str(c.get("value") or ""), c.get("type")) for c in contents]
    if not any(value.strip() for value, _ in candidates):
        detail = raw.get("summary_detail") or {}
        candidates = [(str(raw.get("summary") or ""), detail.get("type"))]
    value, kind = max(candidates, key=lambda candidate: len(candidate[0]))
    if kind in _HTML_TYPES or (kind is None and "<" in value):
        return html_to_paragraphs(value)
    return tuple(" ".join(p.split()) for p in split_paragraphs(value.replace("\r", "")))


def _entry_date(raw: Mapping[str, Any]) -> datetime | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(field)
        if isinstance(value, time.struct_time):
            # feedparser gives UTC struct_times; timegm reads them as UTC.
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _plain(text: str, detail: Mapping[str, Any] | None) -> str:
    """A one-line title: markup removed when the feed says it is HTML."""
    kind = (detail or {}).get("type")
    if kind in _HTML_TYPES:
        text = " ".join(html_to_paragraphs(text))
    return " ".join(str(text).split())


# -- HTML → paragraphs ------------------------------------------------------------------

# Tags that end a paragraph; everything else (a, b, em, span…) flows inline.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
# Tags whose content is never text for a reader.
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title", "svg"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._hidden = 0
        self._breaks = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag == "br":
            # One <br> is a line break inside the paragraph; two in a row end it.
            self._breaks += 1
            if self._breaks >= 2:
                self._end_paragraph()
            else:
                self._current.append(" ")
        elif tag in _BLOCK_TAGS:
            self._end_paragraph()
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._hidden:
                self._current.append(f" {alt} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HIDDEN_TAGS:  # <script/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self._end_paragraph()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if data.strip():
            self._breaks = 0
        self._current.append(data)

    def close(self) -> None:
        super().close()
        self._end_paragraph()

    def _end_paragraph(self) -> None:
        self._breaks = 0
        text = " ".join("".join(self._current).split())
        self._current = []
        if text:
            self.paragraphs.append(text)


def html_to_paragraphs(markup: str) -> tuple[str, ...]:
    """The text a reader sees in `markup`, one string per paragraph, whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return tuple(collector.paragraphs)
