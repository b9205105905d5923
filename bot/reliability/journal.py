"""No update lost and none answered twice, across crashes: a journal of updates in DATA_DIR.

python-telegram-bot confirms fetched updates to Telegram with the *next*
getUpdates, which it sends as soon as the previous batch is queued, before the
updates are handled (a webhook confirms with its HTTP answer, just as early).
So a crash (kill -9, out of memory, power) can lose updates that were
confirmed but not yet answered; and a crash after answering but before that
confirmation gets the update delivered again on restart.

The journal closes both gaps:

- `JournalingQueue` is the Application's update queue, the one door every
  update comes through, polled or pushed by a webhook: it records each update
  as it is put in, and both ways in put it there *before* they confirm it.
- `UpdateProcessor` (bot/reliability/fairness.py) skips updates already marked
  done and marks each one done when its handlers return.
- On start-up, updates recorded but never done are put in the queue again
  (`JournalingQueue.replay`).  An update that was replayed `MAX_REPLAYS` times and still never
  finished is given up, with an error in the log: it may be the one that
  crashes the bot.

What remains: a crash in the instant between Telegram accepting an answer and
the journal marking its update done replays that update (one duplicate).

A journal that cannot be written while the bot runs (a full disk, a damaged file) must
not stop the answering: it only costs the crash safety.  Every read and write is
guarded; the first failure is logged as an error naming the file and the cause, and the
first write that works again is logged as the recovery, never one line per update.
Meanwhile `fault` says what is wrong (the heartbeat reports it: bot/reliability/
liveness.py), and updates finished while writes fail are remembered in memory, so they
are still never handled twice, and written once the journal works again, so a restart
does not replay them.

SQLite in WAL mode: a committed row survives the process being killed.  Rows
older than `KEEP_SECONDS` are pruned (Telegram keeps updates for a day and may
reuse update ids after a week without updates).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from telegram import Bot, Update

from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics

log = logging.getLogger(__name__)

JOURNAL_NAME = "updates.sqlite3"
MAX_REPLAYS = 3
KEEP_SECONDS = 2 * 24 * 3600.0
PRUNE_EVERY_SECONDS = 3600.0
# Updates finished while the journal could not be written, kept in memory until it can.
MAX_UNWRITTEN = 100_000

RECEIVED = "received"
DONE = "done"
ABANDONED = "abandoned"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    payload TEXT,
    replays INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL
)
"""


class JournalError(Exception):
    """The journal cannot be opened; the message says how to fix it."""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


def _move_aside(path: Path, error: Exception, now: float) -> None:
    """Keep a damaged journal (and its -wal and -shm, which belong to it) for whoever
    looks into it, out of the way of a new one."""
    aside = path.with_name(f"{path.name}.damaged-{now:.0f}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    log.error(
        "the update journal %s is damaged (%s): moved it to %s and started a new one; "
        "updates it held that were not answered will not be replayed",
        path,
        error,
        aside,
    )


