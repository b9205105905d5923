"""No update lost and none answered twice, across crashes: a journal of updates in DATA_DIR.

python-telegram-bot confirms fetched updates to Telegram with the *next*
getUpdates, which it sends as soon as the previous batch is queued, before the
updates are handled (a webhook confirms with its HTTP answer, just as early).
So a crash (kill -9, out of memory, power) can lose updates that were
confirmed but not yet answered; and a crash after answering but before that
confirmation gets the update delivered again on restart.

The journal closes both gaps:

- `JournalingQueue` (bot/reliability/journal_queue.py) is the Application's
  update queue, the one door every update comes through, polled or pushed by a
  webhook: it records each update as it is put in, and both ways in put it
  there *before* they confirm it.
- `UpdateProcessor` (bot/reliability/fairness.py) skips updates already marked
  done, claims each one just before handling it (`claim`: with several
  replicas, bot/reliability/journal_shared.py, one of them wins) and marks it
  done when its handlers return.
- On start-up, updates recorded but never done are put in the queue again
  (`JournalingQueue.replay`).  An update that was replayed `MAX_REPLAYS` times
  and still never finished is given up, with an error in the log: it may be
  the one that crashes the bot.

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

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOURNAL_NAME = "updates.sqlite3"
MAX_REPLAYS = 3
KEEP_SECONDS = 2 * 24 * 3600.0
PRUNE_EVERY_SECONDS = 3600.0
# Updates finished while the journal could not be written, kept in memory until it can.
MAX_UNWRITTEN = 100_000

RECEIVED = "received"
# Being handled now by the process named in claimed_by (bot/reliability/journal_shared.py).
CLAIMED = "claimed"
DONE = "done"
ABANDONED = "abandoned"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    payload TEXT,
    replays INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    claimed_by TEXT,
    claimed_at REAL
)
"""
# Journals written before claims (bot/reliability/journal_shared.py) lack their columns.
_CLAIM_COLUMNS = ("claimed_by TEXT", "claimed_at REAL")


