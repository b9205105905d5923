"""The bot's own state in one SQLite file under DATA_DIR: feed state and subscriptions.

* `feeds`: per feed URL, the validators of the last good response (ETag,
  Last-Modified) for conditional requests, and the feed's title;
* `entries`: every feed entry seen, keyed by its guid or url, with the report
  made from it and a digest of its content (to notice an updated entry);
* `subscriptions`: (chat, topic) pairs, with the user who subscribed.

WAL journaling lets a reader and the writer work at the same time, and one
connection behind a lock serves the event loop and worker threads alike.
Nothing here knows about Telegram.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from retrieval.models import Report

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    ok_at REAL
);
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    report TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_feed ON entries (feed_url, first_seen);
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id INTEGER NOT NULL,
    topic_key TEXT NOT NULL,
    topic TEXT NOT NULL,
    user_id INTEGER,
    created_at REAL NOT NULL,
    PRIMARY KEY (chat_id, topic_key)
);
"""


class StoreError(Exception):
    """The state file cannot be opened or used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class FeedState:
    url: str
    title: str | None
    etag: str | None
    last_modified: str | None
    # When the feed last answered with a usable document; None: never yet.
    ok_at: float | None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    key: str
    feed_url: str
    report: Report
    digest: str


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: int
    topic: str
    user_id: int | None
    created_at: float


def topic_key(topic: str) -> str:
    """Topics that differ only in case or spacing are the same subscription."""
    return " ".join(topic.casefold().split())


def report_to_json(report: Report) -> str:
    return json.dumps(
        {
            "id": report.id,
            "title": report.title,
            "paragraphs": list(report.paragraphs),
            "published": report.published.isoformat(),
            "published_from_mtime": report.published_from_mtime,
            "source": report.source,
            "url": report.url,
            "caption": report.caption,
            "caption_credit": report.caption_credit,
            "path": report.path,
        },
        ensure_ascii=False,
    )


def report_from_json(text: str) -> Report:
    record = json.loads(text)
    return Report(
        id=record["id"],
        title=record["title"],
        paragraphs=tuple(record["paragraphs"]),
        published=datetime.fromisoformat(record["published"]),
        published_from_mtime=bool(record.get("published_from_mtime", False)),
        source=record.get("source"),
        url=record.get("url"),
        caption=record.get("caption"),
        caption_credit=record.get("caption_credit"),
        path=record.get("path"),
    )


class Store:
    """One SQLite connection, safe to share between the event loop and worker threads."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
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
            connection.executescript(_SCHEMA)
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    def entry_digests(self, keys: Iterable[str]) -> dict[str, str]:
        """The stored digest of each of `keys` that was seen before."""
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 500):  # SQLite caps the number of parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, digest in self._rows(
                f"SELECT key, digest FROM entries WHERE key IN ({marks})", chunk
            ):
                found[key] = digest
        return found

    def save_entries(self, feed_url: str, entries: Sequence[tuple[str, Report, str]]) -> None:
        """Insert or replace (key, report, digest) entries of one feed, in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO entries (key, feed_url, report, digest, first_seen, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "report = excluded.report, digest = excluded.digest, "
                    "updated_at = excluded.updated_at",
                    [
                        (key, feed_url, report_to_json(r), digest, now, now)
                        for key, r, digest in entries
                    ],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def entries(self, feed_urls: Iterable[str]) -> list[StoredEntry]:
        """Every stored entry of these feeds, oldest first."""
        stored: list[StoredEntry] = []
        for url in dict.fromkeys(feed_urls):
            for key, feed_url, report, digest in self._rows(
                "SELECT key, feed_url, report, digest FROM entries WHERE feed_url = ? "
                "ORDER BY first_seen, key",
                (url,),
            ):
                stored.append(StoredEntry(key, feed_url, report_from_json(report), digest))
        return stored

    # -- subscriptions ----------------------------------------------------------

    def subscribe(self, chat_id: int, topic: str, user_id: int | None) -> bool:
        """Add a subscription; False when the chat already has this topic."""
        return (
            self._write(
                "INSERT OR IGNORE INTO subscriptions (chat_id, topic_key, topic, user_id, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (chat_id, topic_key(topic), " ".join(topic.split()), user_id, time.time()),
            )
            == 1
        )

    def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        """One chat's subscriptions (or everyone's), oldest first."""
        where, params = ("WHERE chat_id = ?", (chat_id,)) if chat_id is not None else ("", ())
        rows = self._rows(
            f"SELECT chat_id, topic, user_id, created_at FROM subscriptions {where} "
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
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?",
                    (new_chat_id, old_chat_id),
                )
                self._db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_chat_id,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
