"""Feeds over real HTTP: RSS 2.0 and Atom documents served from a local server, polled by
the real poller into a real SQLite store.  New entries, an updated entry, 304 Not
Modified, de-duplication across restarts, and feeds that are malformed, time out, fail
or are too big, none of which stops the others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.live import feed_fetch, feeds
from bot.live.feeds import FeedPoller
from bot.storage.records import Store
from bot.storage.sqlite import SqliteStore
from retrieval.feed_format import entry_report, html_to_paragraphs, parse_feed
from tests.feedserver import FeedServer, Route, feed_server

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Coast &amp; Harbour News</title>
  <link>https://coast.example/</link>
  <description>News from the coast</description>
  <item>
    <title>Port of Tallinn reopens</title>
    <link>https://coast.example/port</link>
    <guid isPermaLink="false">coast-0001</guid>
    <pubDate>Thu, 02 May 2024 09:30:00 +0200</pubDate>
    <description>&lt;p&gt;The port of Tallinn reopened on &lt;b&gt;Monday&lt;/b&gt; after
      the dock strike.&lt;/p&gt;&lt;p&gt;Forty ships had been waiting offshore.&lt;/p&gt;
    </description>
  </item>
  <item>
    <title>Ferry timetable</title>
    <link>https://coast.example/ferry</link>
    <guid>https://coast.example/ferry</guid>
    <pubDate>Wed, 01 May 2024 07:00:00 GMT</pubDate>
    <description>Summary only: the ferry leaves at 7.</description>
    <content:encoded><![CDATA[<p>The {ferry} ferry to Saaremaa now leaves at seven.</p>
      <script>alert(1)</script><p>Tickets cost 12 euros.</p>]]></content:encoded>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="text">Farm Wire</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-05-03T18:30:02Z</updated>
  <entry>
    <title>Wheat harvest beats forecasts</title>
    <id>tag:farm.example,2024:wheat</id>
    <link rel="alternate" href="https://farm.example/wheat"/>
    <published>2024-05-03T08:00:00+02:00</published>
    <updated>2024-05-03T09:00:00Z</updated>
    <summary type="html">&lt;p&gt;The national wheat harvest reached 12 million
      tonnes.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title type="html">Barley &lt;em&gt;prices&lt;/em&gt; fall</title>
    <id>tag:farm.example,2024:barley</id>
    <link href="/barley"/>
    <updated>2024-05-02T10:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Barley fell to
      150 euros a tonne.</p><p>Traders blamed the rain.</p></div></content>
  </entry>
</feed>
"""

ETAG = '"rss-v1"'
LAST_MODIFIED = "Thu, 02 May 2024 08:00:00 GMT"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        running.routes["/rss.xml"] = Route(
            RSS.format(ferry="morning").encode(), etag=ETAG, last_modified=LAST_MODIFIED
        )
        running.routes["/atom.xml"] = Route(
            ATOM.encode(),
            content_type="application/atom+xml",
            last_modified="Fri, 03 May 2024 18:30:02 GMT",
        )
        yield running


def poller(server: FeedServer, store: Store, *paths: str, timeout: float = 5.0) -> FeedPoller:
    return FeedPoller([server.url(p) for p in paths], store, interval=900, timeout=timeout)


async def test_rss_and_atom_entries_become_reports(server: FeedServer, store: Store) -> None:
    polling = poller(server, store, "/rss.xml", "/atom.xml")
    rss, atom = await polling.poll_due()
    await polling.aclose()
    assert (rss.status, atom.status) == ("updated", "updated")
    assert rss.first_fetch and atom.first_fetch
    port, ferry = rss.new
    assert port.title == "Port of Tallinn reopens"
    assert port.source == "Coast & Harbour News"
    assert port.url == "https://coast.example/port"
    assert port.published == datetime(2024, 5, 2, 7, 30, tzinfo=UTC)
    assert port.paragraphs == (
        "The port of Tallinn reopened on Monday after the dock strike.",
        "Forty ships had been waiting offshore.",
    )
    # Full content wins over the summary, markup and scripts gone.
    assert ferry.paragraphs == (
        "The morning ferry to Saaremaa now leaves at seven.",
        "Tickets cost 12 euros.",
    )
    wheat, barley = atom.new
    assert (wheat.title, wheat.source, wheat.url) == (
        "Wheat harvest beats forecasts",
        "Farm Wire",
        "https://farm.example/wheat",
    )
    assert wheat.published == datetime(2024, 5, 3, 6, 0, tzinfo=UTC)
    assert wheat.paragraphs == ("The national wheat harvest reached 12 million tonnes.",)
    assert barley.title == "Barley prices fall"
    assert barley.url == f"http://127.0.0.1:{server.port}/barley"  # relative link resolved
    assert barley.published == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)  # only <updated>
    assert barley.paragraphs == ("Barley fell to 150 euros a tonne.", "Traders blamed the rain.")
    assert len({r.id for r in (*rss.new, *atom.new)}) == 4
    stored = {entry.report for entry in store.entries(polling.urls)}
    assert stored == {*rss.new, *atom.new}


