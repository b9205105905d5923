"""The update journal of several replicas: the same journal (bot/reliability/journal.py),
kept in PostgreSQL (DATABASE_URL) so every replica sees every other's updates.

Telegram posts each update to the one webhook URL, and the reverse proxy in front of
the replicas hands it to one of them; when an answer is slow or a replica dies,
Telegram posts it again and the proxy may pick another.  So:

- every replica records what it receives in the shared `updates` table;
- a replica *claims* an update just before handling it (`UpdateJournal.claim`): one
  UPDATE that succeeds for one replica only, so an update delivered to two is
  handled by one;
- a claim lapses after `CLAIM_LEASE_SECONDS`, and an update received but never
  claimed is an orphan after `ORPHAN_AFTER_SECONDS`: the leader (bot/reliability/
  leader.py) hands orphans to its own queue (bot/reliability/replicas.py), so the updates
  of a replica killed mid-answer are answered by another.  A live replica renews what it
  holds (`renew`) well within both, so a long answer or a long wait is never taken away.

A database that cannot be reached costs what a full disk costs the SQLite journal:
updates are still answered (and a rare one twice), the fault is reported by the
heartbeat and /readyz, and finished updates are written once it is back.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool

from bot.reliability.journal import CLAIMED, RECEIVED, UpdateJournal
from bot.storage.postgres_pool import Pool, drop_broken

log = logging.getLogger(__name__)

# At most this many orphans are handed over per sweep (the rest at the next one).
SWEEP_BATCH = 200
# After a failed statement, the next ones fail at once for this long (`_connection`).
REST_SECONDS = 1.0


class SharedJournal(UpdateJournal):
    """The update journal in PostgreSQL, shared by every replica (the table is made by
    the store's migrations, bot/storage/postgres_schema.py)."""

    ERRORS = (OSError, psycopg.Error, psycopg_pool.PoolTimeout)
    # Answers take well under a second; a replica holding a claim this long has died.
    CLAIM_LEASE_SECONDS = 60.0
    # Received by a replica that never claimed it: waiting its chat's turn there, or lost.
    ORPHAN_AFTER_SECONDS = 30.0
    FIX_HINT = "check that the PostgreSQL server of DATABASE_URL is up and reachable"

    def __init__(
        self,
        pool: Pool,
        where: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._where = where
        self.clock = clock
        self.owner = _owner_name(clock)
        self._resting_until = 0.0
        self._start()

    @property
    def name(self) -> str:
        return f"in PostgreSQL ({self._where})"

    def take_orphans(self, limit: int = SWEEP_BATCH) -> list[dict[str, Any]]:
        return super().take_orphans(limit)

    def renew(self, update_ids: Collection[int]) -> None:
        """Say the updates this replica holds are still in hand, so none of them becomes an
        orphan for the leader while it waits its chat's turn or runs long (a big upload):
        a claim's time, or a waiting update's received time, moves to now."""
        if not update_ids:
            return
        now, ids = self.clock(), list(update_ids)
        self._write(
            lambda: self._execute(
                "UPDATE updates SET claimed_at = CASE WHEN state = ? THEN ? ELSE claimed_at END, "
                "received_at = CASE WHEN state = ? THEN ? ELSE received_at END "
                "WHERE update_id = ANY(?) AND (state = ? OR (state = ? AND claimed_by = ?))",
                (CLAIMED, now, RECEIVED, now, ids, RECEIVED, CLAIMED, self.owner),
            )
        )

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._connection() as connection:
            cursor = connection.execute(_dialect(sql), params)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def _executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        with self._connection() as connection, connection.cursor() as cursor:
            cursor.executemany(_dialect(sql), rows)

    def _claimed(self, sql: str, params: Sequence[object]) -> int:
        with self._connection() as connection:
            return connection.execute(_dialect(sql), params).rowcount

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; none for a moment after a failure.  The journal is used on
        the event loop for every update: waiting out the pool's timeout each time while the
        database is down would stall every answer, so it fails at once instead."""
        if time.monotonic() < self._resting_until:
            raise psycopg.OperationalError("the database failed a moment ago")
        try:
            with self._pool.connection() as connection:
                yield connection
        except self.ERRORS:
            self._resting_until = time.monotonic() + REST_SECONDS
            drop_broken(self._pool)  # a restarted server broke every idle one at once
            raise

    def _probe_write(self) -> None:
        self._execute("SELECT 1")

    def close(self) -> None:
        """The pool belongs to the store, which closes it."""


def _dialect(sql: str) -> str:
    """The journal's statements with psycopg's placeholders (none of them holds a `?`
    or a `%` of its own)."""
    return sql.replace("?", "%s")


def _owner_name(clock: Callable[[], float]) -> str:
    """Which replica holds a claim, for whoever reads the table."""
    return f"{socket.gethostname()}-{os.getpid()}-{clock():.0f}"
