"""Feed redirects over real HTTP: a feed host that redirects to another port on loopback
(an internal service) is refused before that service is asked anything, whether the
address is written out or hides behind a name; redirects on the feed's own host and
port are followed, a few hops at most; the operator may allow private addresses.
(Which addresses are internal: tests/live/test_feed_addresses.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.live.feeds import FeedPoller
from bot.storage.records import Store
from tests.feedserver import FeedServer, Route, feed_server, redirect

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Coast Wire</title>'
    b"<link>https://coast.example/</link><description>d</description>"
    b"<item><title>Ferries cancelled</title><guid>https://coast.example/ferries</guid>"
    b"<description>All ferries to Saaremaa were cancelled.</description></item>"
    b"</channel></rss>"
)
# What an internal service would hand out: a feed, so it would be indexed if fetched.
SECRET = "The vault code for the server room is 4417."
INTERNAL_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Admin</title>'
    "<link>http://127.0.0.1/</link><description>d</description>"
    f"<item><title>Vault</title><guid>vault</guid><description>{SECRET}</description></item>"
    "</channel></rss>"
).encode()


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    with feed_server() as running:
        running.routes["/admin.xml"] = Route(INTERNAL_FEED)
        yield running


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        running.routes["/rss.xml"] = Route(FEED)
        yield running


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_redirect_to_another_port_on_loopback_is_refused(
    server: FeedServer, internal: FeedServer, store: Store, host: str
) -> None:
    target = f"http://{host}:{internal.port}/admin.xml"
    server.routes["/moved.xml"] = redirect(target)
    url = server.url("/moved.xml")
    polling = FeedPoller([url], store, interval=900, timeout=5)
    [result] = await polling.poll_due()
    await polling.aclose()
    assert result.status == "failed"
    assert target in result.error and "loopback" in result.error
    assert "FEEDS_ALLOW_PRIVATE_ADDRESSES=true" in result.error
    assert internal.requests == []  # never even asked
    assert result.new == () and store.entries([url]) == []
    assert store.feed_state(url) is None


async def test_redirects_on_the_feeds_own_host_and_port_are_followed(
    server: FeedServer, store: Store
) -> None:
    server.routes["/old.xml"] = redirect("/rss.xml", 301)
    server.routes["/a.xml"] = redirect(server.url("/b.xml"), 307)
    server.routes["/b.xml"] = redirect("c.xml", 308)
    server.routes["/c.xml"] = redirect("/old.xml", 303)
    polling = FeedPoller([server.url("/old.xml"), server.url("/a.xml")], store, interval=900)
    moved, chain = await polling.poll_due()
    await polling.aclose()
    assert (moved.status, chain.status) == ("updated", "updated"), (moved.error, chain.error)
    assert [r.title for r in moved.new] == [r.title for r in chain.new] == ["Ferries cancelled"]
    assert moved.new[0].id != chain.new[0].id  # two feeds in FEEDS, two reports
    assert [len(server.requests_to(p)) for p in ("/a.xml", "/b.xml", "/c.xml")] == [1, 1, 1]


async def test_an_endless_redirect_fails_after_a_few_hops(server: FeedServer, store: Store) -> None:
    from bot.live.feed_fetch import MAX_REDIRECTS

    server.routes["/loop.xml"] = redirect("/loop.xml")
    server.routes["/file.xml"] = redirect("file:///etc/passwd")
    loop, file = server.url("/loop.xml"), server.url("/file.xml")
    polling = FeedPoller([loop, file], store, interval=900, timeout=5)
    looped, filed = await polling.poll_due()
    await polling.aclose()
    assert looped.status == "failed" and f"more than {MAX_REDIRECTS}" in looped.error
    assert len(server.requests_to("/loop.xml")) == MAX_REDIRECTS + 1
    assert filed.status == "failed" and "not an http or https address" in filed.error


async def test_the_operator_may_allow_redirects_to_private_addresses(
    server: FeedServer, internal: FeedServer, store: Store
) -> None:
    server.routes["/moved.xml"] = redirect(internal.url("/admin.xml"))
    url = server.url("/moved.xml")
    polling = FeedPoller([url], store, interval=900, timeout=5, allow_private=True)
    [result] = await polling.poll_due()
    await polling.aclose()
    assert result.status == "updated" and [r.title for r in result.new] == ["Vault"]