async def test_not_modified_is_asked_for_and_honoured(server: FeedServer, store: Store) -> None:
    polling = poller(server, store, "/rss.xml", "/atom.xml")
    await polling.poll_due()
    rss = await polling.poll(server.url("/rss.xml"))
    atom = await polling.poll(server.url("/atom.xml"))
    await polling.aclose()
    assert (rss.status, atom.status) == ("not-modified", "not-modified")
    assert rss.new == () and atom.new == ()
    first, second = server.requests_to("/rss.xml")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == ETAG
    assert second.headers["if-modified-since"] == LAST_MODIFIED
    assert second.status == 304
    # The Atom host sends no ETag: Last-Modified alone is echoed back.
    atom_second = server.requests_to("/atom.xml")[1]
    assert "if-none-match" not in atom_second.headers
    assert atom_second.headers["if-modified-since"] == "Fri, 03 May 2024 18:30:02 GMT"
    assert atom_second.status == 304


async def test_an_updated_entry_comes_back_changed_and_a_new_one_new(
    server: FeedServer, store: Store
) -> None:
    polling = poller(server, store, "/rss.xml")
    [first] = await polling.poll_due()
    newer = RSS.format(ferry="evening").replace(
        "<item>",
        "<item><title>Storm warning</title><guid>coast-0002</guid>"
        "<description>Gales are expected tonight.</description></item><item>",
        1,
    )
    server.routes["/rss.xml"] = Route(newer.encode(), etag='"rss-v2"')
    second = await polling.poll(server.url("/rss.xml"))
    await polling.aclose()
    assert second.status == "updated" and not second.first_fetch
    assert [r.title for r in second.new] == ["Storm warning"]
    [ferry] = second.changed
    assert ferry.id == first.new[1].id  # the same report, replaced
    assert ferry.paragraphs[0] == "The evening ferry to Saaremaa now leaves at seven."
    [stored] = [e for e in store.entries([server.url("/rss.xml")]) if e.report.id == ferry.id]
    assert stored.report == ferry


async def test_entries_are_not_new_again_after_a_restart(
    server: FeedServer, tmp_path: Path
) -> None:
    path = tmp_path / "state.sqlite3"
    first_store = SqliteStore.open(path)
    polling = poller(server, first_store, "/rss.xml")
    [first] = await polling.poll_due()
    await polling.aclose()
    first_store.close()
    # The host forgets its validators, so the whole document comes again.
    server.routes["/rss.xml"].etag = None
    server.routes["/rss.xml"].last_modified = None

    restarted = SqliteStore.open(path)
    polling = poller(server, restarted, "/rss.xml")
    assert {entry.report for entry in restarted.entries(polling.urls)} == set(first.new)
    [again] = await polling.poll_due()
    await polling.aclose()
    assert again.status == "updated" and again.new == () and again.changed == ()
    assert not again.first_fetch


async def test_bad_feeds_fail_alone_and_are_retried_sooner(
    server: FeedServer, store: Store
) -> None:
    server.routes["/garbage.xml"] = Route(b"\x00\xffthis is <not> a feed\x13", "text/html")
    server.routes["/page.html"] = Route(b"<html><body><p>Hello</p></body></html>", "text/html")
    server.routes["/hangs.xml"] = Route(b"", hang=True)
    server.routes["/broken.xml"] = Route(b"", status=500)
    server.routes["/secret.xml"] = Route(b"/etc/hostname", "text/plain")
    polling = poller(
        server,
        store,
        "/garbage.xml",
        "/page.html",
        "/hangs.xml",
        "/broken.xml",
        "/missing.xml",
        "/secret.xml",
        "/rss.xml",
        timeout=1.0,
    )
    results = {r.url.rsplit("/", 1)[1]: r for r in await polling.poll_due()}
    assert results["rss.xml"].status == "updated" and len(results["rss.xml"].new) == 2
    failed = {name for name, r in results.items() if r.status == "failed"}
    assert failed == {
        "garbage.xml",
        "page.html",
        "hangs.xml",
        "broken.xml",
        "missing.xml",
        "secret.xml",
    }
    assert "did not return an RSS or Atom feed" in results["garbage.xml"].error
    assert "within 1s" in results["hangs.xml"].error
    assert "HTTP 500" in results["broken.xml"].error
    assert "HTTP 404" in results["missing.xml"].error
    # Failed feeds come round again well before the 900 s interval, the good one does not.
    assert polling.seconds_until_due() <= feeds.FIRST_RETRY_SECONDS
    # A failure never stores validators, so the retry is a full request.
    assert store.feed_state(server.url("/broken.xml")) is None
    # The fixed server is picked up on the retry.
    server.routes["/broken.xml"] = Route(ATOM.encode(), "application/atom+xml")
    fixed = await polling.poll(server.url("/broken.xml"))
    await polling.aclose()
    assert fixed.status == "updated" and len(fixed.new) == 2


