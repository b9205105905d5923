"""How updates are scheduled: each chat in order, no chat starving the others, and none
answered twice (with the journal of bot/reliability/journal.py).

python-telegram-bot's own processor runs up to N updates at once in arrival
order.  A flood from one group then fills all N slots with updates that wait on
that group's send limit (Telegram allows 20 messages a minute per group), and a
private question behind them waits for the whole flood.

`UpdateProcessor` queues each chat's updates behind one another first
(`PER_CHAT` at a time, so a chat's answers also come in the order it asked) and
only then takes one of the `MAX_CONCURRENT` shared slots.  A flooding group
holds at most `PER_CHAT` slots and its backlog waits in its own queue; every
other chat keeps flowing.  Inline queries have no chat: they queue per user.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Hashable
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.reliability.journal import UpdateJournal
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics

log = logging.getLogger(__name__)

MAX_CONCURRENT = 256
PER_CHAT = 1
# The base class's own bound is applied before ours; make it never the one that waits.
_UNBOUNDED = 1 << 30


def queue_key(update: object) -> Hashable | None:
    """Pure: which queue an update waits in: its chat, else its user, else none."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class _Queue:
    __slots__ = ("semaphore", "users")

    def __init__(self, size: int) -> None:
        self.semaphore = asyncio.Semaphore(size)
        self.users = 0


class UpdateProcessor(BaseUpdateProcessor):
    """Per-chat queues in front of a shared bound; skips and records updates in `journal`."""

    def __init__(
        self,
        journal: UpdateJournal | None = None,
        max_concurrent: int = MAX_CONCURRENT,
        per_chat: int = PER_CHAT,
        liveness: Liveness | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(_UNBOUNDED)
        if max_concurrent < 1 or per_chat < 1:
            raise ValueError("max_concurrent and per_chat must be at least 1")
        self.journal = journal
        self.liveness = liveness
        self.metrics = metrics
        self.per_chat = per_chat
        self._shared = asyncio.Semaphore(max_concurrent)
        self._queues: dict[Hashable, _Queue] = {}
        self._in_progress: set[int] = set()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        if update_id is not None and self._seen(update_id):
            log.info("update %d was handled already (or given up); not again", update_id)
            if self.metrics is not None:
                self.metrics.skipped()
            if inspect.iscoroutine(coroutine):
                coroutine.close()
            self._finished(update_id)
            return
        if update_id is not None:
            self._in_progress.add(update_id)
        try:
            async with self._queue(queue_key(update)), self._shared:
                # Claimed only now, not while it waited its turn: a claim lapses
                # (journal.py), and a long wait must not let another replica take it too.
                if update_id is not None and not self._claim(update_id):
                    log.info("update %d is handled by another replica; not here", update_id)
                    if self.metrics is not None:
                        self.metrics.skipped()
                    if inspect.iscoroutine(coroutine):
                        coroutine.close()
                    return
                await coroutine
            if update_id is not None and self.journal is not None:
                self.journal.mark_done(update_id)
            if self.metrics is not None:
                self.metrics.handled(update)
        finally:
            if update_id is not None:
                self._in_progress.discard(update_id)
                self._finished(update_id)

    def _finished(self, update_id: int) -> None:
        # A duplicate skipped while the first copy is in progress must not count the first
        # copy as finished: liveness would stop seeing it wait.
        if self.liveness is not None and update_id not in self._in_progress:
            self.liveness.finished(update_id)

    @property
    def pending(self) -> int:
        """Updates taken from the queue and not finished: waiting for their chat's turn or
        a shared slot, or being handled now (the queue depth metric's second half)."""
        return self.current_concurrent_updates

    def in_hand(self) -> list[int]:
        """The updates this process holds now (waiting their turn or running)."""
        return list(self._in_progress)

    def holds(self, update_id: int) -> bool:
        """Whether this process has the update in hand (waiting its turn or running)."""
        return update_id in self._in_progress

    def _claim(self, update_id: int) -> bool:
        return self.journal is None or self.journal.claim(update_id)

    def _seen(self, update_id: int) -> bool:
        if update_id in self._in_progress:
            return True
        return self.journal is not None and self.journal.is_done(update_id)

    @asynccontextmanager
    async def _queue(self, key: Hashable | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue(self.per_chat)
        queue.users += 1
        try:
            async with queue.semaphore:
                yield
        finally:
            queue.users -= 1
            if queue.users == 0:
                del self._queues[key]

    async def initialize(self) -> None:
        """Nothing to set up: the journal is open already."""

    async def shutdown(self) -> None:
        if self.journal is not None:
            self.journal.close()
