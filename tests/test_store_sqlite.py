"""What only the SQLite state file has: write-ahead logging, SQLite's user_version and
the migrations from files older reports-bots wrote, and advice for a file that is
damaged, foreign, newer, or in a place the bot cannot write."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.storage import open_store
from bot.storage.records import StoreError, report_to_json
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_schema import SCHEMA_VERSION
from retrieval.feed_format import report_id
from tests.stores import report


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "reports-bot.sqlite3"


def test_without_database_url_the_state_is_the_file_in_data_dir(tmp_path: Path) -> None:
    with open_store(Settings(data_dir=tmp_path)) as store:
        assert isinstance(store, SqliteStore) and not store.shared
        assert store.path == tmp_path / "reports-bot.sqlite3"


# A fresh interpreter: the tests themselves import psycopg (tests/stores.py).
_IMPORTS_OF_A_SQLITE_BOT = """
import sys
from pathlib import Path
import bot.app, bot.cli, bot.runner
from bot.config import Settings
from bot.storage import open_store
open_store(Settings(data_dir=Path(sys.argv[1]))).close()
print(" ".join(sorted(name for name in sys.modules if name.startswith("psycopg"))))
"""


@pytest.mark.slow
def test_a_bot_without_database_url_never_imports_psycopg(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_OF_A_SQLITE_BOT, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == ""


def test_the_file_uses_write_ahead_logging(path: Path) -> None:
    SqliteStore.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_file_that_is_not_a_database_is_refused_with_advice(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite " * 100)
    with pytest.raises(StoreError, match="move it away"):
        SqliteStore.open(path)


def test_a_file_from_a_newer_version_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer reports-bot"):
        SqliteStore.open(path)


def test_an_unwritable_place_is_refused_with_advice(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="DATA_DIR"):
        SqliteStore.open(blocker / "reports-bot.sqlite3")


def test_a_version_3_file_gets_the_budgets_table_keeping_its_rows(path: Path) -> None:
    with SqliteStore.open(path) as store:
        store.subscribe(5, "dams", 5)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE budgets")
        db.execute("DROP TABLE uploads")
        db.execute("ALTER TABLE subscriptions DROP COLUMN language")
        db.execute("PRAGMA user_version=3")
    with SqliteStore.open(path) as store:
        assert [s.topic for s in store.subscriptions(5)] == ["dams"]
        assert store.spend("questions:5", 1, 60.0, 100.0).allowed
        assert not store.spend("questions:5", 1, 60.0, 101.0).allowed
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6


# The uploads table as schema 5 made it; version 4 had none.
UPLOADS_COLUMNS = [
    ("name", "TEXT", 1),
    ("user_id", "INTEGER", 0),
    ("chat_id", "INTEGER", 0),
    ("size", "INTEGER", 0),
    ("sha256", "TEXT", 0),
    ("uploaded_at", "REAL", 0),
]


def write_v4(path: Path) -> None:
    """A file as reports-bot wrote it at schema 4 (no uploads table, subscriptions without
    a language), with a row in every table."""
    with SqliteStore.open(path) as store:
        store.save_feed_state(A, "Coast News", '"v7"', None)
        store.save_entries(A, [("g1", report(1), "d1")])
        store.subscribe(5, "dams", 5)
        store.save_channel_post(-1001, 7, report(2))
        assert store.spend("questions:5", 2, 60.0, 100.0).allowed
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE uploads")
        db.execute("ALTER TABLE subscriptions DROP COLUMN language")
        db.execute("PRAGMA user_version=4")


def test_a_version_4_file_gets_an_empty_uploads_table_keeping_every_other_row(
    path: Path,
) -> None:
    write_v4(path)
    with sqlite3.connect(path) as db:
        assert (
            db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'uploads'").fetchone()[0]
            == 0
        )
    with SqliteStore.open(path) as store:
        assert store.uploads() == []
        state = store.feed_state(A)
        assert state is not None and state.title == "Coast News" and state.etag == '"v7"'
        assert [(e.key, e.report, e.digest) for e in store.entries([A])] == [
            ("g1", report(1), "d1")
        ]
        assert [s.topic for s in store.subscriptions(5)] == ["dams"]
        assert store.channel_posts({-1001}) == [report(2)]
        assert store.spend("questions:5", 2, 60.0, 101.0).allowed  # the one at 100 counted
        assert not store.spend("questions:5", 2, 60.0, 102.0).allowed
        store.record_upload("glacier.txt", 8, 8, 10, "c" * 64)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        columns = [(c[1], c[2], c[5]) for c in db.execute("PRAGMA table_info(uploads)")]
        assert columns == UPLOADS_COLUMNS
        assert db.execute("SELECT name, user_id, size FROM uploads").fetchall() == [
            ("glacier.txt", 8, 10)
        ]


def test_a_fresh_file_gets_the_uploads_table_the_migration_makes(path: Path) -> None:
    SqliteStore.open(path).close()
    with sqlite3.connect(path) as db:
        columns = [(c[1], c[2], c[5]) for c in db.execute("PRAGMA table_info(uploads)")]
    assert columns == UPLOADS_COLUMNS


# The subscriptions table as schema 6 made it (version 5 had no language).
SUBSCRIPTIONS_COLUMNS = [
    ("chat_id", "INTEGER", 1),
    ("topic_key", "TEXT", 2),
    ("topic", "TEXT", 0),
    ("user_id", "INTEGER", 0),
    ("created_at", "REAL", 0),
    ("language", "TEXT", 0),
]


def write_v5(path: Path) -> None:
    """A file as reports-bot wrote it at schema 5 (subscriptions without a language), with
    a subscription in a private chat and two in a group, and a row in every other table."""
    write_v4(path)
    with SqliteStore.open(path) as store:
        store.record_upload("glacier.txt", 8, 8, 10, "c" * 64)
        store.subscribe(-100, "wheat", 1)
        store.subscribe(-100, "barley", 2)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE subscriptions DROP COLUMN language")
        db.execute("PRAGMA user_version=5")


def test_a_version_5_file_gets_subscription_languages_keeping_every_row(path: Path) -> None:
    write_v5(path)
    with sqlite3.connect(path) as db:
        assert "language" not in [c[1] for c in db.execute("PRAGMA table_info(subscriptions)")]
    with SqliteStore.open(path) as store:
        # Every subscription is kept, in English until someone in its chat subscribes.
        assert [(s.chat_id, s.topic, s.user_id, s.language) for s in store.subscriptions()] == [
            (5, "dams", 5, None),
            (-100, "wheat", 1, None),
            (-100, "barley", 2, None),
        ]
        assert [r.name for r in store.uploads()] == ["glacier.txt"]
        assert [(e.key, e.report) for e in store.entries([A])] == [("g1", report(1))]
        assert store.channel_posts({-1001}) == [report(2)]
        assert not store.subscribe(-100, "Wheat", 3, language="de")  # subscribing again
        assert [s.language for s in store.subscriptions(-100)] == ["de", "de"]
        assert [s.language for s in store.subscriptions(5)] == [None]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        columns = [(c[1], c[2], c[5]) for c in db.execute("PRAGMA table_info(subscriptions)")]
        assert columns == SUBSCRIPTIONS_COLUMNS
    with SqliteStore.open(path) as again:  # opening again changes nothing
        assert [s.language for s in again.subscriptions(-100)] == ["de", "de"]


def test_a_fresh_file_gets_the_subscriptions_table_the_migration_makes(path: Path) -> None:
    SqliteStore.open(path).close()
    with sqlite3.connect(path) as db:
        columns = [(c[1], c[2], c[5]) for c in db.execute("PRAGMA table_info(subscriptions)")]
    assert columns == SUBSCRIPTIONS_COLUMNS


# -- the migration from version 1 ----------------------------------------------------------

A, B = "https://a.example/rss", "https://b.example/rss"

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
    store = SqliteStore.open(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
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
    with SqliteStore.open(path) as again:
        assert len(again.entries([A, B])) == 6  # opening again changes nothing
