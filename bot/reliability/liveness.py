"""Is the bot doing its job: fetching updates and answering them?  What the heartbeat says.

A ticking job queue only proves the event loop runs.  A bot whose polling loop died, that
Telegram keeps refusing (409 Conflict: a second instance with the same token), or whose
every answer hangs, ticks just the same.  `Liveness` is told when getUpdates starts and
ends (bot/reliability/intake.py), when an update arrives (the journaling queue) and when it
is finished (the update processor), and the heartbeat job asks it for `problems`.

What counts as stuck is "updates have been waiting and none was finished for longer than
the limit", not "one update has waited longer than the limit": a group that floods the
bot waits behind Telegram's 20 messages a minute per group, which is slow but moving,
while a bot that finishes nothing at all is the one an operator must restart.

In webhook mode (bot/reliability/webhook.py) there is no getUpdates: updates count as
fetched while they arrive by webhook or getWebhookInfo says Telegram can deliver them to
us (`delivered`, `delivery_checked`), and the same limit applies.

A journal fault is reported too, although updates are still answered: the bot has lost its
crash safety (an update confirmed to Telegram but not journalled is lost by a crash), and
a full disk or a damaged file is something only an operator can fix, so they must see it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Journal(Protocol):
    """What liveness needs of bot/reliability/journal.py's UpdateJournal."""

    @property
    def fault(self) -> str | None: ...

    def probe(self) -> None: ...


class Liveness:
    """What the running bot is doing, in monotonic time; `problems` judges it."""

    def __init__(
        self,
        journal: Journal | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        webhook: bool = False,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.webhook = webhook
        # Start-up counts as the last good poll, so a bot gets `limit` seconds to begin.
        self._last_fetched = clock()
        self._last_poll_error: str | None = None
        self._open_polls: dict[int, float] = {}
        self._poll_ids = itertools.count()
        self._waiting: dict[int, float] = {}
        self._last_finished = self._last_fetched

    def poll_started(self) -> int:
        """A getUpdates went out; pass what this returns to `poll_ended`."""
        poll = next(self._poll_ids)
        self._open_polls[poll] = self.clock()
        return poll

    def poll_ended(self, poll: int, error: str | None = None) -> None:
        """That getUpdates came back: with the updates (`error` None) or with `error`."""
        self._open_polls.pop(poll, None)
        if error is None:
            self._last_fetched = self.clock()
            self._last_poll_error = None
        else:
            self._last_poll_error = error

    def delivered(self) -> None:
        """Webhook mode: Telegram just delivered an update, so delivery works."""
        self.delivery_checked(None)

    def delivery_checked(self, error: str | None) -> None:
        """Webhook mode: getWebhookInfo says updates reach us (`error` None), or why not."""
        if error is None:
            self._last_fetched = self.clock()
        self._last_poll_error = error

    def arrived(self, update_id: int) -> None:
        self._waiting.setdefault(update_id, self.clock())

    def finished(self, update_id: int) -> None:
        """Answered, skipped as a duplicate or given up: no longer waiting, either way."""
        self._waiting.pop(update_id, None)
        self._last_finished = self.clock()

    def problems(self, limit: float) -> list[str]:
        """Why the bot is not doing its job, one sentence each; empty when it is."""
        now = self.clock()
        found: list[str] = []
        fault = self.journal.fault if self.journal is not None else None
        if fault is not None:
            found.append(fault)
        # A long poll that is still open is the normal idle state: Telegram answers it when
        # an update comes or its timeout ends, and the HTTP read timeout bounds it.
        if not self._open_polls and now - self._last_fetched > limit:
            way = (
                "webhook delivery has not worked"
                if self.webhook
                else "getUpdates has not succeeded"
            )
            why = f"{way} for {now - self._last_fetched:.0f}s"
            if self._last_poll_error:
                why += f" (last error: {self._last_poll_error})"
            found.append(f"{why}, limit {limit:g}s: updates are not being fetched")
        if self._waiting:
            since = max(min(self._waiting.values()), self._last_finished)
            if now - since > limit:
                found.append(
                    f"{len(self._waiting)} updates are waiting and none was answered for "
                    f"{now - since:.0f}s (limit {limit:g}s): answering is stuck"
                )
        return found
