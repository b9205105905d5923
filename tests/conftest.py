"""Shared test material: real report and hit records, and the engine over the seed report.

The builders are plain functions (import them: `from tests.conftest import make_report`)
because many tests build records at module level; the engines are fixtures.  Every record
is the real frozen dataclass the bot uses, never a stand-in.

Markers: tests that start `python -m bot` or another process are marked `slow`
(everything under tests/e2e/ is, by the hook below); `make test-fast` runs the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import PROJECT_SEEDS
from retrieval.bm25_compiled import compiled_top_k
from retrieval.models import Hit, Passage, Report
from retrieval.search import SearchEngine
from retrieval.sentences import split_sentences
from tests.pg import PostgresServer
from tests.stores import Backend, open_backend

# A fixed date for reports whose date does not matter, so outputs are the same every run.
JULY_22 = datetime(2012, 7, 22, 9, 30, tzinfo=UTC)
E2E = Path(__file__).parent / "e2e"
# Markup and entities a report may carry: everything shown must stay text.
HOSTILE = "<b>Tom & \"Jerry\"</b> > 'x' &amp; &lt;script&gt;"
PARAGRAPH = (
    "Reports suggests the border crossings were recaptured. "
    '"Seizing the border crossings does not have strategic importance," '
    "staff brigadier Faiz Amr told Reuters by phone. The rebels claim a new crossing."
)
BEST = (
    '"Seizing the border crossings does not have strategic importance," '
    "staff brigadier Faiz Amr told Reuters by phone."
)


def make_report(
    title: str = "Syria Battle",
    *,
    paragraphs: tuple[str, ...] = ("Over 40,000 refugees have already entered camps in Turkey.",),
    report_id: str = "r1",
    source: str | None = "Reuters",
    url: str | None = "https://example.com/syria?a=1&b=2",
    published: datetime = JULY_22,
    from_mtime: bool = False,
    caption: str | None = None,
) -> Report:
    """A report; by default it holds the seed's best-known sentence."""
    return Report(
        id=report_id,
        title=title,
        paragraphs=paragraphs,
        published=published,
        published_from_mtime=from_mtime,
        source=source,
        url=url,
        caption=caption,
    )


def make_hit(
    text: str,
    best: str,
    *,
    report: Report | None = None,
    speaker: str | None = None,
    rank: int = 1,
    position: int = 1,
) -> Hit:
    """A hit quoting `text` with `best` as its best sentence."""
    report = report or make_report()
    passage = Passage(
        report_id=report.id,
        position=position,
        text=text,
        sentences=tuple(split_sentences(text)),
        speaker=speaker,
    )
    return Hit(rank=rank, score=10.0 / rank, passage=passage, report=report, best_sentence=best)


@pytest.fixture(scope="session", autouse=True)
def bm25_kernel_compiled() -> None:
    """numba's cache of the first-stage kernel filled once, before any test starts a bot.

    On a fresh checkout each `python -m bot` would otherwise compile it (about a minute
    of CPU) in the background, all of them at once on a small machine.
    """
    assert compiled_top_k(wait=True) is not None


@pytest.fixture(scope="session")
def seeds_engine() -> SearchEngine:
    """The engine over the project's seed report (read-only: share it)."""
    return SearchEngine.from_path(PROJECT_SEEDS)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real, throwaway PostgreSQL server for the run (tests/pg.py), started by the
    first test that asks for it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database of this test's own, on a running server."""
    postgres_server.start()  # a test before this one may have stopped or killed it
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store backend in turn, on fresh state: a test using it runs on both."""
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    with open_backend(request.param, tmp_path / "state" / "reports-bot.sqlite3", url) as opened:
        yield opened


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)
