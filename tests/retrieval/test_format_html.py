"""Saved article pages (retrieval/format_html.py): the article and its metadata, never the
page's menu, cookie banner, ads, comments or footer; a page with no article is a problem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from retrieval.format_html import parse_html
from retrieval.loader import load_reports
from retrieval.models import Report
from tests.retrieval.documents import Block, make_article_page, make_menu_page

MTIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ARTICLE = [
    Block(
        "The port of Harwick reopened on Monday after a week of closure caused by the storm, "
        "harbour officials said."
    ),
    Block(
        "More than 300 ships had been waiting offshore, and the first container vessel "
        "docked at dawn."
    ),
    Block("Clearing the channel", heading=True),
    Block('"We worked day and night to clear the channel," said harbour master Tom Reed.'),
]
BOILERPLATE = ("cookies", "Home", "Buy now", "Readers comment", "Copyright", "Privacy")


def parse(data: bytes) -> Report:
    return parse_html(data, report_id="port", path="port.html", mtime=MTIME)


def test_the_article_and_its_metadata_are_taken() -> None:
    report = parse(make_article_page(ARTICLE, title="Port reopens after storm"))
    assert report.title == "Port reopens after storm"
    assert report.source == "Coast News"
    assert report.author == "Jane Doe"
    assert report.url == "https://example.org/news/port-reopens"
    assert report.published == datetime(2024, 5, 2, tzinfo=UTC)
    assert not report.published_from_mtime
    assert report.paragraphs == tuple(block.text for block in ARTICLE)


def test_navigation_banners_ads_comments_and_footers_are_left_out() -> None:
    report = parse(make_article_page(ARTICLE, title="Port reopens after storm"))
    text = report.text
    assert not [word for word in BOILERPLATE if word in text]


def test_a_page_without_a_date_gets_the_file_date_not_one_guessed_from_its_footer() -> None:
    report = parse(make_article_page(ARTICLE, title="Port reopens", published=None))
    assert report.published == MTIME and report.published_from_mtime


def test_a_page_without_a_site_name_takes_its_host_as_source() -> None:
    report = parse(make_article_page(ARTICLE, title="Port reopens", site=None))
    assert report.source == "example.org"


def test_a_page_whose_address_is_a_file_has_no_link() -> None:
    page = make_article_page(ARTICLE, title="Port reopens", canonical="file:///home/me/port.html")
    assert parse(page).url is None


def test_the_page_declared_encoding_is_honoured() -> None:
    page = make_article_page(
        [Block("Café owners in Zürich said the storm cost them a week of trade, and more.")] * 3,
        title="Zürich cafés",
    )
    latin = page.decode("utf-8").replace('charset="utf-8"', 'charset="iso-8859-1"')
    report = parse(latin.replace("utf-8", "iso-8859-1").encode("iso-8859-1"))
    assert report.title == "Zürich cafés"
    assert report.paragraphs[0].startswith("Café owners in Zürich")


def test_html_and_htm_files_load_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "port.html").write_bytes(make_article_page(ARTICLE, title="Port reopens"))
    (tmp_path / "old.htm").write_bytes(make_article_page(ARTICLE[:2], title="Old port news"))
    result = load_reports(tmp_path)
    assert result.problems == ()
    assert sorted(report.id for report in result.reports) == ["old", "port"]


def test_a_page_with_no_article_is_named(tmp_path: Path) -> None:
    (tmp_path / "home.html").write_bytes(make_menu_page())
    result = load_reports(tmp_path)
    assert result.reports == ()
    (problem,) = result.problems
    assert problem.reason.startswith("no article text found in the page")


def test_garbage_named_html_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "junk.html").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "deep.html").write_bytes(b"<div>" * 100_000 + b"text")
    result = load_reports(tmp_path)
    assert result.reports == ()
    assert sorted(Path(problem.path).name for problem in result.problems) == [
        "deep.html",
        "junk.html",
    ]
