"""Each feed keeps a bounded archive, over real HTTP into a real store and library: a feed
that brings new guids on every fetch never holds more than its newest `keep` entries, in
the state file or in the index; one fetch that lists more keeps only its newest; an
entry the feed still lists is never pruned (so it never comes back as new); and a
restart loads at most `keep` entries of each feed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.config import DEFAULT_FEED_KEEP_ENTRIES, Settings
from bot.live.feeds import FeedPoller, PollResult
from bot.live.reports import open_live
from bot.storage.records import Store
from bot.storage.sqlite import SqliteStore
from retrieval.library import Library
from retrieval.models import Report
from tests.feedserver import FeedServer, Route, feed_server

DAY_ONE = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def story(number: int, day: int | None = None) -> str:
    """An item with its own guid; dated `day` days after DAY_ONE (default: its number)."""
    date = DAY_ONE + timedelta(days=number if day is None else day)
    return (
        f"<item><title>Story {number}</title><guid>urn:story:{number}</guid>"
        f"<pubDate>{format_datetime(date)}</pubDate>"
        f"<description>Story number {number} tells of harbour seal {number}.</description>"
        "</item>"
    )


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Seal Watch</title>'
        f"<link>https://seals.example/</link><description>d</description>{''.join(items)}"
        "</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def titles(result: PollResult) -> list[str]:
    return [report.title for report in result.new]


def stored_titles(store: Store, url: str) -> list[str]:
    return [entry.report.title for entry in store.entries([url])]


def apply(library: Library, result: PollResult) -> None:
    """What the bot's feed job does with a result (bot/live/jobs.py `_poll_feeds`)."""
    library.put_reports(result.new, announce=not result.first_fetch)
    library.put_reports(result.changed)
    library.remove_reports(result.pruned)
    library.refresh()


async def test_ever_new_guids_keep_the_archive_and_the_index_bounded(
    server: FeedServer, store: SqliteStore, tmp_path: Path
) -> None:
    (tmp_path / "reports").mkdir()
    library = Library(tmp_path / "reports")
    url = server.url("/seals.xml")
    polling = FeedPoller([url], store, interval=900, timeout=5, keep=5)
    ids: dict[str, str] = {}
    pruned: list[str] = []
    for fetch in range(6):
        numbers = range(3 * fetch, 3 * fetch + 3)
        server.routes["/seals.xml"] = Route(rss(*(story(n) for n in reversed(numbers))))
        result = await polling.poll(url)
        assert titles(result) == [f"Story {n}" for n in reversed(numbers)], result.error
        ids |= {report.title: report.id for report in result.new}
        pruned += result.pruned
        apply(library, result)
        assert len(store.entries([url])) <= 5
        assert len(library.engine.reports) <= 5
    await polling.aclose()
    newest = [f"Story {n}" for n in range(13, 18)]
    assert stored_titles(store, url) == newest  # oldest first
    assert sorted(r.title for r in library.engine.reports) == sorted(newest)
    # Pruned oldest first, each once, and only what left the archive.
    assert pruned == [ids[f"Story {n}"] for n in range(13)]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 5


async def test_one_fetch_beyond_the_cap_keeps_its_newest(server: FeedServer, store: Store) -> None:
    # Listed in no particular order: newest is by date.
    days = [3, 9, 1, 7, 5, 8, 2]
    server.routes["/seals.xml"] = Route(rss(*(story(n, day) for n, day in enumerate(days))))
    url = server.url("/seals.xml")
    polling = FeedPoller([url], store, interval=900, timeout=5, keep=3)
    first = await polling.poll(url)
    again = await polling.poll(url)
    await polling.aclose()
    assert titles(first) == ["Story 1", "Story 5", "Story 3"]  # days 9, 8, 7
    assert first.pruned == ()
    assert sorted(stored_titles(store, url)) == ["Story 1", "Story 3", "Story 5"]
    # The same document again: nothing comes back as new, nothing is pruned.
    assert (again.new, again.changed, again.pruned) == ((), (), ())


async def test_an_entry_the_feed_still_lists_is_never_pruned(
    server: FeedServer, store: Store
) -> None:
    url = server.url("/seals.xml")
    polling = FeedPoller([url], store, interval=900, timeout=5, keep=3)
    pinned = story(100, day=0)  # the oldest of all, always at the top of the feed
    results = []
    for batch in ([1], [2, 3], [4, 5], [6, 7]):
        server.routes["/seals.xml"] = Route(rss(pinned, *(story(n) for n in batch)))
        results.append(await polling.poll(url))
    await polling.aclose()
    assert titles(results[0]) == ["Story 1", "Story 100"]
    assert all("Story 100" not in titles(r) for r in results[1:])
    assert sorted(stored_titles(store, url)) == ["Story 100", "Story 6", "Story 7"]


def test_a_restart_loads_at_most_keep_entries_of_each_feed(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "tide.txt").write_text("Tide tables\n\nHigh tide is at noon.\n", encoding="utf-8")
    feeds = ("https://seals.example/rss", "https://gulls.example/rss")
    for feed in feeds:
        for number in range(6):  # saved one by one: story 5 is the newest
            report = Report(
                id=f"feed-{feed}-{number}",
                title=f"{feed} story {number}",
                paragraphs=(f"Seal story {number}.",),
                published=DAY_ONE,
            )
            store.save_entries(feed, [(f"{feed}#{number}", report, f"d{number}")])
    settings = Settings(
        reports_dir=folder, data_dir=tmp_path / "state", feeds=feeds, feed_keep_entries=2
    )
    live = open_live(settings, store)
    loaded = sorted(r.title for r in live.library.engine.reports if r.id.startswith("feed-"))
    assert loaded == sorted(f"{feed} story {n}" for feed in feeds for n in (4, 5))


async def test_by_default_a_feed_keeps_its_newest_thousand(
    server: FeedServer, store: Store
) -> None:
    """500 new guids on every fetch, as the issue saw, with FEED_KEEP_ENTRIES unset."""
    url = server.url("/seals.xml")
    polling = FeedPoller([url], store, interval=900, timeout=10)
    pruned = 0
    for fetch in range(3):
        numbers = range(500 * fetch, 500 * fetch + 500)
        server.routes["/seals.xml"] = Route(rss(*(story(n, day=0) for n in numbers)))
        result = await polling.poll(url)
        assert len(result.new) == 500, result.error
        pruned += len(result.pruned)
    await polling.aclose()
    assert DEFAULT_FEED_KEEP_ENTRIES == 1000
    assert len(store.entries([url])) == 1000 and pruned == 500
    # The first fetch's entries were the oldest: they went.
    assert {e.key for e in store.entries([url])} == {f"urn:story:{n}" for n in range(500, 1500)}
