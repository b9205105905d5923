"""The SQLite state file: feed validators, entries and subscriptions survive a reopen;
a broken or foreign file is refused with a message that says what to do."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.store import Store, StoreError, report_from_json, report_to_json
from bot.store_schema import SCHEMA_VERSION
from retrieval.feed_format import report_id
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
        author="Jane Doe",
        pages=(1, 1, 2),
    )
    # Every field: a field added to Report and forgotten here would be lost on a restart.
    assert {f.name for f in fields(Report)} <= json.loads(report_to_json(original)).keys()
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
    assert again.entry_digests("https://example.org/rss", ["guid-1", "guid-2"]) == {"guid-1": "d1"}
    assert again.entry_digests("https://other.example/rss", ["guid-1"]) == {}
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
    found = store.entry_digests("https://a.example/rss", (f"k{i}" for i in range(0, 2400, 2)))
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


# -- entries of several feeds, the bounded archive, damaged rows ----------------------------

A, B = "https://a.example/rss", "https://b.example/rss"


def test_two_feeds_may_use_the_same_key(path: Path) -> None:
    store = Store.open(path)
    store.save_entries(A, [("https://wire.example/1", report(1), "d1")])
    store.save_entries(B, [("https://wire.example/1", report(2, "Other text."), "d2")])
    assert [e.report for e in store.entries([A])] == [report(1)]
    assert [e.report for e in store.entries([B])] == [report(2, "Other text.")]
    assert store.entry_digests(A, ["https://wire.example/1"]) == {"https://wire.example/1": "d1"}


def test_saving_prunes_the_oldest_beyond_keep_and_returns_their_report_ids(path: Path) -> None:
    store = Store.open(path)
    for number in range(1, 4):  # one save each: g3 is the newest
        assert store.save_entries(A, [(f"g{number}", report(number), "d")], keep=3) == []
    store.save_entries(B, [("g9", report(9), "d")], keep=1)
    # Given newest first: g5 counts as seen after g4.
    pruned = store.save_entries(A, [("g5", report(5), "d"), ("g4", report(4), "d")], keep=3)
    assert pruned == [report_id(A, "g1"), report_id(A, "g2")]  # oldest first
    assert [e.key for e in store.entries([A])] == ["g3", "g4", "g5"]
    assert [e.key for e in store.entries([B])] == ["g9"]  # another feed's archive is its own
    # Listed keys stay, however old; an update keeps an entry's place.
    store.save_entries(A, [("g3", report(3, "Updated."), "d2")])
    pruned = store.save_entries(A, [("g6", report(6), "d")], keep=2, listed=["g6", "g3"])
    assert pruned == [report_id(A, "g4"), report_id(A, "g5")]
    assert [e.key for e in store.entries([A])] == ["g3", "g6"]


def test_entries_loads_each_feeds_newest_keep(path: Path) -> None:
    store = Store.open(path)
    for number in range(1, 6):
        store.save_entries(A, [(f"a{number}", report(number), "d")])
        store.save_entries(B, [(f"b{number}", report(number), "d")])
    assert [e.key for e in store.entries([A, B], keep=2)] == ["a4", "a5", "b4", "b5"]
    assert len(store.entries([A, B])) == 10


def test_a_stored_entry_that_cannot_be_read_is_skipped_alone(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(path)
    store.save_entries(A, [(f"g{n}", report(n), "d") for n in (1, 2, 3, 4)])
    store.close()
    with sqlite3.connect(path) as db:  # a damaged disk, a hand edit, a half-written row
        db.execute('UPDATE entries SET report = \'{"id": "feed-2", "ti\' WHERE key = \'g2\'')
        db.execute("UPDATE entries SET report = '{\"id\": \"feed-3\"}' WHERE key = 'g3'")
    again = Store.open(path)
    with caplog.at_level("WARNING", logger="bot.store"):
        loaded = again.entries([A])
    assert sorted(e.key for e in loaded) == ["g1", "g4"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all(A in line for line in lines)
    assert "'g2'" in lines[0] + lines[1] and "'g3'" in lines[0] + lines[1]


# -- the migration from version 1 ----------------------------------------------------------

# The schema reports-bot wrote before entries were keyed by feed (user_version 1).
V1_SCHEMA = """
CREATE TABLE feeds (url TEXT PRIMARY KEY, title TEXT, etag TEXT, last_modified TEXT,
    ok_at REAL);
CREATE TABLE entries (key TEXT PRIMARY KEY, feed_url TEXT NOT NULL, report TEXT NOT NULL,
    digest TEXT NOT NULL, first_seen REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX entries_by_feed ON entries (feed_url, first_seen);
CREATE TABLE subscriptions (chat_id INTEGER NOT NULL, topic_key TEXT NOT NULL,
    topic TEXT NOT NULL, user_id INTEGER, created_at REAL NOT NULL,
    PRIMARY KEY (chat_id, topic_key));
PRAGMA user_version=1;
"""


def write_v1(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute(
            "INSERT INTO feeds VALUES (?, 'Coast News', '\"v7\"', 'Tue', 1700000000.0)", (A,)
        )
        db.execute("INSERT INTO subscriptions VALUES (5, 'wheat', 'Wheat', 9, 1700000000.0)")
        # As version 1 saved them: one fetch's new entries in the feed's order (newest
        # first), all with one first_seen; then a later fetch; then another feed.
        rows = [
            ("https://a.example/3", A, report(3), 100.0),
            (f"{A}#2", A, report(2), 100.0),  # a bare guid, prefixed with its feed
            ("https://a.example/1", A, report(1), 100.0),
            ("https://a.example/4", A, report(4), 200.0),
            ("https://wire.example/9", B, report(9), 300.0),
        ]
        db.executemany(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
            [(k, f, report_to_json(r), f"d-{k}", t, t) for k, f, r, t in rows],
        )
        db.execute("INSERT INTO entries VALUES ('broken', ?, '{not json', 'd', 400.0, 400.0)", (A,))


def test_a_version_1_file_is_migrated_keeping_every_row(path: Path) -> None:
    write_v1(path)
    store = Store.open(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        columns = [row[1] for row in db.execute("PRAGMA table_info(entries)")]
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 6
    assert {"feed_url", "key", "arrival"} <= set(columns)
    entries = store.entries([A])
    # Oldest first, as they arrived; the unreadable row is kept in the file, skipped here.
    assert [e.key for e in entries] == [
        "https://a.example/1",
        f"{A}#2",
        "https://a.example/3",
        "https://a.example/4",
    ]
    # Each report's id is now made from its feed and key; nothing else changed.
    for entry, number in zip(entries, (1, 2, 3, 4), strict=True):
        assert entry.report == replace(report(number), id=report_id(A, entry.key))
        assert entry.digest == f"d-{entry.key}"
    [other] = store.entries([B])
    assert other.report.id == report_id(B, "https://wire.example/9")
    # Feed state and subscriptions are untouched; the digests still match the feed.
    state = store.feed_state(A)
    assert state is not None and (state.etag, state.ok_at) == ('"v7"', 1700000000.0)
    assert [s.topic for s in store.subscriptions(5)] == ["Wheat"]
    assert store.entry_digests(A, ["https://a.example/4"]) == {
        "https://a.example/4": "d-https://a.example/4"
    }
    # What version 1 could not hold: another feed with the same guid.
    store.save_entries(B, [("https://a.example/4", report(8), "d8")])
    assert [e.report.id for e in store.entries([A])][-1] == report_id(A, "https://a.example/4")
    store.close()
    assert len(Store.open(path).entries([A, B])) == 6  # opening again changes nothing
