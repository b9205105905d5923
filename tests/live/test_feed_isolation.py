"""Feeds keep apart, over real HTTP into a real store: two feeds that use the same guid
each keep their own report (neither overwrites the other, and dropping one from FEEDS
leaves nothing of it in the other), and one entry that cannot be made into a report is
skipped alone, with one log line, while the feed's other entries are kept."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.live.feeds import FeedPoller
from bot.storage.sqlite import SqliteStore
from tests.feedserver import FeedServer, Route, feed_server

# A URI guid, which the first version of the store took for globally unique.
SHARED_GUID = "https://wire.example/stories/1"


def rss(title: str, *items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link><description>d</description>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def item(guid: str, title: str, text: str) -> str:
    return (
        f"<item><title>{title}</title><guid>{guid}</guid><description>{text}</description></item>"
    )


LIGHTHOUSE = item(SHARED_GUID, "Lighthouse relit", "The Vormsi lighthouse was relit on Sunday.")
ASH = item(SHARED_GUID, "Ash cloud", "An ash cloud closed Keflavik airport for a day.")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        running.routes["/harbour.xml"] = Route(rss("Harbour Wire", LIGHTHOUSE))
        running.routes["/volcano.xml"] = Route(rss("Volcano Watch", ASH))
        yield running


async def test_two_feeds_with_the_same_guid_keep_their_own_reports(
    server: FeedServer, tmp_path: Path
) -> None:
    harbour, volcano = server.url("/harbour.xml"), server.url("/volcano.xml")
    store = SqliteStore.open(tmp_path / "state.sqlite3")
    polling = FeedPoller([harbour, volcano], store, interval=900, timeout=5)
    # One after the other, so the second feed meets the first one's entry stored.
    first = await polling.poll(harbour)
    second = await polling.poll(volcano)
    again = [await polling.poll(harbour), await polling.poll(volcano)]
    await polling.aclose()

    [lighthouse] = first.new
    assert second.changed == ()
    [ash] = second.new
    assert lighthouse.id != ash.id
    assert (lighthouse.source, ash.source) == ("Harbour Wire", "Volcano Watch")
    # Each refetch finds its own entry unchanged: the two never take turns.
    assert all(r.status == "updated" and r.new == r.changed == () for r in again)
    assert [e.report for e in store.entries([harbour])] == [lighthouse]
    assert [e.report for e in store.entries([volcano])] == [ash]
    store.close()

    # The volcano feed is dropped from FEEDS: nothing of it is left in the harbour feed's.
    restarted = SqliteStore.open(tmp_path / "state.sqlite3")
    loaded = [entry.report for entry in restarted.entries([harbour])]
    assert loaded == [lighthouse]
    assert "Keflavik" not in " ".join(p for r in loaded for p in r.paragraphs)
    restarted.close()


ATOM_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Farm Wire</title><id>tag:farm.example,2024:feed</id>"
    "<updated>2024-05-03T18:30:02Z</updated>"
)


def atom_entry(guid: str, title: str, text: str, published: str) -> str:
    return (
        f"<entry><title>{title}</title><id>{guid}</id><published>{published}</published>"
        f"<summary>{text}</summary></entry>"
    )


async def test_an_entry_that_cannot_be_a_report_is_skipped_and_the_others_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    document = (
        ATOM_HEAD
        + atom_entry("tag:farm,1", "Wheat harvest", "Wheat reached 12 Mt.", "2024-05-03T08:00:00Z")
        # 9999-12-31 at -05:00 is in the year 10000 in UTC: no datetime can hold it.
        + atom_entry("tag:farm,2", "Far future", "Never.", "9999-12-31T23:59:59-05:00")
        # A character reference to a lone surrogate, which feedparser cannot encode.
        + atom_entry("tag:farm,3", "Odd &#xD800; title", "Barley fell.", "2024-05-02T08:00:00Z")
        + atom_entry("tag:farm,4", "Oats steady", "Oats held at 200.", "2024-05-01T08:00:00Z")
        + "</feed>"
    )
    with feed_server() as server:
        server.routes["/farm.xml"] = Route(document.encode(), "application/atom+xml")
        url = server.url("/farm.xml")
        store = SqliteStore.open(tmp_path / "state.sqlite3")
        polling = FeedPoller([url], store, interval=900, timeout=5)
        with caplog.at_level(logging.WARNING, logger="bot.live.feeds"):
            [result] = await polling.poll_due()
        await polling.aclose()

    assert result.status == "updated", result.error
    assert [r.title for r in result.new] == ["Wheat harvest", "Odd \ufffd title", "Oats steady"]
    assert {e.report for e in store.entries([url])} == set(result.new)
    [line] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert url in line and "tag:farm,2" in line and "year 10000" in line
    store.close()
