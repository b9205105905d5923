"""The schema of the state file (`bot/storage/sqlite.py`) and the migrations from older ones.

The version is SQLite's `user_version`.  `migrate` upgrades a file written by an
older reports-bot in place, in one transaction, keeping its rows; `SqliteStore.open`
refuses a file newer than SCHEMA_VERSION.  Version 3 added `channel_posts`, 4 `budgets`,
5 `uploads`, 6 the language of a chat's subscriptions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from retrieval.feed_format import report_id

# 2: entries keyed by (feed_url, key), not by key alone; `arrival` orders them.
# 3: channel_posts, the posts of CHANNEL_IDS kept as reports.
# 4: budgets, the requests each rate budget counted (`SqliteStore.spend`).
# 5: uploads, who uploaded each report file kept in REPORTS_DIR/uploads/.
# 6: subscriptions.language, the language_code a chat's pushes are written in.
SCHEMA_VERSION = 6

_ENTRIES = """
CREATE TABLE {name} (
    feed_url TEXT NOT NULL,
    key TEXT NOT NULL,
    report TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen REAL NOT NULL,
    updated_at REAL NOT NULL,
    -- The order entries were first seen in, across all feeds: higher is newer.
    arrival INTEGER NOT NULL,
    PRIMARY KEY (feed_url, key)
)"""

_CHANNEL_POSTS = """
CREATE TABLE {name} (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    report TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (chat_id, message_id)
)"""

# One row per request a budget let through; a row leaves once it is a window old.
_BUDGETS = """
CREATE TABLE {name} (
    key TEXT NOT NULL,
    at REAL NOT NULL,
    expires_at REAL NOT NULL
)"""

# One row per file kept in REPORTS_DIR/uploads/ (by its name there); a re-upload
# replaces it.
_UPLOADS = """
CREATE TABLE {name} (
    name TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at REAL NOT NULL
)"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    ok_at REAL
);
{_ENTRIES.format(name="IF NOT EXISTS entries")};
CREATE INDEX IF NOT EXISTS entries_by_arrival ON entries (feed_url, arrival);
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id INTEGER NOT NULL,
    topic_key TEXT NOT NULL,
    topic TEXT NOT NULL,
    user_id INTEGER,
    created_at REAL NOT NULL,
    -- Last, where the 5 → 6 migration's ALTER TABLE puts it.
    language TEXT,
    PRIMARY KEY (chat_id, topic_key)
);
{_CHANNEL_POSTS.format(name="IF NOT EXISTS channel_posts")};
{_BUDGETS.format(name="IF NOT EXISTS budgets")};
CREATE INDEX IF NOT EXISTS budgets_by_key ON budgets (key, at);
CREATE INDEX IF NOT EXISTS budgets_by_expiry ON budgets (expires_at);
{_UPLOADS.format(name="IF NOT EXISTS uploads")};
"""


@contextmanager
def transaction(connection: sqlite3.Connection, *, immediate: bool = False) -> Iterator[None]:
    """One explicit transaction on a connection in autocommit mode (isolation_level=None),
    rolled back when the block raises.  `immediate` takes the write lock at once, so a
    second writer waits instead of failing halfway."""
    connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


# -- migrations -------------------------------------------------------------------------


def migrate(connection: sqlite3.Connection) -> None:
    """Bring a file written by an older reports-bot up to SCHEMA_VERSION, keeping its rows,
    in one transaction: a crash leaves the old file as it was."""
    with transaction(connection, immediate=True):  # a second process waits, then finds it done
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, SCHEMA_VERSION):
            _MIGRATIONS[step](connection)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _entries_by_feed(db: sqlite3.Connection) -> None:
    """1 → 2: entries keyed by (feed_url, key), not key alone; report ids made from
    both (`report_id`); `arrival` numbered.

    Version 1 saved a fetch's new entries in the feed's order, newest first, all with
    one first_seen: (first_seen, rowid descending) is the order they arrived in.
    """
    db.execute(_ENTRIES.format(name="entries_v2"))
    rows = db.execute(
        "SELECT feed_url, key, report, digest, first_seen, updated_at FROM entries "
        "ORDER BY first_seen, rowid DESC"
    ).fetchall()
    db.executemany(
        "INSERT INTO entries_v2 (feed_url, key, report, digest, first_seen, updated_at, "
        "arrival) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (feed_url, key, _with_id(report, report_id(feed_url, key)), *rest, arrival)
            for arrival, (feed_url, key, report, *rest) in enumerate(rows, 1)
        ],
    )
    db.execute("DROP TABLE entries")
    db.execute("ALTER TABLE entries_v2 RENAME TO entries")


def _with_id(report: str, new_id: str) -> str:
    try:
        record = json.loads(report)
        record["id"] = new_id
    except (ValueError, TypeError):  # unreadable: kept, and skipped with a warning on load
        return report
    return json.dumps(record, ensure_ascii=False)


def _channel_posts(db: sqlite3.Connection) -> None:
    """2 → 3: a table for channel posts (none were kept before)."""
    db.execute(_CHANNEL_POSTS.format(name="channel_posts"))


def _budgets(db: sqlite3.Connection) -> None:
    """3 → 4: a table for the rate budgets (kept in memory before); SCHEMA adds its
    indexes."""
    db.execute(_BUDGETS.format(name="IF NOT EXISTS budgets"))


def _uploads(db: sqlite3.Connection) -> None:
    """4 → 5: a table for who uploaded which report file (nobody was recorded before)."""
    db.execute(_UPLOADS.format(name="IF NOT EXISTS uploads"))


def _subscription_language(db: sqlite3.Connection) -> None:
    """5 → 6: the language of a subscription (none was kept before: NULL, English, until
    someone in the chat subscribes again).  Like the steps before it, a no-op where the
    change is already there."""
    if "language" not in {column[1] for column in db.execute("PRAGMA table_info(subscriptions)")}:
        db.execute("ALTER TABLE subscriptions ADD COLUMN language TEXT")


# From version N to N + 1.
_MIGRATIONS = {
    1: _entries_by_feed,
    2: _channel_posts,
    3: _budgets,
    4: _uploads,
    5: _subscription_language,
}