class UpdateJournal:
    """Which updates were received and which were answered, in one SQLite file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = _connect(path)
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError):
                    raise  # cannot open or write the file: the operator must fix DATA_DIR
                # Not a database (any more): the journal is worth less than answering.
                _move_aside(path, error, clock())
                self._db = _connect(path)
        except (OSError, sqlite3.Error) as error:
            raise JournalError(
                f"cannot open the update journal {path}: {error}; "
                "make DATA_DIR a writable folder (or delete a damaged journal file)"
            ) from error
        # Why the journal cannot be used now (for the health check), or None.
        self.fault: str | None = None
        # update id -> (DONE or ABANDONED, payload): finished but not written yet.
        self._unwritten: dict[int, tuple[str, str | None]] = {}
        self._last_prune = 0.0
        self._prune()
        self.replays = self._take_replays()

    def record(self, updates: Iterable[Mapping[str, Any]]) -> None:
        """Remember updates as received (those already known stay as they are)."""
        now = self.clock()
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._prune()
        rows = [
            (int(u["update_id"]), RECEIVED, json.dumps(u, ensure_ascii=True), now)
            for u in updates
            if isinstance(u.get("update_id"), int)
        ]
        if rows:
            self._write(
                lambda: self._db.executemany(
                    "INSERT OR IGNORE INTO updates (update_id, state, payload, received_at) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
            )

    def is_done(self, update_id: int) -> bool:
        if update_id in self._unwritten:
            return True
        try:
            row = self._db.execute(
                "SELECT state FROM updates WHERE update_id = ?", (update_id,)
            ).fetchone()
        except (OSError, sqlite3.Error) as error:
            # Unknown, so handled: a rare duplicate beats an update never answered.
            self._failing("read", error)
            return False
        return row is not None and row[0] in (DONE, ABANDONED)

    def mark_done(self, update_id: int) -> None:
        self._finish(update_id, DONE, None)

    def abandon(self, update_id: int, why: str, payload: Mapping[str, Any] | None = None) -> None:
        """Give up on an update for good: it is never handed over again.  `payload`, for
        one never recorded (it could not be parsed), is kept for whoever looks into it."""
        log.error("giving up on update %d: %s", update_id, why)
        text = None if payload is None else json.dumps(payload, ensure_ascii=True)
        self._finish(update_id, ABANDONED, text)

    def close(self) -> None:
        self._db.close()

    def count_replays(self, update_ids: Iterable[int]) -> None:
        rows = [(update_id,) for update_id in update_ids]
        self._write(
            lambda: self._db.executemany(
                "UPDATE updates SET replays = replays + 1 WHERE update_id = ?", rows
            )
        )

    def probe(self) -> None:
        """While faulty, try a write (the finished updates waiting for one, if any), so a
        journal that works again says so even when no update comes to write."""
        if self.fault is None:
            return
        if self._unwritten:
            self._write(lambda: None)
        else:
            self._write(lambda: self._db.execute("PRAGMA user_version = 1"))

    def _finish(self, update_id: int, state: str, payload: str | None) -> None:
        self._unwritten[update_id] = (state, payload)
        while len(self._unwritten) > MAX_UNWRITTEN:  # the oldest go: at worst a duplicate
            del self._unwritten[next(iter(self._unwritten))]
        self._write(lambda: None)

    def _write(self, write: Callable[[], object]) -> bool:
        """Run `write` after the finished updates not written yet; False if it failed."""
        try:
            if self._unwritten:
                self._db.executemany(
                    "INSERT INTO updates (update_id, state, payload, received_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT(update_id) DO UPDATE SET "
                    "state = excluded.state, payload = excluded.payload",
                    [
                        (i, state, text, self.clock())
                        for i, (state, text) in self._unwritten.items()
                    ],
                )
                self._unwritten.clear()
            write()
        except (OSError, sqlite3.Error) as error:
            self._failing("written", error)
            return False
        if self.fault is not None:
            self.fault = None
            log.warning("the update journal %s can be written again", self.path)
        return True

    def _failing(self, what: str, error: Exception) -> None:
        if self.fault is not None:
            return
        self.fault = f"the update journal {self.path} cannot be {what}: {error}"
        log.error(
            "%s; updates are still answered, but a crash may now lose or repeat some "
            "(free disk space, or stop the bot and delete a damaged journal file)",
            self.fault,
        )

    def _take_replays(self) -> list[dict[str, Any]]:
        """Updates received by an earlier run and never done, oldest first.  One handed
        over `MAX_REPLAYS` times already is given up instead."""
        try:
            rows = self._db.execute(
                "SELECT update_id, payload, replays FROM updates WHERE state = ? "
                "ORDER BY update_id",
                (RECEIVED,),
            ).fetchall()
        except (OSError, sqlite3.Error) as error:
            self._failing("read", error)
            return []
        replays: list[dict[str, Any]] = []
        for update_id, payload, count in rows:
            try:
                update = json.loads(payload) if count < MAX_REPLAYS else None
            except (TypeError, ValueError):
                update = None
            if isinstance(update, dict):
                replays.append(update)
                continue
            self.abandon(
                update_id,
                f"it was never finished in {count} restarts (it may be what stops the bot)"
                if count >= MAX_REPLAYS
                else "its journal entry is damaged",
            )
        if replays:
            log.warning(
                "%d updates were received but not answered before the last stop; "
                "they will be answered now",
                len(replays),
            )
        return replays

    def _prune(self) -> None:
        self._last_prune = self.clock()
        self._write(
            lambda: self._db.execute(
                "DELETE FROM updates WHERE received_at < ?", (self._last_prune - KEEP_SECONDS,)
            )
        )


class JournalingQueue(asyncio.Queue[object]):
    """The Application's update queue: journals every update as it is put in.

    Polling (python-telegram-bot's Updater) and its webhook server both hand
    each update to `update_queue.put` before they confirm it to Telegram, and
    `Queue.put` ends in `put_nowait`, so recording there covers every way in.
    """

    def __init__(
        self,
        journal: UpdateJournal,
        liveness: Liveness | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__()
        self.journal = journal
        self.liveness = liveness
        self.metrics = metrics

    def put_nowait(self, item: object) -> None:
        if isinstance(item, Update):
            self.journal.record([item.to_dict()])
            if self.liveness is not None:
                self.liveness.arrived(item.update_id)
            if self.metrics is not None:
                self.metrics.received(item)
        super().put_nowait(item)

    def replay(self, bot: Bot) -> int:
        """Put the updates an earlier run received but never finished back in the queue,
        oldest first, before any new one is fetched (once per start).  Returns how many."""
        journal = self.journal
        replayed: list[int] = []
        for payload in journal.replays:
            update_id = int(payload["update_id"])
            try:
                update = Update.de_json(payload, bot)
            except Exception as error:  # a payload this python-telegram-bot cannot read
                journal.abandon(update_id, f"it cannot be read back ({error})")
                continue
            self.put_nowait(update)
            replayed.append(update_id)
        journal.count_replays(replayed)
        journal.replays = []
        if replayed:
            log.info("replaying %d updates from before the restart", len(replayed))
        return len(replayed)
