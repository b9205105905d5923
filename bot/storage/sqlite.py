"""The bot's own state in one SQLite file under DATA_DIR (no DATABASE_URL): one process.

* `feeds`: per feed URL, the validators of the last good response (ETag,
  Last-Modified) for conditional requests, and the feed's title;
* `entries`: each feed's entries, keyed by (feed URL, the entry's guid or url),
  with the report made from it, a digest of its content (to notice an updated
  entry) and the order they were first seen in; each feed keeps only its newest
  (`save_entries` prunes the rest in the same transaction);
* `subscriptions`: (chat, topic) pairs, with the user who subscribed and the
  language_code of whoever last subscribed in the chat (its pushes' language);
* `channel_posts`: the posts of CHANNEL_IDS, as reports, by (chat, message);
* `uploads`: per file kept in REPORTS_DIR/uploads/, the admin and chat it came
  from, its size, its sha256 and when;
* `budgets`: the requests each rate budget let through in the last window.

The schema version is SQLite's `user_version`; an older file is migrated in
place when opened (`bot/storage/sqlite_schema.py`), a newer one refused.  WAL
journaling lets a reader and the writer work at the same time, and one
connection behind a lock serves the event loop and worker threads alike.
Nothing here knows about Telegram.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.storage.records import (
    Decision,
    FeedState,
    StoredEntry,
    StoreError,
    Subscription,
    UploadRecord,
    prune_order,
    refused,
    report_to_json,
    stored_entries,
    stored_posts,
    topic_key,
)
from bot.storage.sqlite_schema import SCHEMA, SCHEMA_VERSION, migrate, transaction
from retrieval.feed_format import report_id
from retrieval.models import Report

# SQLite caps the number of parameters in one statement.
_CHUNK = 500
# Budgets that ran out long ago are dropped every this many spends.
_PRUNE_BUDGETS_EVERY = 256


class SqliteStore:
    """One SQLite connection, safe to share between the event loop and worker threads."""

    # One bot process owns the file (DATA_DIR): nothing to share with replicas.
    shared = False

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self._spends = 0
        self.path = path

    @classmethod
    def open(cls, path: Path) -> SqliteStore:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"cannot open the state file {path}: {error}; "
                "point DATA_DIR at a folder the bot can write"
            ) from error
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=5000")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the state file {path} was written by a newer reports-bot "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}): upgrade the bot, "
                    "or move the file away to start with fresh feed state and subscriptions"
                )
            if 0 < version < SCHEMA_VERSION:
                migrate(connection)
            connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as error:
            connection.close()
            raise StoreError(
                f"the state file {path} is not usable ({error}): move it away and restart "
                "to start with fresh feed state and subscriptions"
            ) from error
        except StoreError:
            connection.close()
            raise
        return cls(connection, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ping(self) -> None:
        """Read the state file once (its schema), for the readiness check; raises
        StoreError saying why when it cannot be read."""
        try:
            self._rows("SELECT count(*) FROM sqlite_master")
        except sqlite3.Error as error:
            raise StoreError(f"the state file {self.path} cannot be read: {error}") from error

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # -- feeds ------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState | None:
        rows = self._rows(
            "SELECT url, title, etag, last_modified, ok_at FROM feeds WHERE url = ?", (url,)
        )
        if not rows:
            return None
        url_, title, etag, last_modified, ok_at = rows[0]
        return FeedState(url_, title, etag, last_modified, ok_at)

    def save_feed_state(
        self, url: str, title: str | None, etag: str | None, last_modified: str | None
    ) -> None:
        """Record a good response: its validators and the time (the feed is known from now)."""
        self._write(
            "INSERT INTO feeds (url, title, etag, last_modified, ok_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET title = excluded.title, etag = excluded.etag, "
            "last_modified = excluded.last_modified, ok_at = excluded.ok_at",
            (url, title, etag, last_modified, time.time()),
        )

    def entry_digests(self, feed_url: str, keys: Iterable[str]) -> dict[str, str]:
        """The stored digest of each of `keys` that this feed brought before."""
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, digest in self._rows(
                f"SELECT key, digest FROM entries WHERE feed_url = ? AND key IN ({marks})",
                [feed_url, *chunk],
            ):
                found[key] = digest
        return found

    def save_entries(
        self,
        feed_url: str,
        entries: Sequence[tuple[str, Report, str]],
        *,
        keep: int | None = None,
        listed: Iterable[str] = (),
    ) -> list[str]:
        """Insert or replace (key, report, digest) entries of one feed, then prune the feed
        to its newest `keep` entries (None: keep all), in one transaction; returns the
        report ids of the entries pruned, oldest first.

        Newest is first seen last.  `entries` come newest first: saved together, the
        first one counts as seen last.  An entry saved before keeps its place.  The keys
        in `listed` (what the feed lists now) are kept before any other: pruned, one
        would come back as new on the next fetch.
        """
        now = time.time()
        with self._lock, transaction(self._db, immediate=True):
            newest = self._db.execute("SELECT COALESCE(MAX(arrival), 0) FROM entries")
            base = newest.fetchone()[0] + len(entries)
            self._db.executemany(
                "INSERT INTO entries (feed_url, key, report, digest, first_seen, updated_at, "
                "arrival) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url, key) DO UPDATE "
                "SET report = excluded.report, digest = excluded.digest, "
                "updated_at = excluded.updated_at",
                [
                    (feed_url, key, report_to_json(r), digest, now, now, base - number)
                    for number, (key, r, digest) in enumerate(entries)
                ],
            )
            pruned = [] if keep is None else self._prune(feed_url, keep, set(listed))
        return [report_id(feed_url, key) for key in pruned]

    def _prune(self, feed_url: str, keep: int, listed: set[str]) -> list[str]:
        keys = [
            key
            for (key,) in self._db.execute(
                "SELECT key FROM entries WHERE feed_url = ? ORDER BY arrival DESC", (feed_url,)
            )
        ]
        doomed = prune_order(keys, keep, listed)
        for start in range(0, len(doomed), _CHUNK):
            chunk = doomed[start : start + _CHUNK]
            self._db.execute(
                f"DELETE FROM entries WHERE feed_url = ? AND key IN ({','.join('?' * len(chunk))})",
                [feed_url, *chunk],
            )
        return doomed

    def entries(self, feed_urls: Iterable[str], *, keep: int | None = None) -> list[StoredEntry]:
        """The stored entries of these feeds, each feed's newest `keep` (None: all), oldest
        first.  A row that cannot be made into a report again is skipped with a warning
        naming it; the others load."""
        stored: list[StoredEntry] = []
        for url in dict.fromkeys(feed_urls):
            rows = self._rows(
                "SELECT key, report, digest FROM entries WHERE feed_url = ? "
                "ORDER BY arrival DESC LIMIT ?",
                (url, -1 if keep is None else keep),
            )
            stored += stored_entries(url, reversed(rows))
        return stored

    def entries_version(self) -> tuple[int, float]:
        [(count, changed)] = self._rows(
            "SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM channel_posts), "
            "max(COALESCE((SELECT max(updated_at) FROM entries), 0), "
            "COALESCE((SELECT max(updated_at) FROM channel_posts), 0))"
        )
        return int(count), float(changed)

    # -- channel posts -----------------------------------------------------------

    def save_channel_post(self, chat_id: int, message_id: int, report: Report) -> None:
        """Add or replace (an edit) one channel post's report."""
        self._write(
            "INSERT OR REPLACE INTO channel_posts (chat_id, message_id, report, updated_at) "
            "VALUES (?, ?, ?, ?)",
            (chat_id, message_id, report_to_json(report), time.time()),
        )

    def forget_channel_post(self, chat_id: int, message_id: int) -> bool:
        return bool(
            self._write(
                "DELETE FROM channel_posts WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            )
        )

    def channel_posts(self, chat_ids: Iterable[int]) -> list[Report]:
        """The kept posts of these channels, oldest first; a row that cannot be read is
        skipped with a warning."""
        reports: list[Report] = []
        for chat_id in sorted(set(chat_ids)):
            rows = self._rows(
                "SELECT message_id, report FROM channel_posts WHERE chat_id = ? "
                "ORDER BY message_id",
                (chat_id,),
            )
            reports += stored_posts(chat_id, rows)
        return reports

    # -- uploads ----------------------------------------------------------------

    # A failure here is a StoreError: the upload's handler logs it and carries on.

    def record_upload(self, name: str, user_id: int, chat_id: int, size: int, sha256: str) -> None:
        with self._told():
            self._write(
                "INSERT OR REPLACE INTO uploads (name, user_id, chat_id, size, sha256, "
                "uploaded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, user_id, chat_id, size, sha256, time.time()),
            )

    def forget_upload(self, name: str) -> bool:
        with self._told():
            return self._write("DELETE FROM uploads WHERE name = ?", (name,)) > 0

    def uploads(self) -> list[UploadRecord]:
        with self._told():
            rows = self._rows(
                "SELECT name, user_id, chat_id, size, sha256, uploaded_at FROM uploads "
                "ORDER BY uploaded_at DESC, name"
            )
        return [UploadRecord(*row) for row in rows]

    @contextmanager
    def _told(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise StoreError(f"the state file {self.path} failed: {error}") from error

    # -- subscriptions ----------------------------------------------------------

    def subscribe(
        self, chat_id: int, topic: str, user_id: int | None, language: str | None = None
    ) -> bool:
        """Add a subscription; False when the chat already has this topic.  Either way
        `language` becomes the language of every subscription of the chat."""
        with self._lock, transaction(self._db, immediate=True):
            added = self._db.execute(
                "INSERT OR IGNORE INTO subscriptions (chat_id, topic_key, topic, user_id, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (chat_id, topic_key(topic), " ".join(topic.split()), user_id, time.time()),
            ).rowcount
            self._db.execute(  # the new row's language too
                "UPDATE subscriptions SET language = ? WHERE chat_id = ?", (language, chat_id)
            )
        return added == 1

    def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        """One chat's subscriptions (or everyone's), oldest first."""
        where, params = ("WHERE chat_id = ?", (chat_id,)) if chat_id is not None else ("", ())
        rows = self._rows(
            f"SELECT chat_id, topic, user_id, created_at, language FROM subscriptions {where} "
            "ORDER BY created_at, chat_id, topic_key",
            params,
        )
        return [Subscription(*row) for row in rows]

    def unsubscribe(self, chat_id: int, topic: str) -> bool:
        return (
            self._write(
                "DELETE FROM subscriptions WHERE chat_id = ? AND topic_key = ?",
                (chat_id, topic_key(topic)),
            )
            > 0
        )

    def unsubscribe_all(self, chat_id: int) -> int:
        return self._write("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup (a new chat id): its subscriptions follow it."""
        with self._lock, transaction(self._db):
            self._db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )
            self._db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_chat_id,))

    # -- pushes -----------------------------------------------------------------

    def claim_pushes(self, report_ids: Iterable[str]) -> set[str]:
        # One process owns the file and pushes each new report once: nothing to claim.
        return set(report_ids)

    # -- rate budgets -----------------------------------------------------------

    def spend(self, key: str, limit: int, window: float, now: float) -> Decision:
        if limit == 0:
            return Decision(True)
        with self._lock, transaction(self._db, immediate=True):
            self._spends += 1
            if self._spends % _PRUNE_BUDGETS_EVERY == 0:
                self._db.execute("DELETE FROM budgets WHERE expires_at < ?", (now,))
            # The same test as SlidingWindowLimiter's, so both count alike.
            self._db.execute(
                "DELETE FROM budgets WHERE key = ? AND ? - at >= ?", (key, now, window)
            )
            [(count, oldest)] = self._db.execute(
                "SELECT count(*), min(at) FROM budgets WHERE key = ?", (key,)
            ).fetchall()
            if count < limit:
                self._db.execute(
                    "INSERT INTO budgets (key, at, expires_at) VALUES (?, ?, ?)",
                    (key, now, now + window),
                )
                return Decision(True)
        return refused(window, now, oldest)
