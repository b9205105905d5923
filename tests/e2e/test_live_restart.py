"""Live reports across restarts, through the real bot: subscriptions and feed state live
in DATA_DIR's SQLite file, access is checked again when a push goes out, and the
folder's index, saved at shut-down, is what the next start loads.  Feeds are
served by a local HTTP server: their entries are answered, listed by /latest with the
feed as source, pushed to subscribers, and not fetched again in full after a restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from retrieval.search import SearchEngine
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import ask, bot_env, quote_of, run_bot_to_exit, start_bot
from tests.e2e.live_helpers import (
    POLL_SECONDS,
    ask_until,
    bot_messages_after,
    drop,
    seeded_folder,
    subscribe,
    wait_for_push,
)
from tests.feedserver import Route, feed_server

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Coast Wire</title>
  <link>https://coast.example/</link>
  <description>News from the coast</description>
  {items}
</channel></rss>
"""
ITEM = """<item><title>{title}</title><link>https://coast.example/{slug}</link>
  <guid>https://coast.example/{slug}</guid><pubDate>{date}</pubDate>
  <description>{text}</description></item>"""
FERRY = ITEM.format(
    title="Ferries cancelled",
    slug="ferries",
    date="Tue, 01 Jan 2030 08:00:00 GMT",
    text="All ferries to Saaremaa were cancelled because of the ice.",
)
STRIKE = ITEM.format(
    title="Harbour strike",
    slug="strike",
    date="Wed, 02 Jan 2030 08:00:00 GMT",
    text="Dock workers at Paldiski began a harbour strike over pay.",
)


