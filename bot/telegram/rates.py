"""Per-user question budgets: pure sliding windows, the clock passed in.

Each user may ask `RATE_LIMIT_PER_MINUTE` questions in any 60 seconds (chat
questions and "More" presses share one budget; inline queries, which Telegram
sends while the user types, have a budget of their own).  `QuestionLimits` is
the running bot's pair of budgets, kept in its state (`bot/state.py`); what a
refused question gets back is decided in `bot/telegram/limits.py`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
# Users with no question in the window are forgotten once there are this many.
_MAX_TRACKED_USERS = 10_000


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead; when not, whether to tell the user and when
    they may ask again."""

    allowed: bool
    notify: bool = False
    retry_in: float = 0.0


class SlidingWindowLimiter:
    """At most `limit` requests per key in any `window` seconds; 0 means no limit."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (no limit) or more")
        self.limit = limit
        self.window = window
        self._times: dict[Hashable, deque[float]] = {}
        self._told: set[Hashable] = set()

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
            self._told.discard(key)
            return Decision(True)
        notify = key not in self._told
        self._told.add(key)
        return Decision(False, notify, retry_in=self.window - (now - times[0]))

    def _forget_idle(self, now: float) -> None:
        if len(self._times) < _MAX_TRACKED_USERS:
            return
        idle = [k for k, t in self._times.items() if not t or now - t[-1] >= self.window]
        for key in idle:
            del self._times[key]
            self._told.discard(key)


class QuestionLimits:
    """The per-user budgets of one running bot."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.questions = SlidingWindowLimiter(per_minute)
        self.inline = SlidingWindowLimiter(per_minute)
        self.clock = clock
