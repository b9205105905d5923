"""Pure parser: a PDF report → `Report`, through pypdf, with the page of each paragraph.

A PDF holds positioned lines, not paragraphs, so they are rebuilt: a line
starts a new paragraph after a vertical gap wider than the usual line spacing,
a change of font size (a heading), or a short line that ends a sentence; a
word hyphenated at a line's end is joined again ("infor-" + "mation").  Lines
repeated at the top or bottom of most pages (running headers and footers) and
page numbers ("3", "Page 3 of 9", "- 3 -") are dropped.  The title comes from
the document's metadata or else its first line, the date from its metadata.

A scan (pages with no text layer), a truncated file and an encrypted one raise
ValueError with one sentence saying so; so does anything else pypdf cannot read.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from retrieval.formats import MAX_TITLE_LINE_CHARS, clean_text, document_report
from retrieval.models import Report

# Bounds on what one file may cost, whatever it claims to hold.
MAX_PAGES = 2_000
MAX_TEXT_CHARS = 5_000_000
# Where running headers and footers are looked for: this many lines at each end of a page.
_EDGE_LINES = 2
# A line further below the previous one than this many line spacings starts a paragraph.
_PARAGRAPH_GAP = 1.3
# A line ending a sentence shorter than this share of a full line ends its paragraph.
_SHORT_LINE = 0.7
_FONT_CHANGE = 0.5  # points

_PAGE_NUMBER = re.compile(
    r"^(?:(?:page|p\.|seite|página|pagina)\s*)?[-–—(\[]?\s*\d{1,5}\s*[-–—)\]]?"
    r"(?:\s*(?:of|/|von|de|di)\s*\d{1,5})?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
# D:YYYYMMDDHHmmSS followed by Z, or +HH'mm', or nothing (PDF 32000-1, 7.9.4).
_PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?"
    r"(?:(Z)|([+-])(\d{2})'?(?:(\d{2})'?)?)?"
)
# Metadata titles that name a file or a template, not the report.
_JUNK_TITLE = re.compile(
    r"^(?:untitled|microsoft word - .*|.*\.(?:docx?|pdf|indd|odt|rtf|txt))$", re.IGNORECASE
)


class _Unusable(ValueError):
    """What is wrong with the file, in one sentence for the log and /problems."""


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    y: float | None  # the baseline's height on the page, in points; None when unknown
    size: float | None  # the font size as drawn, in points


def parse_pdf(data: bytes, *, report_id: str, path: str, mtime: datetime) -> Report:
    """The text of a PDF's pages as paragraphs, each with the page it starts on."""
    # pypdf recovers what it can from a cut-off file, which would pass half a report for all
    # of it; a complete PDF ends with %%EOF (readers look for it in the last 1024 bytes).
    if b"%PDF-" not in data[:1024]:
        raise _Unusable("not a PDF: the file does not start with %PDF-")
    if b"%%EOF" not in data[-1024:]:
        raise _Unusable(
            "truncated PDF: the file ends before its end-of-file marker; copy or download it again"
        )
    try:
        pages, info = _read(data)
    except _Unusable:
        raise
    except Exception as error:  # pypdf raises many kinds on broken input
        detail = " ".join(str(error).split())[:160]
        raise _Unusable(
            f"not a readable PDF ({type(error).__name__}: {detail}); save or export it again"
        ) from error
    if not any(pages):
        raise _Unusable(
            "no text layer: needs OCR (its pages are images of text); run it through OCR "
            "and save it with a text layer"
        )
    pages = _drop_running_lines(pages)
    paragraphs, starts = _paragraphs(pages)
    if not paragraphs:
        raise _Unusable("no text: its pages hold only page numbers, headers and footers")
    title = _clean(info.get("/Title"))
    if title and _JUNK_TITLE.match(title):
        title = None
    if title and _same(paragraphs[0], title) and len(paragraphs) > 1:
        paragraphs, starts = paragraphs[1:], starts[1:]
    elif not title and len(paragraphs[0]) <= MAX_TITLE_LINE_CHARS and len(paragraphs) > 1:
        title, paragraphs, starts = paragraphs[0], paragraphs[1:], starts[1:]
    published = _pdf_date(info.get("/CreationDate")) or _pdf_date(info.get("/ModDate"))
    return document_report(
        paragraphs,
        report_id=report_id,
        path=path,
        mtime=mtime,
        title=title,
        published=published,
        author=_clean(info.get("/Author")),
        pages=starts,
        language=info.get("/Lang"),
    )