def test_subscriptions_survive_a_restart_and_access_is_checked_at_push_time(
    server: FakeBotAPI,
    control: Control,
    tmp_path: Path,
    user_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = seeded_folder(tmp_path / "reports")
    state = tmp_path / "state"
    alice, bob = user_id, user_id + 500_000
    common: dict[str, str | Path] = {"REPORTS_DIR": folder, "REPORTS_POLL_SECONDS": POLL_SECONDS}
    first = start_bot(server, state, ALLOWED_USER_IDS=f"{alice},{bob}", **common)
    try:
        subscribe(control, alice, "tidal power")
        subscribe(control, bob, "tidal power")
    finally:
        assert first.stop() == 0, first.log

    # Alice loses access while the bot is down; her subscription is still stored.
    second = start_bot(server, state, ALLOWED_USER_IDS=f"{bob}", **common)
    try:
        _, listed = ask(control, bob, "/subscriptions")
        assert "1. “tidal power”" in listed["text"]
        last_alice = control.sent_messages(alice)[-1]["message_id"]
        drop(folder, "tidal.txt", "Tidal Plant\n\nThe tidal power plant at Sihwa doubled output.\n")
        push = wait_for_push(control, bob, listed["message_id"])
        assert "Sihwa" in (quote_of(push) or "")
        # Alice subscribed first, so a push to her would have gone out before Bob's.
        assert bot_messages_after(control, alice, last_alice) == []
    finally:
        assert second.stop() == 0, second.log
    # The folder changed while it ran: its index was saved for the next start.
    assert "saved the index cache" in second.log
    with caplog.at_level("INFO", logger="retrieval.search"):
        cached = SearchEngine.from_path(folder, cache_dir=state / "index-cache")
    assert "loaded cached index" in caplog.text
    assert any(report.title == "Tidal Plant" for report in cached.reports)


def test_a_restart_reads_again_only_what_changed_while_it_was_down(
    server: FakeBotAPI, control: Control, tmp_path: Path, user_id: int
) -> None:
    folder = seeded_folder(tmp_path / "reports")
    ferry = drop(folder, "ferry.txt", "Ferry News\n\nThe ferry to Hiiumaa leaves at six.\n")
    state = tmp_path / "state"
    common: dict[str, str | Path] = {"REPORTS_DIR": folder, "REPORTS_POLL_SECONDS": POLL_SECONDS}
    first = start_bot(server, state, RATE_LIMIT_PER_MINUTE="0", **common)
    question = "When does the ferry to Hiiumaa leave?"
    try:
        ask_until(control, user_id, question, lambda r: "at six" in (quote_of(r) or ""))
    finally:
        assert first.stop() == 0, first.log
    ferry.write_text("Ferry Timetable\n\nThe ferry to Hiiumaa now leaves at nine.\n")
    moment = time.time() - 600  # settled: read as soon as it is seen
    os.utime(ferry, (moment, moment))
    second = start_bot(server, state, RATE_LIMIT_PER_MINUTE="0", **common)
    try:
        ask_until(control, user_id, question, lambda r: "at nine" in (quote_of(r) or ""))
    finally:
        assert second.stop() == 0, second.log
    # It started from the index of the last run, and read the one changed file again.
    assert "loaded cached index" in second.log
    assert "1 changed, 0 gone; 1 files read" in second.log, second.log


def test_where_events_are_unavailable_the_folder_is_polled(
    server: FakeBotAPI, control: Control, tmp_path: Path, user_id: int
) -> None:
    folder = seeded_folder(tmp_path / "reports")
    bot = start_bot(
        server,
        tmp_path / "state",
        REPORTS_DIR=folder,
        REPORTS_POLL_SECONDS=POLL_SECONDS,
        RATE_LIMIT_PER_MINUTE="0",
        WATCHFILES_FORCE_POLLING="1",  # as on a network file system
    )
    try:
        drop(folder, "pole/base.txt", "Base\n\nThe polar base Halley VI reopened.\n")
        question = "Which polar base reopened?"
        ask_until(control, user_id, question, lambda r: "Halley" in (quote_of(r) or ""))
    finally:
        assert bot.stop() == 0, bot.log
    assert bot.log.count("by polling every") == 1, bot.log
    assert "WATCHFILES_FORCE_POLLING is set" in bot.log


def test_feed_entries_are_answered_listed_pushed_and_remembered(
    server: FakeBotAPI, control: Control, tmp_path: Path, user_id: int
) -> None:
    folder = seeded_folder(tmp_path / "reports")
    state = tmp_path / "state"
    with feed_server() as feeds:
        feeds.routes["/coast.xml"] = Route(FEED.format(items=FERRY).encode(), etag='"v1"')
        settings: dict[str, str | Path] = {
            "REPORTS_DIR": folder,
            "REPORTS_POLL_SECONDS": POLL_SECONDS,
            "FEEDS": feeds.url("/coast.xml"),
            "FEED_POLL_SECONDS": "0.5",
            "RATE_LIMIT_PER_MINUTE": "0",
        }
        bot = start_bot(server, state, **settings)
        try:
            question = "Why were the ferries to Saaremaa cancelled?"
            reply = ask_until(control, user_id, question, lambda r: "ice" in (quote_of(r) or ""))
            assert "Ferries cancelled" in reply["text"] and "Coast Wire" in reply["text"]
            _, latest = ask(control, user_id, "/latest 1")  # dated 2030: the newest report
            assert "Ferries cancelled" in latest["text"] and "Coast Wire" in latest["text"]
            listed = subscribe(control, user_id, "harbour strike")
            feeds.routes["/coast.xml"] = Route(
                FEED.format(items=STRIKE + FERRY).encode(), etag='"v2"'
            )
            push = wait_for_push(control, user_id, listed["message_id"])
            assert "Paldiski" in (quote_of(push) or "") and "Coast Wire" in push["text"]
        finally:
            assert bot.stop() == 0, bot.log

        seen = len(feeds.requests_to("/coast.xml"))
        again = start_bot(server, state, **settings)
        try:
            # Indexed from the state file at start-up, before the feed is asked anything.
            _, reply = ask(control, user_id, "Which dock workers began a harbour strike?")
            assert "Paldiski" in (quote_of(reply) or "")
            ask_until(
                control,
                user_id,
                question,
                lambda r: len(feeds.requests_to("/coast.xml")) > seen,
            )
            after_restart = feeds.requests_to("/coast.xml")[seen]
            assert after_restart.headers.get("if-none-match") == '"v2"'
            assert after_restart.status == 304
        finally:
            assert again.stop() == 0, again.log


def test_a_state_file_that_is_not_sqlite_stops_the_bot_with_one_line(
    server: FakeBotAPI, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "reports-bot.sqlite3").write_bytes(b"not a database at all " * 50)
    env = bot_env(
        TELEGRAM_BOT_TOKEN=server.token, TELEGRAM_BASE_URL=server.base_url, DATA_DIR=state
    )
    result = run_bot_to_exit(env)
    assert result.returncode == 2, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("reports-bot:")]
    assert "reports-bot.sqlite3" in line and "move it away" in line
    assert "Traceback" not in result.stderr
