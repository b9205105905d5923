"""Real report documents made by the tests: PDFs (fpdf2, pypdf), Word files (python-docx)
and saved article pages, good and broken, so that no binary fixture has to be kept.

Each builder returns the file's bytes; `Block`s say what the document holds, so a test
can build the same report in every format (see test_formats_seed.py).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    heading: bool = False
    new_page: bool = False  # start a new page before it (PDF only)


@dataclass(frozen=True, slots=True)
class Meta:
    title: str | None = None
    author: str | None = None
    created: datetime | None = None


def make_pdf(
    blocks: Sequence[Block],
    meta: Meta = Meta(),
    *,
    header: str | None = "Aid Monitor - Quarterly Field Report",
    page_numbers: bool = True,
    page_format: tuple[float, float] = (148, 210),
) -> bytes:
    """A PDF with a text layer: a running header, "Page N of M" footers, headings in a
    bigger bold font, paragraphs wrapped by fpdf2 and set apart by a gap; a "\\n" in a
    block's text is a line break of its own (e.g. after a hyphen)."""
    from fpdf import FPDF

    class Document(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("Helvetica", size=8)
                self.cell(0, 6, header, new_x="LMARGIN", new_y="NEXT")
                self.ln(2)

        def footer(self) -> None:
            if page_numbers:
                self.set_y(-12)
                self.set_font("Helvetica", size=8)
                self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Document(format=page_format)
    pdf.set_auto_page_break(True, margin=16)
    if meta.title:
        pdf.set_title(meta.title)
    if meta.author:
        pdf.set_author(meta.author)
    if meta.created:
        pdf.set_creation_date(meta.created)
    pdf.add_page()
    for index, block in enumerate(blocks):
        if block.new_page and index:
            pdf.add_page()
        if block.heading:
            pdf.set_font("Helvetica", "B", size=15)
            pdf.multi_cell(0, 8, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        else:
            pdf.set_font("Helvetica", size=10)
            pdf.multi_cell(0, 5, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    data = bytes(pdf.output())
    return data if meta.created else _without_dates(data)


def _without_dates(data: bytes) -> bytes:
    """fpdf2 always dates its PDFs now; a PDF without a date has to lose it afterwards."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter(clone_from=reader)
    info = dict(reader.metadata or {})
    writer.metadata = {key: value for key, value in info.items() if "Date" not in key}
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_scanned_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages hold only drawings, as a scan holds only images: no text layer."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_fill_color(90, 90, 90)
        for row in range(20):
            pdf.rect(20, 20 + row * 12, 170, 6, style="F")  # where the lines of text were
    return bytes(pdf.output())


def encrypt_pdf(data: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(
    blocks: Sequence[Block], meta: Meta = Meta(), table: Sequence[Sequence[str]] = ()
) -> bytes:
    """A Word document: headings in Word's heading styles, paragraphs, an optional table
    after them, and the core properties of `meta` (python-docx's template's otherwise)."""
    import docx

    document = docx.Document()
    properties = document.core_properties
    properties.title = meta.title or ""
    properties.author = meta.author or ""
    if meta.created:
        properties.created = meta.created
        properties.modified = meta.created
    for block in blocks:
        if block.heading:
            document.add_heading(block.text, level=1)
        else:
            document.add_paragraph(block.text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, cells in zip(grid.rows, table, strict=True):
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_article_page(
    blocks: Sequence[Block],
    *,
    title: str,
    site: str | None = "Coast News",
    author: str | None = "Jane Doe",
    published: str | None = "2024-05-02T09:30:00Z",
    canonical: str | None = "https://example.org/news/port-reopens",
) -> bytes:
    """A saved article page the way news sites make them: metadata in the head, a cookie
    banner, navigation, an ad, the article, readers' comments and a footer."""
    head = [f"<title>{escape(title)} | {escape(site or 'News')}</title>"]
    if site:
        head.append(f'<meta property="og:site_name" content="{escape(site)}">')
    head.append(f'<meta property="og:title" content="{escape(title)}">')
    if author:
        head.append(f'<meta name="author" content="{escape(author)}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    byline = f'<p class="byline">By {escape(author)}</p>' if author else ""
    body = "".join(
        f"<h2>{escape(block.text)}</h2>" if block.heading else f"<p>{escape(block.text)}</p>"
        for block in blocks
    )
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{"".join(head)}</head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience
on our website. By continuing to browse you accept all cookies.</p><button>Accept</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li></ul></nav></header>
<div class="advert ad-banner">Buy now! Great deals on boats this weekend only.</div>
<main><article><h1>{escape(title)}</h1>{byline}
{body}</article></main>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>Readers comment: great news, finally! My cousin works at the docks
and says it was chaos all week.</p></div></section>
<footer><p>Copyright 2019 Coast News Ltd. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>
</body></html>"""
    return page.encode("utf-8")


def make_menu_page() -> bytes:
    """A page with no article: a site's menu, a cookie banner and a footer."""
    links = "".join(
        f'<li><a href="/s{n}">Section number {n} of the site</a></li>' for n in range(30)
    )
    return (
        "<!DOCTYPE html><html><head><title>Coast News</title></head><body>"
        f"<header><nav><ul>{links}</ul></nav></header>"
        '<div id="cookie-banner"><p>We use cookies to improve your experience on our website. '
        "By continuing you accept all cookies.</p></div>"
        "<footer><p>Copyright 2024 Coast News Ltd. All rights reserved. Registered in England."
        "</p></footer></body></html>"
    ).encode()