def _read(data: bytes) -> tuple[list[list[_Line]], dict[str, object]]:
    """Each page's lines (at most MAX_PAGES pages, MAX_TEXT_CHARS characters) and the
    document information dictionary."""
    # Imported here: start-up should not pay for pypdf when the folder holds no PDF.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            # An empty user password (only copying or printing restricted) opens anywhere.
            opened = bool(reader.decrypt(""))
        except DependencyError as error:  # AES needs the optional cryptography package
            raise _Unusable(
                "encrypted PDF (AES) that cannot be opened here; save a copy without encryption"
            ) from error
        if not opened:
            raise _Unusable(
                "encrypted PDF: it needs a password to open; save a copy without a password"
            )
    pages: list[list[_Line]] = []
    chars = 0
    for number, page in enumerate(reader.pages, start=1):
        if number > MAX_PAGES or chars > MAX_TEXT_CHARS:
            break
        try:
            lines = _page_lines(page)
        except Exception as error:
            raise _Unusable(
                f"page {number} cannot be read ({type(error).__name__}); save or export it again"
            ) from error
        chars += sum(len(line.text) for line in lines)
        pages.append(lines)
    return pages, _metadata(reader)


def _metadata(reader: Any) -> dict[str, object]:
    """The document information dictionary, and the catalog's /Lang; a broken one costs
    the title, date and language only."""
    try:
        info = reader.metadata
        fields = {str(key): info[key] for key in info} if info is not None else {}
    except Exception:
        fields = {}
    try:  # the catalog's /Lang, the document's natural language
        language = reader.trailer["/Root"].get("/Lang")
        if language is not None:
            fields["/Lang"] = str(language)
    except Exception:
        pass
    return fields


def _page_lines(page: Any) -> list[_Line]:
    """The page's lines as pypdf extracts them, each with where it stands and its size."""
    chunks: list[tuple[str, float, float]] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], font: Any, size: Any) -> None:
        if text:
            # The text matrix times the current transformation matrix places the text.
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            chunks.append((text, float(y), float(size or 0) * scale))

    text = page.extract_text(visitor_text=visit)
    if _squeeze("".join(chunk for chunk, _, _ in chunks)) != _squeeze(text):
        # The pieces do not add up to the page (pypdf joined them otherwise): keep its
        # text, without positions.
        return [_Line(t, None, None) for t in (_clean(raw) for raw in text.split("\n")) if t]
    lines: list[_Line] = []
    parts: list[str] = []
    y: float | None = None
    size: float | None = None

    def close() -> None:
        line = _clean("".join(parts))
        if line:
            lines.append(_Line(line, y, size))
        parts.clear()

    for chunk, chunk_y, chunk_size in chunks:
        for index, piece in enumerate(chunk.split("\n")):
            if index:
                close()
                y = size = None
            if piece.strip() and y is None:
                y, size = chunk_y, chunk_size
            parts.append(piece)
    close()
    return lines


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Pages without their page numbers and the lines repeated at their top or bottom."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_shape(line.text) for line in _edges(lines)})
    # On most pages, and never on one page alone: a short report's first line is no header.
    needed = max(2, math.ceil(0.5 * len(pages)))
    running = {shape for shape, count in counts.items() if count >= needed}
    kept: list[list[_Line]] = []
    for lines in pages:
        edges = {id(line) for line in _edges(lines)}
        kept.append(
            [
                line
                for line in lines
                if id(line) not in edges
                or not (_PAGE_NUMBER.match(line.text) or _shape(line.text) in running)
            ]
        )
    return kept


def _edges(lines: list[_Line]) -> list[_Line]:
    if len(lines) <= 2 * _EDGE_LINES:
        return lines
    return lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]


