"""The SQLite state file: feed validators, entries and subscriptions survive a reopen;
a broken or foreign file is refused with a message that says what to do."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Store, StoreError, report_from_json, report_to_json
from retrieval.models import Report
from tests.conftest import make_report


def report(number: int, text: str = "The ferry sailed at dawn.") -> Report:
    return make_report(
        f"Story {number} <b>&",
        paragraphs=(text, "Second paragraph — with “quotes”."),
        report_id=f"feed-{number}",
        published=datetime(2024, 5, number, 9, 30, tzinfo=UTC),
        source="Coast News",
        url=f"https://example.org/{number}",
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "reports-bot.sqlite3"


def test_reports_round_trip_through_json_exactly() -> None:
    original = Report(
        id="x",
        title="T",
        paragraphs=("a", "b"),
        published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        published_from_mtime=True,
        source=None,
        url=None,
        caption="c",
        caption_credit="AP",
        path="/r/x.txt",
    )
    assert report_from_json(report_to_json(original)) == original


def test_feed_state_and_entries_survive_a_reopen(path: Path) -> None:
    store = Store.open(path)
    assert store.feed_state("https://example.org/rss") is None
    store.save_entries("https://example.org/rss", [("guid-1", report(1), "d1")])
    store.save_feed_state("https://example.org/rss", "Coast News", '"v1"', "Tue, 02 May 2024")
    store.close()

    again = Store.open(path)
    state = again.feed_state("https://example.org/rss")
    assert state is not None
    assert (state.title, state.etag, state.last_modified) == (
        "Coast News",
        '"v1"',
        "Tue, 02 May 2024",
    )
    assert state.ok_at is not None
    assert again.entry_digests(["guid-1", "guid-2"]) == {"guid-1": "d1"}
    [entry] = again.entries(["https://example.org/rss"])
    assert (entry.key, entry.report, entry.digest) == ("guid-1", report(1), "d1")
    assert again.entries(["https://other.example/rss"]) == []


def test_an_updated_entry_replaces_the_stored_one(path: Path) -> None:
    store = Store.open(path)
    store.save_entries("https://a.example/rss", [("g", report(1), "d1")])
    store.save_entries("https://a.example/rss", [("g", report(1, "Changed text."), "d2")])
    [entry] = store.entries(["https://a.example/rss"])
    assert entry.digest == "d2" and entry.report.paragraphs[0] == "Changed text."


def test_many_keys_are_looked_up_in_chunks(path: Path) -> None:
    store = Store.open(path)
    rows = [(f"k{i}", report(1 + i % 28), f"d{i}") for i in range(1200)]
    store.save_entries("https://a.example/rss", rows)
    found = store.entry_digests(f"k{i}" for i in range(0, 2400, 2))
    assert len(found) == 600 and found["k1198"] == "d1198"


def test_subscriptions_are_per_chat_case_and_space_insensitive_and_survive(path: Path) -> None:
    store = Store.open(path)
    assert store.subscribe(1, "Refugees  Turkey", user_id=1)
    assert not store.subscribe(1, "refugees turkey", user_id=1)  # the same topic
    assert store.subscribe(1, "wheat harvest", user_id=1)
    assert store.subscribe(-100, "refugees Turkey", user_id=7)  # another chat
    store.close()

    again = Store.open(path)
    assert [s.topic for s in again.subscriptions(1)] == ["Refugees Turkey", "wheat harvest"]
    assert [(s.chat_id, s.user_id) for s in again.subscriptions(-100)] == [(-100, 7)]
    assert len(again.subscriptions()) == 3
    assert again.unsubscribe(1, "REFUGEES turkey")
    assert not again.unsubscribe(1, "refugees turkey")
    assert again.unsubscribe_all(1) == 1
    assert again.subscriptions(1) == []
    assert len(again.subscriptions()) == 1


def test_a_migrated_group_takes_its_subscriptions_along(path: Path) -> None:
    store = Store.open(path)
    store.subscribe(-5, "wheat", user_id=1)
    store.subscribe(-5, "barley", user_id=1)
    store.subscribe(-1005, "barley", user_id=2)  # already there under the new id
    store.move_chat(-5, -1005)
    assert store.subscriptions(-5) == []
    assert sorted(s.topic for s in store.subscriptions(-1005)) == ["barley", "wheat"]


def test_the_file_uses_write_ahead_logging(path: Path) -> None:
    Store.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_threads_share_one_store(path: Path) -> None:
    store = Store.open(path)

    def subscribe(chat: int) -> None:
        for n in range(50):
            store.subscribe(chat, f"topic {n}", user_id=chat)

    threads = [threading.Thread(target=subscribe, args=(chat,)) for chat in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.subscriptions()) == 200


def test_a_file_that_is_not_a_database_is_refused_with_advice(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite " * 100)
    with pytest.raises(StoreError, match="move it away"):
        Store.open(path)


def test_a_file_from_a_newer_version_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer reports-bot"):
        Store.open(path)


def test_an_unwritable_place_is_refused_with_advice(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="DATA_DIR"):
        Store.open(blocker / "reports-bot.sqlite3")