async def test_a_truncated_feed_keeps_what_it_can_and_is_not_cached(
    server: FeedServer, store: Store
) -> None:
    document = RSS.format(ferry="noon")
    cut = document[: document.index("<title>Ferry timetable")]
    server.routes["/cut.xml"] = Route(cut.encode(), etag='"cut"')
    polling = poller(server, store, "/cut.xml")
    [result] = await polling.poll_due()
    await polling.poll(server.url("/cut.xml"))
    await polling.aclose()
    assert result.status == "updated"
    assert [r.title for r in result.new] == ["Port of Tallinn reopens"]
    # Not remembered: the next request is unconditional, so a repaired feed is read.
    assert all("if-none-match" not in seen.headers for seen in server.requests_to("/cut.xml"))


async def test_an_oversized_document_is_refused(
    server: FeedServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_fetch, "MAX_FEED_BYTES", 1000)
    polling = poller(server, store, "/rss.xml")
    [result] = await polling.poll_due()
    await polling.aclose()
    assert result.status == "failed" and "larger than" in result.error


def test_html_to_paragraphs() -> None:
    markup = (
        "<div><h2>Head</h2>Intro <a href='x'>link</a> text<br>same paragraph<br><br>"
        "next &amp; last<ul><li>one</li><li>two</li></ul><style>p{}</style>"
        "<img alt='A chart'><!-- note --></div>"
    )
    assert html_to_paragraphs(markup) == (
        "Head",
        "Intro link text same paragraph",
        "next & last",
        "one",
        "two",
        "A chart",
    )


def test_an_entry_with_neither_guid_nor_link_is_keyed_by_its_title() -> None:
    document = RSS.replace('<guid isPermaLink="false">coast-0001</guid>', "").replace(
        "<link>https://coast.example/port</link>", ""
    )
    fetched = datetime(2024, 6, 1, tzinfo=UTC)
    first = parse_feed(document.encode(), "https://coast.example/rss", fetched_at=fetched)
    again = parse_feed(document.encode(), "https://coast.example/rss", fetched_at=fetched)
    assert first.entries[0].key == again.entries[0].key
    assert first.entries[0].key.startswith("https://coast.example/rss#title:")
    assert first.entries[0].report.url is None


def test_an_undated_entry_is_dated_when_first_seen_and_not_updated_by_refetching() -> None:
    document = RSS.replace("<pubDate>Thu, 02 May 2024 09:30:00 +0200</pubDate>", "")
    one = parse_feed(document.encode(), "u", fetched_at=datetime(2024, 6, 1, tzinfo=UTC))
    two = parse_feed(document.encode(), "u", fetched_at=datetime(2024, 6, 2, tzinfo=UTC))
    assert one.entries[0].report.published == datetime(2024, 6, 1, tzinfo=UTC)
    assert one.entries[0].digest == two.entries[0].digest


def test_control_characters_in_an_entry_never_reach_its_report() -> None:
    raw = {
        "id": "tag:coast.example,2024:1",
        "title": "Port\x00 reopens\x07",
        "summary": "Ships\x00 sail\x0bagain.\n\nThe\x1b harbour is open.",
        "link": "https://coast.example/\x00port",
    }
    entry = entry_report(raw, "https://coast.example/rss", "Coast\x00 News", datetime.now(UTC))
    assert entry is not None
    report = entry.report
    shown = [report.title, *report.paragraphs, report.source or "", report.url or ""]
    assert not [text for text in shown if any(ord(c) < 32 and c not in "\n\t" for c in text)]
    assert report.title == "Port reopens"
    assert report.paragraphs == ("Ships sail again.", "The harbour is open.")
