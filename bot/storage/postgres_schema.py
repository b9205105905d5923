"""The PostgreSQL schema (`bot/storage/postgres.py`), as numbered migrations.

Step N of MIGRATIONS takes the database from version N - 1 to N; the versions
applied are rows of `schema_version`.  `migrate` runs at every start, in one
transaction that first takes an advisory lock, so replicas starting together
queue up: the first applies the steps, the others find them done.  A database
migrated by a newer reports-bot (a version this code does not know) is refused.
A step, once released, is never edited: a change is a new step at the end.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg import Connection

from bot.storage.records import StoreError

# pg_advisory_xact_lock's key for migrations: any fixed number, the same in every replica.
MIGRATION_LOCK = 7_236_178_411_035_209_561

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
)"""

# The statements of step 1, step 2…: MIGRATIONS[N - 1] makes version N.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: SQLite's schema 4 (bot/storage/sqlite_schema.py), the update journal, the pushes.
    (
        """CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            title TEXT,
            etag TEXT,
            last_modified TEXT,
            ok_at DOUBLE PRECISION
        )""",
        """CREATE TABLE entries (
            feed_url TEXT NOT NULL,
            key TEXT NOT NULL,
            report TEXT NOT NULL,
            digest TEXT NOT NULL,
            first_seen DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            -- The order entries were first seen in, across all feeds: higher is newer.
            arrival BIGINT NOT NULL,
            PRIMARY KEY (feed_url, key)
        )""",
        "CREATE INDEX entries_by_arrival ON entries (feed_url, arrival)",
        """CREATE TABLE subscriptions (
            chat_id BIGINT NOT NULL,
            topic_key TEXT NOT NULL,
            topic TEXT NOT NULL,
            user_id BIGINT,
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (chat_id, topic_key)
        )""",
        """CREATE TABLE channel_posts (
            chat_id BIGINT NOT NULL,
            message_id BIGINT NOT NULL,
            report TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (chat_id, message_id)
        )""",
        # The update journal (bot/reliability/), shared by the replicas.
        """CREATE TABLE updates (
            update_id BIGINT PRIMARY KEY,
            state TEXT NOT NULL,
            payload TEXT,
            replays INTEGER NOT NULL DEFAULT 0,
            received_at DOUBLE PRECISION NOT NULL,
            claimed_by TEXT,
            claimed_at DOUBLE PRECISION
        )""",
        "CREATE INDEX updates_by_state ON updates (state, received_at)",
        # One row per rate budget: the times of the requests it let through in the
        # window, and when the newest of them leaves it (rows past that are pruned).
        """CREATE TABLE budgets (
            key TEXT PRIMARY KEY,
            times DOUBLE PRECISION[] NOT NULL,
            allowed BOOLEAN NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX budgets_by_expiry ON budgets (expires_at)",
        # Which new reports were pushed to subscribers, so one replica pushes each once.
        """CREATE TABLE pushed (
            report_id TEXT PRIMARY KEY,
            pushed_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    # 2: SQLite's schema 5: who uploaded each report file kept in REPORTS_DIR/uploads/.
    (
        """CREATE TABLE uploads (
            name TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL,
            chat_id BIGINT NOT NULL,
            size BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            uploaded_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    # 3: SQLite's schema 6: the language_code a chat's pushes are written in (NULL,
    # English, for the rows already there).
    ("ALTER TABLE subscriptions ADD COLUMN language TEXT",),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Connection[Any], where: str) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it had (0: empty).
    `where` names the database (its URL without the password) in errors."""
    with db.transaction():
        # A big table's step may take longer than the bot's statement timeout.
        db.execute("SET LOCAL statement_timeout = '10min'")
        db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        db.execute(_VERSION_TABLE)
        row = db.execute("SELECT COALESCE(max(version), 0) FROM schema_version").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"the database at {where} was migrated by a newer reports-bot (schema "
                f"{found}, this one knows {SCHEMA_VERSION}): upgrade the bot, or point "
                "DATABASE_URL at another database"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                (version, time.time()),
            )
    return found
