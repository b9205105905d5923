"""Per-user budgets and per-chat throttles: pure, the clock passed in.

Each user may make `RATE_LIMIT_PER_MINUTE` requests in any 60 seconds, and
everything the bot answers in a chat counts: questions, commands (/start,
/help, /latest, /subscribe…), the hints it sends to unknown commands and
to stickers, and "More" presses.  Inline queries have a budget of their own,
because Telegram sends one for every pause while the user types.  Updates the
bot leaves unanswered (group chatter) cost nothing.  `QuestionLimits` is the
running bot's set of budgets, kept in its state (`bot/state.py`); what an
update over budget gets back is decided in `bot/telegram/limits.py`.

With a shared backend (the PostgreSQL store, when replicas run), `questions`
and `inline` are counted in the database, so a user's budget is the same on
every replica; while the database cannot be reached, each replica counts on
its own, as a single bot does.  Everything but `SharedBudgets` (which asks the
database) stays pure.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from bot.storage.records import Decision, StoreError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
# Users with no request in the window are forgotten once there are this many.
_MAX_TRACKED_USERS = 10_000
# Throttled keys are pruned when there are more than this many.
_MAX_THROTTLED_KEYS = 10_000


# After a failed database call, budgets are counted in-process this long before the
# database is tried again, so an outage does not cost every update a timeout.
SHARED_RETRY_SECONDS = 15.0


class SlidingWindowLimiter:
    """At most `limit` requests per key in any `window` seconds; 0 means no limit.
    A refused request does not count, so a flood does not push the window on."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (no limit) or more")
        self.limit = limit
        self.window = window
        self._times: dict[Hashable, deque[float]] = {}

    def check(self, key: Hashable, now: float) -> Decision:
        if self.limit == 0:
            return Decision(True)
        times = self._times.get(key)
        if times is None:
            self._forget_idle(now)
            times = self._times[key] = deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            return Decision(True)
        return Decision(False, retry_in=self.window - (now - times[0]))

    def _forget_idle(self, now: float) -> None:
        if len(self._times) < _MAX_TRACKED_USERS:
            return
        idle = [k for k, t in self._times.items() if not t or now - t[-1] >= self.window]
        for key in idle:
            del self._times[key]


class Throttle:
    """Yes at most once per key every `interval` seconds: one "slow down" note per chat
    a minute, one refusal per chat every ten minutes, however big the flood."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[Hashable, float] = {}

    def allow(self, key: Hashable, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) >= _MAX_THROTTLED_KEYS:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        self._last[key] = now
        return True


class Limiter(Protocol):
    """What the guard asks of a budget (bot/telegram/limits.py)."""

    @property
    def limit(self) -> int: ...

    def check(self, key: Hashable, now: float) -> Decision: ...


class Budgets(Protocol):
    """A backend that counts budgets for every process using it (the PostgreSQL store)."""

    def spend(self, key: str, limit: int, window: float, now: float) -> Decision: ...


@dataclass
class SharedBudgets:
    """The shared backend and whether it answers: one warning when it stops, one line
    when it works again, however many updates come in between."""

    backend: Budgets
    # Wall-clock time, the one clock replicas share (`now` of `check` is this process's).
    wall_clock: Callable[[], float] = time.time
    retry_after: float = SHARED_RETRY_SECONDS
    # While set: the local time before which the backend is not asked again.
    down_until: float | None = field(default=None, init=False)

    def spend(self, key: str, limit: int, window: float, now: float) -> Decision | None:
        """The backend's decision, or None while it cannot be reached."""
        if self.down_until is not None and now < self.down_until:
            return None
        try:
            decision = self.backend.spend(key, limit, window, self.wall_clock())
        except StoreError as error:
            if self.down_until is None:
                log.warning(
                    "rate budgets are counted by this process alone until the database "
                    "answers again: %s",
                    error,
                )
            self.down_until = now + self.retry_after
            return None
        if self.down_until is not None:
            log.info("rate budgets are shared through the database again")
            self.down_until = None
        return decision


class SharedLimiter:
    """A budget kept in the shared backend under `name:key`; the in-process `fallback`
    decides while the backend cannot be reached."""

    def __init__(self, name: str, fallback: SlidingWindowLimiter, shared: SharedBudgets) -> None:
        self.name = name
        self.fallback = fallback
        self.shared = shared

    @property
    def limit(self) -> int:
        return self.fallback.limit

    def check(self, key: Hashable, now: float) -> Decision:
        if self.limit == 0:
            return Decision(True)
        decision = self.shared.spend(f"{self.name}:{key}", self.limit, self.fallback.window, now)
        return self.fallback.check(key, now) if decision is None else decision


class QuestionLimits:
    """The budgets of one running bot: `questions` for everything answered in a chat
    (commands and hints included), `inline` for inline queries, and `notes`, which
    lets one "slow down" note into each chat per window.  With `shared`, `questions`
    and `inline` are counted there, for every replica (notes stay per process)."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        shared: SharedBudgets | None = None,
    ) -> None:
        self.per_minute = per_minute
        self.questions: Limiter = SlidingWindowLimiter(per_minute)
        self.inline: Limiter = SlidingWindowLimiter(per_minute)
        if shared is not None:
            self.questions = SharedLimiter("questions", SlidingWindowLimiter(per_minute), shared)
            self.inline = SharedLimiter("inline", SlidingWindowLimiter(per_minute), shared)
        self.notes = Throttle(WINDOW_SECONDS)
        self.clock = clock
