"""Pure parser: a Word document (.docx) → `Report`, through python-docx.

The body's paragraphs, headings and table rows, in their order, become the
report's paragraphs (a heading stays a paragraph of its own, so it reads as
one).  The title is the document's title property, or else its first heading;
the date is when it was created (or last modified), from its core properties.

A .docx file is a zip archive, so before python-docx opens it the archive is
checked: a file that is no zip (an old .doc renamed), a zip of something else
(a spreadsheet, a folder of photos) and one that would unpack to far more than
any report raise ValueError saying so, as does anything python-docx cannot read.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from retrieval.formats import MAX_TITLE_LINE_CHARS, clean_text, document_report
from retrieval.models import Report

# A zip bomb unpacks to gigabytes from a few kilobytes; no report's text comes near these.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_PARTS = 10_000
MAX_TEXT_CHARS = 5_000_000
# Word's own style names (localised copies keep them as style ids).
_HEADING_STYLES = ("heading", "title", "subtitle")


class _Unusable(ValueError):
    """What is wrong with the file, in one sentence for the log and /problems."""


def parse_docx(data: bytes, *, report_id: str, path: str, mtime: datetime) -> Report:
    """The paragraphs of a Word document, with its title and date."""
    _check_package(data)
    # Imported here: start-up should not pay for python-docx and lxml without Word files.
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_blocks(document))
        properties = document.core_properties
        title = _clean(properties.title)
        author = _clean(properties.author)
        dated = properties.created or properties.modified
        language = properties.language
    except Exception as error:  # python-docx and lxml raise many kinds on broken parts
        detail = " ".join(str(error).split())[:160]
        raise _Unusable(
            f"not a readable Word document ({type(error).__name__}: {detail}); "
            "open it in Word and save it again"
        ) from error
    if not blocks:
        raise _Unusable("the document holds no text; write the report in it, or remove it")
    first, first_is_heading = blocks[0]
    if title is None and first_is_heading and len(first) <= MAX_TITLE_LINE_CHARS:
        title = first
    paragraphs = [text for text, _ in blocks]
    if title and paragraphs[0].casefold() == title.casefold() and len(paragraphs) > 1:
        paragraphs = paragraphs[1:]  # the title, written out at the top
    published = _utc(dated)
    return document_report(
        paragraphs,
        report_id=report_id,
        path=path,
        mtime=mtime,
        title=title,
        published=published,
        author=author,
        language=language,
    )


def _check_package(data: bytes) -> None:
    """Raise unless `data` is a zip that holds a Word document and unpacks to a sane size."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise _Unusable(
            "not a Word document: a .docx file is a zip archive and this is none "
            "(an old .doc or another file renamed?); save it as .docx from Word"
        ) from error
    with archive:
        parts = archive.infolist()
        names = {part.filename for part in parts}
        if "[Content_Types].xml" not in names or "word/document.xml" not in names:
            example = next(iter(sorted(names)), "nothing")
            raise _Unusable(
                f"not a Word document: a zip archive of something else (it holds {example}"
                f"{' and more' if len(names) > 1 else ''}); save the report as .docx from Word"
            )
        if len(parts) > MAX_PARTS or sum(part.file_size for part in parts) > MAX_UNPACKED_BYTES:
            raise _Unusable(
                "not a usable Word document: it would unpack to far more than any report "
                f"(over {MAX_UNPACKED_BYTES // (1024 * 1024)} MiB or {MAX_PARTS:,} parts)"
            )


def _blocks(document: Any) -> Iterator[tuple[str, bool]]:
    """(text, is a heading) of each paragraph and table row of the body, in order."""
    from docx.table import Table

    chars = 0
    for item in document.iter_inner_content():
        if chars > MAX_TEXT_CHARS:
            return
        if isinstance(item, Table):
            for row in item.rows:
                # A merged cell is the same cell in each column it spans: once is enough.
                cells = dict.fromkeys(_clean(cell.text) or "" for cell in row.cells)
                row_text = " | ".join(cell for cell in cells if cell)
                if row_text:
                    chars += len(row_text)
                    yield row_text, False
            continue
        text = _clean(item.text)
        if text:
            chars += len(text)
            yield text, _is_heading(item)


def _is_heading(paragraph: Any) -> bool:
    try:
        style = paragraph.style
    except Exception:  # a style the document names but does not define
        return False
    names = (getattr(style, "name", None) or "", getattr(style, "style_id", None) or "")
    return any(name.casefold().startswith(_HEADING_STYLES) for name in names)


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(clean_text(value).split()) or None


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
