"""No update lost and none answered twice, across crashes: a journal of updates in DATA_DIR.

python-telegram-bot confirms fetched updates to Telegram with the *next*
getUpdates, which it sends as soon as the previous batch is queued, before the
updates are handled.  So a crash (kill -9, out of memory, power) can lose
updates that were confirmed but not yet answered; and a crash after answering
but before that next getUpdates gets the update delivered again on restart.

The journal closes both gaps:

- `JournalingRequest` (the getUpdates HTTP client) records every update it
  receives *before* handing the batch on, so before it can be confirmed.
- `UpdateProcessor` (bot/fairness.py) skips updates already marked done and
  marks each one done when its handlers return.
- On start-up, updates recorded but never done are handed over again with the
  first getUpdates batch.  An update that was replayed `MAX_REPLAYS` times and
  still never finished is given up, with an error in the log: it may be the
  one that crashes the bot.

What remains: a crash in the instant between Telegram accepting an answer and
the journal marking its update done replays that update (one duplicate).

SQLite in WAL mode: a committed row survives the process being killed.  Rows
older than `KEEP_SECONDS` are pruned (Telegram keeps updates for a day and may
reuse update ids after a week without updates).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from telegram.request import HTTPXRequest, RequestData

from bot.config import ConfigError
from bot.delivery import api_method, as_json_error

log = logging.getLogger(__name__)

JOURNAL_NAME = "updates.sqlite3"
MAX_REPLAYS = 3
KEEP_SECONDS = 2 * 24 * 3600.0
PRUNE_EVERY_SECONDS = 3600.0

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


class UpdateJournal:
    """Which updates were received and which were answered, in one SQLite file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"cannot open the update journal {path}: {error}; "
                "make DATA_DIR a writable folder (or delete a damaged journal file)"
            ) from error
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
            self._db.executemany(
                "INSERT OR IGNORE INTO updates (update_id, state, payload, received_at) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    def is_done(self, update_id: int) -> bool:
        row = self._db.execute(
            "SELECT state FROM updates WHERE update_id = ?", (update_id,)
        ).fetchone()
        return row is not None and row[0] in (DONE, ABANDONED)

    def mark_done(self, update_id: int) -> None:
        self._db.execute(
            "INSERT INTO updates (update_id, state, payload, received_at) VALUES (?, ?, NULL, ?) "
            "ON CONFLICT(update_id) DO UPDATE SET state = excluded.state, payload = NULL",
            (update_id, DONE, self.clock()),
        )

    def state(self, update_id: int) -> str | None:
        row = self._db.execute(
            "SELECT state FROM updates WHERE update_id = ?", (update_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()

    def count_replays(self, update_ids: Iterable[int]) -> None:
        self._db.executemany(
            "UPDATE updates SET replays = replays + 1 WHERE update_id = ?",
            [(update_id,) for update_id in update_ids],
        )

    def _take_replays(self) -> list[dict[str, Any]]:
        """Updates received by an earlier run and never done, oldest first.  One handed
        over `MAX_REPLAYS` times already is given up instead."""
        rows = self._db.execute(
            "SELECT update_id, payload, replays FROM updates WHERE state = ? ORDER BY update_id",
            (RECEIVED,),
        ).fetchall()
        replays: list[dict[str, Any]] = []
        for update_id, payload, count in rows:
            try:
                update = json.loads(payload) if count < MAX_REPLAYS else None
            except (TypeError, ValueError):
                update = None
            if isinstance(update, dict):
                replays.append(update)
                continue
            log.error(
                "giving up on update %d: %s",
                update_id,
                f"it was never finished in {count} restarts (it may be what stops the bot)"
                if count >= MAX_REPLAYS
                else "its journal entry is damaged",
            )
            self._db.execute(
                "UPDATE updates SET state = ?, payload = NULL WHERE update_id = ?",
                (ABANDONED, update_id),
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
        self._db.execute(
            "DELETE FROM updates WHERE received_at < ?", (self._last_prune - KEEP_SECONDS,)
        )


def merge_replays(
    replays: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Pure: one batch of `replays` and fresh `updates`, each update id once, in id order."""
    by_id = {int(u["update_id"]): u for u in replays}
    by_id.update({int(u["update_id"]): u for u in updates})
    return [by_id[key] for key in sorted(by_id)]


class JournalingRequest(HTTPXRequest):
    """The getUpdates HTTP client: journals every batch before python-telegram-bot sees
    it, and adds the updates to replay to the first batch after start-up."""

    def __init__(self, journal: UpdateJournal, **kwargs: Any) -> None:
        kwargs.setdefault("connection_pool_size", 1)  # as python-telegram-bot's own
        super().__init__(**kwargs)
        self.journal = journal
        self._replays = list(journal.replays)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if status != 200 or api_method(url) != "getUpdates":
            return status, as_json_error(status, payload)
        return status, self._journal(payload)

    def _journal(self, payload: bytes) -> bytes:
        try:
            answer = json.loads(payload)
        except ValueError:
            return payload  # python-telegram-bot reports the bad answer itself
        updates = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(updates, list):
            return payload
        fresh = [u for u in updates if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        self.journal.record(fresh)
        if not self._replays:
            return payload
        answer["result"] = merge_replays(self._replays, fresh)
        log.info("replaying %d updates from before the restart", len(self._replays))
        self.journal.count_replays(int(u["update_id"]) for u in self._replays)
        self._replays = []
        return json.dumps(answer, ensure_ascii=True).encode("ascii")