def _shape(text: str) -> str:
    """A line with its numbers blanked, so "Report 2024 · page 3" matches on every page."""
    return _DIGITS.sub("#", text.casefold())


def _paragraphs(pages: list[list[_Line]]) -> tuple[list[str], list[int]]:
    """The paragraphs rebuilt from the lines, and the page (from 1) each starts on."""
    every = [line for lines in pages for line in lines]
    if not every:
        return [], []
    lengths = sorted(len(line.text) for line in every)
    full = lengths[min(len(lengths) - 1, int(0.8 * len(lengths)))]
    spacing = _usual_spacing(pages)
    paragraphs: list[str] = []
    starts: list[int] = []
    current = ""
    previous: _Line | None = None
    for number, lines in enumerate(pages, start=1):
        for index, line in enumerate(lines):
            if (
                current
                and previous is not None
                and _starts_paragraph(previous, line, spacing, full, index == 0)
            ):
                paragraphs.append(current)
                current = ""
            if current:
                current = _join(current, line.text)
            else:
                current = line.text
                starts.append(number)
            previous = line
    if current:
        paragraphs.append(current)
    return paragraphs, starts


def _usual_spacing(pages: list[list[_Line]]) -> dict[float, float]:
    """For each font size, the distance from one line to the next within a paragraph: the
    smallest that is at least most of a line high (closer lines are sub- and superscripts
    or pieces of one line), as paragraphs are set apart by more than that."""
    spacing: dict[float, float] = {}
    for lines in pages:
        for above, below in itertools.pairwise(lines):
            if above.y is None or below.y is None or above.size is None:
                continue
            gap = above.y - below.y
            size = round(above.size, 1)
            if _same_size(above, below) and gap >= 0.8 * size:
                spacing[size] = min(gap, spacing.get(size, gap))
    return spacing


def _starts_paragraph(
    previous: _Line, line: _Line, spacing: dict[float, float], full: int, new_page: bool
) -> bool:
    ends_sentence = bool(_SENTENCE_END.search(previous.text))
    if not _same_size(previous, line):
        return True
    if previous.text.endswith("-") and not previous.text.endswith(" -"):
        return False  # a word cut at the line's end goes on
    short = len(previous.text) < _SHORT_LINE * full
    if new_page:
        # A paragraph runs on to the next page when its last line was a full one that
        # did not end a sentence (where it is on the page says nothing on a new page).
        return ends_sentence or short
    usual = spacing.get(round(previous.size, 1), 0.0) if previous.size is not None else 0.0
    if previous.y is not None and line.y is not None and usual > 0:
        gap = previous.y - line.y
        if gap > _PARAGRAPH_GAP * usual:
            return True
        if gap < 0 and ends_sentence:
            return True  # back up the page: the next column, after a finished paragraph
    if short and ends_sentence:
        return True
    # A short line that ends no sentence, before a capital: a heading or a list item.
    return short and len(previous.text) < 0.6 * full and line.text[:1].isupper()


def _same_size(a: _Line, b: _Line) -> bool:
    return a.size is None or b.size is None or abs(a.size - b.size) <= _FONT_CHANGE


def _join(text: str, line: str) -> str:
    if text.endswith("\xad"):
        return text[:-1] + line
    if len(text) > 1 and text.endswith("-") and text[-2].isalpha():
        if line[:1].islower():
            return text[:-1] + line  # "infor-" + "mation"
        return text + line  # "pro-" + "Assad" keeps its hyphen
    return f"{text} {line}"


def _same(paragraph: str, title: str) -> bool:
    return paragraph.casefold().rstrip(" .") == title.casefold().rstrip(" .")


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(clean_text(value).split()) or None


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _pdf_date(value: object) -> datetime | None:
    """'D:20240105103000Z', 'D:20240105103000+01'00'', 'D:2024' → aware UTC datetime."""
    if not isinstance(value, str):
        return None
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, utc, sign, zone_h, zone_m = match.groups()
    try:
        offset = timedelta(hours=int(zone_h or 0), minutes=int(zone_m or 0))
        zone = UTC if utc or not sign else timezone(-offset if sign == "-" else offset)
        parsed = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone,
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