class JournalError(Exception):
    """The journal cannot be opened; the message says how to fix it."""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(updates)")}
        for column in _CLAIM_COLUMNS:
            if column.split()[0] not in columns:
                db.execute(f"ALTER TABLE updates ADD COLUMN {column}")
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
    """Which updates were received and which were answered, in one SQLite file.

    Every statement goes through `_execute` and `_executemany`, written with `?`
    placeholders and SQL that PostgreSQL reads too, so the shared journal of several
    replicas (bot/reliability/journal_shared.py) is this class on another connection.
    """

    # Database errors that cost only the crash safety, never the answering.
    ERRORS: tuple[type[Exception], ...] = (OSError, sqlite3.Error)
    # An update received (or claimed) this many seconds ago and never finished is an
    # orphan to hand over again.  One process alone: every unfinished one at start-up.
    ORPHAN_AFTER_SECONDS = 0.0
    CLAIM_LEASE_SECONDS = 0.0
    FIX_HINT = "free disk space, or stop the bot and delete a damaged journal file"

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.owner = f"pid-{os.getpid()}-{clock():.0f}"
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
        self._start()

    def _start(self) -> None:
        # Why the journal cannot be used now (for the health check), or None.
        self.fault: str | None = None
        # update id -> (DONE or ABANDONED, payload): finished but not written yet.
        self._unwritten: dict[int, tuple[str, str | None]] = {}
        self._last_prune = 0.0
        self._prune()
        self.replays = self.take_orphans()

    @property
    def name(self) -> str:
        """Where the journal is, for log lines."""
        return str(self.path)

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return list(self._db.execute(sql, params).fetchall())

    def _executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._db.executemany(sql, rows)

    def _claimed(self, sql: str, params: Sequence[object]) -> int:
        return self._db.execute(sql, params).rowcount

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
                lambda: self._executemany(
                    "INSERT INTO updates (update_id, state, payload, received_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING",
                    rows,
                )
            )

    def is_done(self, update_id: int) -> bool:
        if update_id in self._unwritten:
            return True
        try:
            rows = self._execute("SELECT state FROM updates WHERE update_id = ?", (update_id,))
        except self.ERRORS as error:
            # Unknown, so handled: a rare duplicate beats an update never answered.
            self._failing("read", error)
            return False
        return bool(rows) and rows[0][0] in (DONE, ABANDONED)

    def claim(self, update_id: int) -> bool:
        """Take an update to handle it now; False when it is finished, or another process
        holds a live claim on it (several replicas: the one that claims first handles it).
        A claim lapses after CLAIM_LEASE_SECONDS, so a replica that died mid-update does
        not keep it.  When the journal cannot be reached the update is handled anyway."""
        if update_id in self._unwritten:
            return False
        now = self.clock()
        try:
            if self._claimed(
                "UPDATE updates SET state = ?, claimed_by = ?, claimed_at = ? "
                "WHERE update_id = ? AND (state = ? OR (state = ? AND claimed_at <= ?))",
                (
                    CLAIMED,
                    self.owner,
                    now,
                    update_id,
                    RECEIVED,
                    CLAIMED,
                    now - self.CLAIM_LEASE_SECONDS,
                ),
            ):
                return True
            # Not claimable: finished or claimed elsewhere, unless it was never recorded.
            return not self._execute("SELECT 1 FROM updates WHERE update_id = ?", (update_id,))
        except self.ERRORS as error:
            self._failing("read", error)
            return True

    def renew(self, update_ids: Collection[int]) -> None:
        """Nothing to say with one process: no other takes its updates away (the shared
        journal's renews, journal_shared.py)."""

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
            lambda: self._executemany(
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
            self._write(self._probe_write)

    def _probe_write(self) -> None:
        self._db.execute("PRAGMA user_version = 1")

    def _finish(self, update_id: int, state: str, payload: str | None) -> None:
        self._unwritten[update_id] = (state, payload)
        while len(self._unwritten) > MAX_UNWRITTEN:  # the oldest go: at worst a duplicate
            del self._unwritten[next(iter(self._unwritten))]
        self._write(lambda: None)

    def _write(self, write: Callable[[], object]) -> bool:
        """Run `write` after the finished updates not written yet; False if it failed."""
        try:
            if self._unwritten:
                self._executemany(
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
        except self.ERRORS as error:
            self._failing("written", error)
            return False
        if self.fault is not None:
            self.fault = None
            log.warning("the update journal %s can be written again", self.name)
        return True

    def _failing(self, what: str, error: Exception) -> None:
        if self.fault is not None:
            return
        self.fault = f"the update journal {self.name} cannot be {what}: {error}"
        log.error(
            "%s; updates are still answered, but a crash may now lose or repeat some (%s)",
            self.fault,
            self.FIX_HINT,
        )

    def take_orphans(self, limit: int = 1 << 30) -> list[dict[str, Any]]:
        """Updates received and never done, oldest first: at start-up those of an earlier
        run; with several replicas (journal_shared.py) also those of a replica that died.
        One handed over `MAX_REPLAYS` times already is given up instead."""
        now = self.clock()
        try:
            rows = self._execute(
                "SELECT update_id, payload, replays FROM updates WHERE "
                "(state = ? AND received_at <= ?) OR (state = ? AND claimed_at <= ?) "
                "ORDER BY update_id LIMIT ?",
                (
                    RECEIVED,
                    now - self.ORPHAN_AFTER_SECONDS,
                    CLAIMED,
                    now - self.CLAIM_LEASE_SECONDS,
                    limit,
                ),
            )
        except self.ERRORS as error:
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
                "%d updates were received but not answered before a stop; "
                "they will be answered now",
                len(replays),
            )
        return replays

    def _prune(self) -> None:
        self._last_prune = self.clock()
        self._write(
            lambda: self._execute(
                "DELETE FROM updates WHERE received_at < ?", (self._last_prune - KEEP_SECONDS,)
            )
        )
