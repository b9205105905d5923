"""Feeds that could overwrite each other, leak an internal service or grow without end,
through the real bot (`python -m bot`), the local Bot API server and real local feed
servers:

* two feeds use the same guid: both stories are answered, each under its own feed;
* a third feed redirects to another port on loopback (an internal service): the
  redirect is refused with a log line naming the setting that would allow it, the
  service is never asked, and its text is never quoted;
* restarted without the second feed, its story is gone and the first feed's stays;
* with FEED_KEEP_ENTRIES=2, the first feed's story is pruned, from the answers too,
  once two newer ones arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import TIMEOUT, BotProcess, ask, quote_of, start_bot
from tests.e2e.live_helpers import POLL_SECONDS, ask_until
from tests.feedserver import Route, feed_server, redirect

SHARED_GUID = "https://wire.example/stories/1"
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{title}</title><link>https://example.org/</link>
<description>d</description>{items}</channel></rss>"""
ITEM = """<item><title>{title}</title><guid>{guid}</guid><pubDate>{date}</pubDate>
<description>{text}</description></item>"""

LIGHTHOUSE = ITEM.format(
    title="Lighthouse relit",
    guid=SHARED_GUID,
    date="Mon, 07 Jan 2030 08:00:00 GMT",
    text="The Vormsi lighthouse was relit on Sunday after forty dark years.",
)
ASH = ITEM.format(
    title="Ash cloud",
    guid=SHARED_GUID,
    date="Mon, 07 Jan 2030 09:00:00 GMT",
    text="An ash cloud from Hekla closed Keflavik airport for a day.",
)
NEWER = [
    ITEM.format(
        title=title,
        guid=f"https://harbour.example/{slug}",
        date=f"Tue, 0{8 + n} Jan 2030 08:00:00 GMT",
        text=text,
    )
    for n, (title, slug, text) in enumerate(
        [
            ("Seal colony", "seals", "A grey seal colony of 300 settled on Vilsandi islet."),
            ("Ice road", "ice", "The ice road to Hiiumaa opened for cars under two tonnes."),
        ]
    )
]
SECRET = "The vault code for the server room is 4417."
INTERNAL = FEED.format(
    title="Admin",
    items=ITEM.format(
        title="Vault", guid="vault", date="Mon, 07 Jan 2030 10:00:00 GMT", text=SECRET
    ),
)

LIGHTHOUSE_QUESTION = "When was the Vormsi lighthouse relit?"
ASH_QUESTION = "What closed Keflavik airport?"
SECRET_QUESTION = "What is the vault code for the server room?"


def quotes(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda reply: text in (quote_of(reply) or "")


def not_found(reply: dict[str, Any]) -> bool:
    return quote_of(reply) is None and "couldn't find" in reply["text"]


def wait_until(condition: Callable[[], bool], what: str, bot: BotProcess) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen; log:\n{bot.log[-4000:]}")
        time.sleep(0.1)


def test_feeds_keep_apart_never_reach_internal_services_and_stay_bounded(
    server: FakeBotAPI, control: Control, tmp_path: Path, user_id: int
) -> None:
    state = tmp_path / "state"
    with feed_server() as feeds, feed_server() as internal:
        feeds.routes["/harbour.xml"] = Route(
            FEED.format(title="Harbour Wire", items=LIGHTHOUSE).encode(), etag='"h1"'
        )
        feeds.routes["/volcano.xml"] = Route(FEED.format(title="Volcano Watch", items=ASH).encode())
        admin = f"http://127.0.0.1:{internal.port}/admin.xml"
        feeds.routes["/moved.xml"] = redirect(admin)
        internal.routes["/admin.xml"] = Route(INTERNAL.encode())
        harbour, volcano, moved = (feeds.url(f"/{n}.xml") for n in ("harbour", "volcano", "moved"))
        settings: dict[str, str | Path] = {
            "REPORTS_POLL_SECONDS": POLL_SECONDS,
            "FEED_POLL_SECONDS": "0.5",
            "FEED_KEEP_ENTRIES": "2",
            "FEEDS_ALLOW_PRIVATE_ADDRESSES": "false",
            "RATE_LIMIT_PER_MINUTE": "0",  # this test asks again and again on purpose
        }

        bot = start_bot(server, state, FEEDS=f"{harbour},{volcano},{moved}", **settings)
        try:
            reply = ask_until(control, user_id, LIGHTHOUSE_QUESTION, quotes("Vormsi lighthouse"))
            assert "Harbour Wire" in reply["text"]
            reply = ask_until(control, user_id, ASH_QUESTION, quotes("ash cloud"))
            assert "Volcano Watch" in reply["text"]
            wait_until(lambda: "FEEDS_ALLOW_PRIVATE_ADDRESSES=true" in bot.log, "refusal", bot)
            assert admin in bot.log and "loopback" in bot.log
            _, reply = ask(control, user_id, SECRET_QUESTION)
            assert "4417" not in reply["text"]
            # Both stories are still answered, each under its own feed.
            _, reply = ask(control, user_id, LIGHTHOUSE_QUESTION)
            assert quotes("Vormsi lighthouse")(reply) and "Harbour Wire" in reply["text"]
        finally:
            assert bot.stop() == 0, bot.log
        assert internal.requests == []

        # Without the volcano feed: its story is gone from the start, the harbour's stays.
        seen = len(feeds.requests_to("/harbour.xml"))
        again = start_bot(server, state, FEEDS=f"{harbour},{moved}", **settings)
        try:
            _, reply = ask(control, user_id, ASH_QUESTION)
            assert not_found(reply), reply["text"]
            _, reply = ask(control, user_id, LIGHTHOUSE_QUESTION)
            assert quotes("Vormsi lighthouse")(reply) and "Harbour Wire" in reply["text"]
            wait_until(lambda: len(feeds.requests_to("/harbour.xml")) > seen, "a refetch", again)
            assert feeds.requests_to("/harbour.xml")[seen].status == 304
            _, reply = ask(control, user_id, ASH_QUESTION)
            assert not_found(reply), reply["text"]

            # Two newer stories: the harbour feed's archive of two drops the lighthouse.
            feeds.routes["/harbour.xml"] = Route(
                FEED.format(title="Harbour Wire", items="".join(NEWER) + LIGHTHOUSE).encode(),
                etag='"h2"',
            )
            ask_until(control, user_id, "How big is the seal colony on Vilsandi?", quotes("300"))
            ask_until(control, user_id, LIGHTHOUSE_QUESTION, not_found)
            _, reply = ask(control, user_id, "Which cars may use the ice road to Hiiumaa?")
            assert quotes("two tonnes")(reply), reply["text"]
            _, reply = ask(control, user_id, SECRET_QUESTION)
            assert "4417" not in reply["text"]
        finally:
            assert again.stop() == 0, again.log
        assert "pruned" in again.log
        assert internal.requests == []
