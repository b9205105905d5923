"""Pure parser: a saved article page (.html, .htm) → `Report`, through trafilatura.

trafilatura finds the article in the page and leaves out navigation, ads,
cookie banners, comments and footers; its metadata gives the title, the site's
name (the report's source), the author, the date and the canonical URL.  The
page is handed over as bytes so that trafilatura reads its declared encoding.
A page with no article in it (a home page, a login wall) raises ValueError:
an empty report would only ever be a wrong answer.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from retrieval.formats import clean_text, document_report, parse_date
from retrieval.models import Report

# Cut from the page before extraction, as trafilatura's last-resort stages would otherwise
# serve a page with no article as its menu or its cookie banner.  Outside the article only:
# an article's own header holds its headline, and a recipe may well be about cookies.
_OUTSIDE_ARTICLE = "not(ancestor-or-self::article) and not(ancestor-or-self::main)"
_BOILERPLATE_XPATHS = [
    "//nav",
    "//footer",
    "//aside",
    f"//header[{_OUTSIDE_ARTICLE}]",
    f"//*[{_OUTSIDE_ARTICLE}][contains(@id, 'cookie') or contains(@class, 'cookie')"
    " or contains(@id, 'consent') or contains(@class, 'consent')]",
]
# Past this much extracted text the page is not one article; what is kept is still useful.
MAX_TEXT_CHARS = 2_000_000


def parse_html(data: bytes, *, report_id: str, path: str, mtime: datetime) -> Report:
    """The article of one saved web page, with its metadata."""
    # Imported here: start-up should not pay for trafilatura and lxml without HTML files.
    import trafilatura

    try:
        document = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            prune_xpath=_BOILERPLATE_XPATHS,
            # Dates from the page's metadata and markup only, never guessed from its text
            # (a "© 2019" footer is not when the report was published).
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as error:  # lxml and trafilatura raise many kinds on broken input
        detail = " ".join(str(error).split())[:160]
        raise ValueError(
            f"not a readable HTML page ({type(error).__name__}: {detail}); save the page again"
        ) from error
    fields: dict[str, Any] = {}
    if document is not None:
        fields = document if isinstance(document, dict) else document.as_dict()
    text = fields.get("text")
    lines = _lines(text) if isinstance(text, str) else []
    title = _meta(fields, "title")
    if lines and title and _same(lines[0], title):
        lines = lines[1:]  # the page's headline, already the title
    if not lines:
        raise ValueError(
            "no article text found in the page (only navigation, a menu or an empty body); "
            "save the article's own page, or copy its text into a .txt file"
        )
    published = _date(_meta(fields, "date"))
    return document_report(
        lines,
        report_id=report_id,
        path=path,
        mtime=mtime,
        title=title,
        published=published,
        source=_meta(fields, "sitename") or _meta(fields, "hostname"),
        url=_url(_meta(fields, "url")),
        author=_meta(fields, "author"),
        language=_meta(fields, "language") or _html_lang(data),
    )


# <html lang="de-AT">, in the page's first bytes.
_HTML_LANG = re.compile(
    rb"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I
)


def _html_lang(data: bytes) -> str | None:
    match = _HTML_LANG.search(data[:8192])
    return match.group(1).decode("ascii") if match else None


def _lines(text: str) -> list[str]:
    """trafilatura's text puts each paragraph, heading and list item on a line of its own."""
    text = clean_text(text[:MAX_TEXT_CHARS])
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def _meta(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if not isinstance(value, str):
        return None
    return " ".join(clean_text(value).split()) or None


def _same(line: str, title: str) -> bool:
    return line.casefold().rstrip(" .") == title.casefold().rstrip(" .")


def _url(url: str | None) -> str | None:
    """Only a web address: a saved page's own file path is not a link anyone can follow."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _date(value: str | None) -> datetime | None:
    """trafilatura gives 'YYYY-MM-DD'; an unreadable date is no date, not a lost report."""
    if not value:
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None
