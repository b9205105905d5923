"""One leader among the replicas: the one that runs the work that must happen once.

Every replica answers questions, but feed polls, subscription pushes and the sweep
of orphaned updates (bot/reliability/journal_shared.py) must run on one replica at a
time.  The leader is whoever holds a PostgreSQL session advisory lock: the lock lives
as long as the connection that took it, so when the leader dies (kill -9, a crash,
its machine gone) the server ends its session and frees the lock, and the next
replica to try, within `CHECK_SECONDS`, takes over.  TCP keepalives end a session
whose peer vanished without closing it.

The leader checks its own connection at the same pace: when the database restarts or
cannot be reached, it stops leading at once, and leads again only once it holds the
lock again.  During such a gap two replicas may both believe they lead for a few
seconds; what they do then is safe to do twice or is claimed in the database first
(`Store.claim_pushes`).

Without DATABASE_URL there is one process, and it always leads.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from retrieval.models import Report

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
# Any fixed 64-bit number, the same in every replica: "reports-bot leader".
LOCK_KEY = 0x7265706F72747362
# Reports that arrived while following are pushed on taking over if they are this recent.
BACKLOG_SECONDS = 900.0
BACKLOG_MAX = 1000
_CONNECT: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "application_name": "reports-bot leader",
}


class Leadership:
    """Whether this replica leads; `check` keeps or takes the lock (blocking: run it in
    a worker thread)."""

    def __init__(self, database_url: str | None) -> None:
        self._url = database_url
        self.is_leader = database_url is None
        self._connection: psycopg.Connection[Any] | None = None
        self._fault: str | None = None

    @property
    def shared(self) -> bool:
        """Whether there may be other replicas (a database is shared)."""
        return self._url is not None

    def check(self) -> bool:
        """One attempt to keep or take the lead; True when this replica just took it."""
        if self._url is None:
            return False
        import psycopg  # only here: without DATABASE_URL the bot never loads it

        was = self.is_leader
        try:
            if self._connection is None or self._connection.closed:
                self.is_leader = False
                self._connection = psycopg.connect(self._url, **_CONNECT)
            if self.is_leader:
                self._connection.execute("SELECT 1")
            else:
                row = self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)
                ).fetchone()
                self.is_leader = bool(row and row[0])
        except psycopg.Error as error:
            self.is_leader = False
            self._drop()
            if self._fault is None:
                self._fault = str(error).strip() or type(error).__name__
                log.error(
                    "cannot reach the database for the leader lock (%s)%s; check DATABASE_URL "
                    "and the server",
                    self._fault,
                    ": no longer the leader" if was else "",
                )
            return False
        if self._fault is not None:
            log.warning("the database answers the leader lock again")
            self._fault = None
        if self.is_leader and not was:
            log.info("this replica is now the leader: it polls feeds and sends pushes")
        elif was and not self.is_leader:
            log.warning("this replica is no longer the leader")
        return self.is_leader and not was

    def close(self) -> None:
        """Give the lead up (a clean stop: the next replica need not wait for a check)."""
        connection = self._connection
        if self.is_leader and connection is not None and not connection.closed:
            # Unlocked before closing: a closed session's backend frees its locks only as
            # it exits, a moment later, and the next replica's try could still fail.
            with contextlib.suppress(Exception):  # a broken one: its end frees the lock
                connection.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        self.is_leader = self._url is None
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken one: nothing to keep
                connection.close()


class Backlog:
    """New reports a follower saw but did not push (the leader does), kept for a while: a
    follower that takes over pushes the recent ones the old leader did not claim."""

    def __init__(self, keep_seconds: float = BACKLOG_SECONDS, most: int = BACKLOG_MAX) -> None:
        self.keep_seconds = keep_seconds
        self.most = most
        self._seen: dict[str, tuple[float, Report]] = {}

    def add(self, reports: Iterable[Report], now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        for report in reports:
            self._seen.pop(report.id, None)
            self._seen[report.id] = (at, report)
        while len(self._seen) > self.most:
            del self._seen[next(iter(self._seen))]

    def take(self, now: float | None = None) -> Sequence[Report]:
        """The recent ones, oldest first; the backlog is empty after."""
        at = time.monotonic() if now is None else now
        recent = [r for seen, r in self._seen.values() if at - seen <= self.keep_seconds]
        self._seen.clear()
        return recent

    def __len__(self) -> int:
        return len(self._seen)
