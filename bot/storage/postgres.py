"""The bot's own state in PostgreSQL (DATABASE_URL set): one state for every replica.

The tables and what they mean are SQLite's (`bot/storage/sqlite.py`), plus what
only replicas need: `updates` (the shared update journal) and `pushed` (which new
reports were pushed); `budgets` holds each user's rate budget, counted across
replicas (`bot/storage/postgres_budgets.py`).  The schema is migrated at start
(`bot/storage/postgres_schema.py`).

Calls take a connection from a small pool (`open_pool`) of autocommit
connections, with an explicit transaction wherever the SQLite store uses one.
The timeouts are short (`bot/storage/postgres_pool.py`) because the store is
called from the event loop: a database that is down costs a few seconds and a
StoreError that says what to check, never a hang.  `.pool` is public: the
update journal and the leader election use the same connections.  Nothing here
knows about Telegram.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import PoolClosed, PoolTimeout

from bot.storage.postgres_budgets import PRUNE_EVERY
from bot.storage.postgres_budgets import spend as spend_budget
from bot.storage.postgres_pool import (
    ADVICE,
    POOL_TIMEOUT_SECONDS,
    STATEMENT_TIMEOUT_MS,
    Pool,
    drop_broken,
    hide_password,
    one_line,
    open_pool,
)
from bot.storage.postgres_schema import SCHEMA_VERSION, migrate
from bot.storage.records import (
    Decision,
    FeedState,
    StoredEntry,
    StoreError,
    Subscription,
    UploadRecord,
    prune_order,
    report_to_json,
    stored_entries,
    stored_posts,
    topic_key,
)
from retrieval.feed_format import report_id
from retrieval.models import Report

log = logging.getLogger(__name__)

# The pool's names too: the update journal and the leader election share the store's.
__all__ = ["Pool", "PostgresStore", "hide_password", "open_pool"]

# pg_advisory_xact_lock's key for saving entries: one saver at a time numbers `arrival`.
ENTRIES_LOCK = 7_236_178_411_035_209_562
# Claimed pushes are forgotten after this long: no report is new for that long.
PUSHED_KEEP_SECONDS = 30 * 86400.0


class PostgresStore:
    """The state in one PostgreSQL database, through a pool: safe to share between the
    event loop, worker threads and other replicas."""

    # Replicas share it: the rate budgets live here too (bot/state.py).
    shared = True

    def __init__(self, pool: Pool, where: str) -> None:
        self.pool = pool
        # The database's URL without its password, for messages.
        self.where = where
        self._spends = itertools.count(1)

    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Connect, migrate the schema (bot/storage/postgres_schema.py) and serve."""
        where = hide_password(url)
        pool = open_pool(url)
        try:
            with pool.connection() as db:
                found = migrate(db, where)
        except psycopg.Error as error:
            pool.close()
            raise StoreError(
                f"cannot migrate the database at {where} ({one_line(error)}): {ADVICE}"
            ) from error
        except BaseException:
            pool.close()
            raise
        migrated = f", migrated from {found}" if found < SCHEMA_VERSION else ""
        log.info("state in PostgreSQL at %s (schema %d%s)", where, SCHEMA_VERSION, migrated)
        return cls(pool, where)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _db(self) -> Iterator[Connection[TupleRow]]:
        """A connection from the pool; any failure of the database is a StoreError."""
        try:
            with self.pool.connection() as db:
                yield db
        except psycopg.Error as error:
            if isinstance(error, psycopg.OperationalError) and not isinstance(
                error, PoolTimeout | PoolClosed | psycopg.errors.QueryCanceled
            ):
                drop_broken(self.pool)
            raise self._failure(error) from error

    def _failure(self, error: psycopg.Error) -> StoreError:
        reason = one_line(error)
        if isinstance(error, PoolTimeout):
            what = f"no connection to PostgreSQL at {self.where} within {POOL_TIMEOUT_SECONDS:g} s"
        elif isinstance(error, PoolClosed):
            what = f"the store of {self.where} is closed"
        elif isinstance(error, psycopg.errors.QueryCanceled):
            what = f"PostgreSQL at {self.where} took over {STATEMENT_TIMEOUT_MS} ms ({reason})"
        else:
            what = f"PostgreSQL at {self.where} failed ({type(error).__name__}: {reason})"
        return StoreError(f"{what}: {ADVICE}")

    def _rows(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[Any]:
        with self._db() as db:
            return db.execute(sql, params).fetchall()

    def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        with self._db() as db:
            return db.execute(sql, params).rowcount

    def ping(self) -> None:
        self._rows("SELECT 1")

    # -- feeds ------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState | None:
        rows = self._rows(
            "SELECT url, title, etag, last_modified, ok_at FROM feeds WHERE url = %s", (url,)
        )
        return FeedState(*rows[0]) if rows else None

    def save_feed_state(
        self, url: str, title: str | None, etag: str | None, last_modified: str | None
    ) -> None:
        self._write(
            "INSERT INTO feeds (url, title, etag, last_modified, ok_at) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (url) DO UPDATE SET title = excluded.title, etag = excluded.etag, "
            "last_modified = excluded.last_modified, ok_at = excluded.ok_at",
            (url, title, etag, last_modified, time.time()),
        )

    def entry_digests(self, feed_url: str, keys: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        rows = self._rows(
            "SELECT key, digest FROM entries WHERE feed_url = %s AND key = ANY(%s::text[])",
            (feed_url, wanted),
        )
        return dict(rows)

    def save_entries(
        self,
        feed_url: str,
        entries: Sequence[tuple[str, Report, str]],
        *,
        keep: int | None = None,
        listed: Iterable[str] = (),
    ) -> list[str]:
        now = time.time()
        with self._db() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (ENTRIES_LOCK,))
            row = db.execute("SELECT COALESCE(max(arrival), 0) FROM entries").fetchone()
            base = (row[0] if row else 0) + len(entries)
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO entries (feed_url, key, report, digest, first_seen, "
                    "updated_at, arrival) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (feed_url, key) DO UPDATE SET report = excluded.report, "
                    "digest = excluded.digest, updated_at = excluded.updated_at",
                    [
                        (feed_url, key, report_to_json(r), digest, now, now, base - number)
                        for number, (key, r, digest) in enumerate(entries)
                    ],
                )
            pruned = [] if keep is None else self._prune(db, feed_url, keep, set(listed))
        return [report_id(feed_url, key) for key in pruned]

    def _prune(
        self, db: Connection[TupleRow], feed_url: str, keep: int, listed: set[str]
    ) -> list[str]:
        keys = [
            key
            for (key,) in db.execute(
                "SELECT key FROM entries WHERE feed_url = %s ORDER BY arrival DESC", (feed_url,)
            )
        ]
        doomed = prune_order(keys, keep, listed)
        if doomed:
            db.execute(
                "DELETE FROM entries WHERE feed_url = %s AND key = ANY(%s::text[])",
                (feed_url, doomed),
            )
        return doomed

    def entries(self, feed_urls: Iterable[str], *, keep: int | None = None) -> list[StoredEntry]:
        stored: list[StoredEntry] = []
        for url in dict.fromkeys(feed_urls):
            rows = self._rows(
                "SELECT key, report, digest FROM entries WHERE feed_url = %s "
                "ORDER BY arrival DESC LIMIT %s",
                (url, keep),  # LIMIT NULL: all
            )
            stored += stored_entries(url, reversed(rows))
        return stored

    def entries_version(self) -> tuple[int, float]:
        [(count, changed)] = self._rows(
            "SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM channel_posts), "
            "greatest(COALESCE((SELECT max(updated_at) FROM entries), 0), "
            "COALESCE((SELECT max(updated_at) FROM channel_posts), 0))"
        )
        return int(count), float(changed)

    # -- channel posts -----------------------------------------------------------

    def save_channel_post(self, chat_id: int, message_id: int, report: Report) -> None:
        self._write(
            "INSERT INTO channel_posts (chat_id, message_id, report, updated_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (chat_id, message_id) DO UPDATE "
            "SET report = excluded.report, updated_at = excluded.updated_at",
            (chat_id, message_id, report_to_json(report), time.time()),
        )

    def forget_channel_post(self, chat_id: int, message_id: int) -> bool:
        return bool(
            self._write(
                "DELETE FROM channel_posts WHERE chat_id = %s AND message_id = %s",
                (chat_id, message_id),
            )
        )

    def channel_posts(self, chat_ids: Iterable[int]) -> list[Report]:
        reports: list[Report] = []
        for chat_id in sorted(set(chat_ids)):
            rows = self._rows(
                "SELECT message_id, report FROM channel_posts WHERE chat_id = %s "
                "ORDER BY message_id",
                (chat_id,),
            )
            reports += stored_posts(chat_id, rows)
        return reports

    # -- subscriptions ----------------------------------------------------------

    def subscribe(
        self, chat_id: int, topic: str, user_id: int | None, language: str | None = None
    ) -> bool:
        # PostgreSQL's text cannot hold NUL (SQLite's can): one must not fail the command.
        topic = topic.replace("\x00", "")
        language = language.replace("\x00", "") if language is not None else None
        with self._db() as db, db.transaction():
            added = db.execute(
                "INSERT INTO subscriptions (chat_id, topic_key, topic, user_id, created_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (chat_id, topic_key(topic), " ".join(topic.split()), user_id, time.time()),
            ).rowcount
            db.execute(  # the new row's language too
                "UPDATE subscriptions SET language = %s WHERE chat_id = %s", (language, chat_id)
            )
        return added == 1

    def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        where, params = ("WHERE chat_id = %s", (chat_id,)) if chat_id is not None else ("", ())
        # COLLATE "C": the byte order SQLite uses, whatever the database's locale.
        rows = self._rows(
            f"SELECT chat_id, topic, user_id, created_at, language FROM subscriptions {where} "
            'ORDER BY created_at, chat_id, topic_key COLLATE "C"',
            params,
        )
        return [Subscription(*row) for row in rows]

    def unsubscribe(self, chat_id: int, topic: str) -> bool:
        return (
            self._write(
                "DELETE FROM subscriptions WHERE chat_id = %s AND topic_key = %s",
                (chat_id, topic_key(topic.replace("\x00", ""))),
            )
            > 0
        )

    def unsubscribe_all(self, chat_id: int) -> int:
        return self._write("DELETE FROM subscriptions WHERE chat_id = %s", (chat_id,))

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        # SQLite's UPDATE OR IGNORE: a topic the new chat already has stays as it is.
        with self._db() as db, db.transaction():
            db.execute(
                "INSERT INTO subscriptions (chat_id, topic_key, topic, user_id, created_at, "
                "language) SELECT %s, topic_key, topic, user_id, created_at, language "
                "FROM subscriptions WHERE chat_id = %s ON CONFLICT DO NOTHING",
                (new_chat_id, old_chat_id),
            )
            db.execute("DELETE FROM subscriptions WHERE chat_id = %s", (old_chat_id,))

    # -- pushes -----------------------------------------------------------------

    def claim_pushes(self, report_ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(report_ids))
        if not wanted:
            return set()
        now = time.time()
        with self._db() as db, db.transaction():
            db.execute("DELETE FROM pushed WHERE pushed_at < %s", (now - PUSHED_KEEP_SECONDS,))
            rows = db.execute(
                "INSERT INTO pushed (report_id, pushed_at) SELECT unnest(%s::text[]), %s "
                "ON CONFLICT DO NOTHING RETURNING report_id",
                (wanted, now),
            ).fetchall()
        return {claimed for (claimed,) in rows}

    # -- uploads ----------------------------------------------------------------

    def record_upload(self, name: str, user_id: int, chat_id: int, size: int, sha256: str) -> None:
        self._write(
            "INSERT INTO uploads (name, user_id, chat_id, size, sha256, uploaded_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "user_id = excluded.user_id, chat_id = excluded.chat_id, size = excluded.size, "
            "sha256 = excluded.sha256, uploaded_at = excluded.uploaded_at",
            (name, user_id, chat_id, size, sha256, time.time()),
        )

    def forget_upload(self, name: str) -> bool:
        return self._write("DELETE FROM uploads WHERE name = %s", (name,)) > 0

    def uploads(self) -> list[UploadRecord]:
        # COLLATE "C": the byte order SQLite uses, whatever the database's locale.
        rows = self._rows(
            "SELECT name, user_id, chat_id, size, sha256, uploaded_at FROM uploads "
            'ORDER BY uploaded_at DESC, name COLLATE "C"'
        )
        return [UploadRecord(*row) for row in rows]

    # -- rate budgets -----------------------------------------------------------

    def spend(self, key: str, limit: int, window: float, now: float) -> Decision:
        if limit == 0:
            return Decision(True)
        prune = next(self._spends) % PRUNE_EVERY == 0
        with self._db() as db:
            return spend_budget(db, key, limit, window, now, prune=prune)
