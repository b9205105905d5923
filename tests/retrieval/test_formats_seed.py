"""The seed report converted to HTML, PDF and Word, loaded and asked the seed questions.

Each conversion is a real document of its format (an article page with a menu, cookie
banner, comments and footer; a paged PDF with a running header and page numbers; a Word
file with a heading), so a right answer here means the format's parser rebuilt the
report's paragraphs well enough for search to find the same passage as in the .txt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import PROJECT_SEEDS
from retrieval.formats import parse_plain_text
from retrieval.loader import load_reports
from retrieval.models import Hit, Report, hit_as_dict
from retrieval.search import SearchEngine
from tests.retrieval.documents import Block, Meta, make_article_page, make_docx, make_pdf

SEED = next(PROJECT_SEEDS.glob("*.txt"))
CREATED = datetime(2012, 7, 23, 8, 0, tzinfo=UTC)
# The seed questions of tests/retrieval/test_search.py and where their answers begin.
QUESTIONS = [
    ("How many refugees have entered camps in Turkey?", "Over 40,000 refugees"),
    ("Who commands the rebels in Aleppo province?", "The commander of Syrian rebels"),
    ("Which districts of Damascus were recaptured?", "In Damascus, Assad's forces"),
    ("What did Faiz Amr say about the border crossings?", '"Seizing the border crossings'),
]


def seed_report() -> Report:
    return parse_plain_text(
        SEED.read_text(encoding="utf-8"), report_id="seed", path=str(SEED), mtime=CREATED
    )


def seed_blocks() -> list[Block]:
    report = seed_report()
    caption = f"{report.caption} {report.caption_credit}" if report.caption else None
    texts = ([caption] if caption else []) + list(report.paragraphs)
    return [Block(report.title, heading=True)] + [Block(text) for text in texts]


def as_html() -> bytes:
    return make_article_page(
        seed_blocks()[1:],
        title=seed_report().title,
        site="Seed News",
        author=None,
        published="2012-07-23",
        canonical="https://example.org/syria-battle",
    )


def as_pdf() -> bytes:
    return make_pdf(seed_blocks(), Meta(title=seed_report().title, created=CREATED))


def as_docx() -> bytes:
    return make_docx(seed_blocks(), Meta(title=seed_report().title, created=CREATED))


CONVERSIONS: dict[str, Callable[[], bytes]] = {".html": as_html, ".pdf": as_pdf, ".docx": as_docx}


@pytest.fixture(scope="module", params=sorted(CONVERSIONS))
def converted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    suffix: str = request.param
    folder = tmp_path_factory.mktemp(suffix.lstrip("."))
    (folder / f"syria{suffix}").write_bytes(CONVERSIONS[suffix]())
    return folder


@pytest.fixture(scope="module")
def seed_engine() -> SearchEngine:
    return SearchEngine.from_path(PROJECT_SEEDS)


def test_the_converted_seed_loads_as_one_report_with_its_metadata(converted: Path) -> None:
    result = load_reports(converted)
    assert result.problems == ()
    (report,) = result.reports
    assert report.title == "Syria Battle"
    assert report.published.date() == CREATED.date()
    assert not report.published_from_mtime
    # Every paragraph of the seed is in the converted report, whole.
    text = report.text
    assert all(paragraph in text for paragraph in seed_report().paragraphs)


@pytest.mark.parametrize(("question", "quote_start"), QUESTIONS)
def test_the_seed_questions_find_the_same_answer_in_every_format(
    converted: Path, seed_engine: SearchEngine, question: str, quote_start: str
) -> None:
    expected = seed_engine.search(question)[0]
    hits = SearchEngine.from_path(converted).search(question)
    assert hits, f"not found in {converted.name}: {question}"
    assert hits[0].quote.startswith(quote_start)
    assert _answer(hits[0]) == _answer(expected)


def test_the_seed_speaker_is_found_in_every_format(converted: Path) -> None:
    hit = SearchEngine.from_path(converted).search(QUESTIONS[3][0])[0]
    assert hit.speaker is not None and "Faiz Amr" in hit.speaker


def test_pdf_answers_name_their_page(tmp_path: Path) -> None:
    (tmp_path / "syria.pdf").write_bytes(as_pdf())
    (report,) = load_reports(tmp_path).reports
    hit = SearchEngine.from_path(tmp_path).search(QUESTIONS[0][0])[0]
    # The page the answering paragraph starts on, as the loader counted it.
    paragraph = next(p for p in report.paragraphs if hit.passage.text in p)
    assert hit.passage.page == report.pages[report.paragraphs.index(paragraph)]
    assert max(report.pages) > 1 and hit.passage.page is not None and hit.passage.page > 1
    assert hit_as_dict(hit)["page"] == hit.passage.page


def _answer(hit: Hit) -> tuple[str, str]:
    return hit.quote, hit.best_sentence


def test_pages_and_authors_survive_the_index_cache(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "syria.pdf").write_bytes(
        make_pdf(seed_blocks(), Meta(title="Syria Battle", author="Jane Doe", created=CREATED))
    )
    cache = tmp_path / "cache"
    built = SearchEngine.from_path(reports, cache_dir=cache)
    assert any(cache.rglob("*")), "the index was not cached"
    cached = SearchEngine.from_path(reports, cache_dir=cache)
    question = QUESTIONS[0][0]
    first, again = built.search(question)[0], cached.search(question)[0]
    assert again.passage == first.passage and again.passage.page is not None
    assert again.report.pages == first.report.pages and again.report.author == "Jane Doe"
