"""The Application's update queue: every update is journalled as it comes in
(bot/reliability/journal.py says why), and the journal's unfinished ones are put back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from telegram import Bot, Update

from bot.reliability.journal import UpdateJournal
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics

log = logging.getLogger(__name__)


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

    def replay(self, bot: Bot, orphans: Iterable[Mapping[str, Any]] | None = None) -> int:
        """Put the updates an earlier run received but never finished back in the queue,
        oldest first, before any new one is fetched (once per start), or `orphans` (the
        leader's sweep, bot/reliability/replicas.py).  Returns how many."""
        journal = self.journal
        replayed: list[int] = []
        for payload in journal.replays if orphans is None else orphans:
            update_id = int(payload["update_id"])
            try:
                update = Update.de_json(dict(payload), bot)
            except Exception as error:  # a payload this python-telegram-bot cannot read
                journal.abandon(update_id, f"it cannot be read back ({error})")
                continue
            self.put_nowait(update)
            replayed.append(update_id)
        journal.count_replays(replayed)
        if orphans is None:
            journal.replays = []
        if replayed:
            why = "from before the restart" if orphans is None else "that no replica finished"
            log.info("replaying %d updates %s", len(replayed), why)
        return len(replayed)
