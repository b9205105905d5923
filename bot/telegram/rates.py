"""Per-user budgets and per-chat throttles: pure, the clock passed in.

Each user may make `RATE_LIMIT_PER_MINUTE` requests in any 60 seconds, and
everything the bot answers in a chat counts: questions, commands (/start,
/help, /latest, /subscribe…), the hints it sends to unknown commands and
to stickers, and "More" presses.  Inline queries have a budget of their own,
because Telegram sends one for every pause while the user types.  Updates the
bot leaves unanswered (group chatter) cost nothing.  `QuestionLimits` is the
running bot's set of budgets, kept in its state (`bot/state.py`); what an
update over budget gets back is decided in `bot/telegram/limits.py`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
# Users with no request in the window are forgotten once there are this many.
_MAX_TRACKED_USERS = 10_000
# Throttled keys are pruned when there are more than this many.
_MAX_THROTTLED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead; when not, when the user may ask again."""

    allowed: bool
    retry_in: float = 0.0


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


class QuestionLimits:
    """The budgets of one running bot: `questions` for everything answered in a chat
    (commands and hints included), `inline` for inline queries, and `notes`, which
    lets one "slow down" note into each chat per window."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.questions = SlidingWindowLimiter(per_minute)
        self.inline = SlidingWindowLimiter(per_minute)
        self.notes = Throttle(WINDOW_SECONDS)
        self.clock = clock
