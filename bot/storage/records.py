"""What both stores share: the records they hand out, the JSON form of a report, the
error they raise, and `Store`, the protocol every backend implements (SQLite in
`bot/storage/sqlite.py`, PostgreSQL in `bot/storage/postgres.py`).

Code outside `bot/storage/` names the protocol, never a backend, so the same
handlers, jobs and tests run on either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

from retrieval.models import Report

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The state cannot be opened or used; the message says how to fix it."""


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
    # The Telegram language_code of whoever last ran /subscribe in the chat, as their app
    # sent it ("de", "pt-br"): the chat's pushes are in it.  None: not known (a row older
    # than schema 6, or a user without one), English.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """Who uploaded a report file kept in REPORTS_DIR/uploads/, and what it was."""

    name: str  # the file's name under uploads/
    user_id: int  # the admin who sent it
    chat_id: int
    size: int  # bytes
    sha256: str  # hex
    uploaded_at: float  # time.time() when it was kept


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead; when not, when the user may ask again."""

    allowed: bool
    retry_in: float = 0.0


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
            "author": report.author,
            "pages": list(report.pages),
            "language": report.language,
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
        author=record.get("author"),
        pages=tuple(int(page) for page in record.get("pages") or ()),
        language=record.get("language"),
    )


def stored_entries(url: str, rows: Iterable[tuple[str, str, str]]) -> list[StoredEntry]:
    """(key, report JSON, digest) rows of one feed as entries.  A row that cannot be made
    into a report again is skipped with a warning naming it; the others load."""
    stored: list[StoredEntry] = []
    for key, report, digest in rows:
        try:
            stored.append(StoredEntry(key, url, report_from_json(report), digest))
        except Exception as error:  # one damaged row must not cost the others
            log.warning(
                "skipped the stored entry %r of feed %s, which cannot be read (%s: %s); "
                "it is stored again when the feed updates it",
                key,
                url,
                type(error).__name__,
                error,
            )
    return stored


def stored_posts(chat_id: int, rows: Iterable[tuple[int, str]]) -> list[Report]:
    """(message id, report JSON) rows of one channel as reports; a row that cannot be read
    is skipped with a warning."""
    reports: list[Report] = []
    for message_id, report in rows:
        try:
            reports.append(report_from_json(report))
        except Exception as error:  # one damaged row must not cost the others
            log.warning("skipped the stored post %s of channel %s (%s)", message_id, chat_id, error)
    return reports


def prune_order(keys_newest_first: Sequence[str], keep: int, listed: set[str]) -> list[str]:
    """Which of a feed's keys go when it keeps `keep`, oldest first: the listed ones are
    kept first, then the rest newest first; the tail goes (a stable sort)."""
    if len(keys_newest_first) <= keep:
        return []
    return sorted(keys_newest_first, key=lambda key: key not in listed)[keep:][::-1]


def refused(window: float, now: float, oldest: float) -> Decision:
    """Over budget: the user may ask again when the oldest request leaves the window
    (never later than a window away, even when another replica's clock runs ahead)."""
    return Decision(False, retry_in=min(window, window - (now - oldest)))


class Store(Protocol):
    """The bot's own state: feed validators, feed entries (per feed, a bounded archive),
    subscriptions, channel posts, who uploaded which report file and the per-user rate
    budgets.  Safe to share between
    the event loop and worker threads; every failure is a StoreError saying what to do."""

    @property
    def shared(self) -> bool:
        """True when other processes (replicas) may use the same state at the same time."""
        ...

    def feed_state(self, url: str) -> FeedState | None: ...

    def save_feed_state(
        self, url: str, title: str | None, etag: str | None, last_modified: str | None
    ) -> None:
        """Record a good response: its validators and the time (the feed is known from now)."""
        ...

    def entry_digests(self, feed_url: str, keys: Iterable[str]) -> dict[str, str]:
        """The stored digest of each of `keys` that this feed brought before."""
        ...

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
        ...

    def entries(self, feed_urls: Iterable[str], *, keep: int | None = None) -> list[StoredEntry]:
        """The stored entries of these feeds, each feed's newest `keep` (None: all), oldest
        first; a row that cannot be read is skipped with a warning naming it."""
        ...

    def entries_version(self) -> tuple[int, float]:
        """A cheap fingerprint of the feed entries and channel posts (how many, the last
        change): it differs when any process changed them since it was last read."""
        ...

    def save_channel_post(self, chat_id: int, message_id: int, report: Report) -> None:
        """Add or replace (an edit) one channel post's report."""
        ...

    def forget_channel_post(self, chat_id: int, message_id: int) -> bool: ...

    def channel_posts(self, chat_ids: Iterable[int]) -> list[Report]:
        """The kept posts of these channels, oldest first (by chat, then message)."""
        ...

    def subscribe(
        self, chat_id: int, topic: str, user_id: int | None, language: str | None = None
    ) -> bool:
        """Add a subscription; False when the chat already has this topic.  Either way
        `language` (the subscriber's language_code) becomes the language of every
        subscription of the chat: its pushes come in the language of whoever last
        subscribed there."""
        ...

    def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        """One chat's subscriptions (or everyone's), oldest first."""
        ...

    def unsubscribe(self, chat_id: int, topic: str) -> bool: ...

    def unsubscribe_all(self, chat_id: int) -> int: ...

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup (a new chat id): its subscriptions follow it."""
        ...

    def record_upload(self, name: str, user_id: int, chat_id: int, size: int, sha256: str) -> None:
        """Record the upload kept as `name` under uploads/, now; a re-upload of the same
        name replaces its record."""
        ...

    def forget_upload(self, name: str) -> bool:
        """Drop the record of the upload `name`; False when there was none."""
        ...

    def uploads(self) -> list[UploadRecord]:
        """Every upload's record, newest first."""
        ...

    def spend(self, key: str, limit: int, window: float, now: float) -> Decision:
        """One request of `key`'s budget of `limit` per `window` seconds (0: no limit),
        counted for every process using this state; a refused request does not count.
        `now` is wall-clock time (time.time()), the one clock replicas share."""
        ...

    def claim_pushes(self, report_ids: Iterable[str]) -> set[str]:
        """Which of these new reports this process is the first to push (and so pushes):
        a report claimed once, by any process, is never claimed again."""
        ...

    def ping(self) -> None:
        """One cheap read, for the readiness check; raises StoreError saying why."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...
