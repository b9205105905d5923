"""Abuse limits on questions: how often, how long, and whether there is anything to search.

- Rate: each user may ask `RATE_LIMIT_PER_MINUTE` questions in any 60 seconds
  (chat questions and "More" presses share one budget; inline queries, which
  Telegram sends while the user types, have a budget of their own).  The first
  question over the limit gets a short "slow down" note saying when to ask
  again; further ones in the same spell get nothing, because answering each of
  them would be a flood of our own.  Refused questions are not searched and do
  not count against the budget.
- Length: a question is cut to `MAX_QUESTION_CHARS` (at a word boundary when
  one is near) and the answer says so.
- Nothing to search: a question without a single letter or digit gets a hint.

`check_question` is pure (the clock is passed in); the handlers call it for chat
questions, and `LimitsGuard` (registered before the handlers) applies the rate
to button presses and inline queries.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.render import Rendered, esc, fits_message

log = logging.getLogger(__name__)

# Handler group of the guard: after access (bot/access.py), before every handler.
GROUP = -1
LIMITS_KEY = "limits"
MAX_QUESTION_CHARS = 1000
WINDOW_SECONDS = 60.0
# A cut looks back this far for a space, so it does not split a word.
_WORD_BOUNDARY_LOOKBACK = 100
# Users with no question in the window are forgotten once there are this many.
_MAX_TRACKED_USERS = 10_000

TOO_LONG_NOTE = (
    f"Your question was long, so I read only its first {MAX_QUESTION_CHARS:,} characters."
)
NOTHING_TO_SEARCH = Rendered(
    "There are no words in that for me to search. Ask me a question in words, or see /help."
)
CALLBACK_SLOW_DOWN = "Slow down, please: too many questions in a minute. Try again shortly."


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


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a chat question: search `question` (and add `note` to the
    answer), or send `refusal` instead, or (both None) stay quiet."""

    question: str | None
    note: str = ""
    refusal: Rendered | None = None


def cut_question(question: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """`question` cut to `limit` characters, at a space when one is near the end."""
    if len(question) <= limit:
        return question
    space = question.rfind(" ", limit - _WORD_BOUNDARY_LOOKBACK, limit + 1)
    return question[: space if space > 0 else limit].rstrip()


def has_words(question: str) -> bool:
    return any(ch.isalnum() for ch in question)


def slow_down(limit: int, retry_in: float) -> Rendered:
    seconds = max(1, round(retry_in))
    return Rendered(
        f"Slow down, please: I answer up to {limit} questions a minute from one person. "
        f"Ask again in {seconds} second{'' if seconds == 1 else 's'}."
    )


def check_question(limits: QuestionLimits, user_id: int | None, question: str) -> Verdict:
    """The rate, then whether there is anything to search, then the length."""
    if user_id is not None:
        decision = limits.questions.check(user_id, limits.clock())
        if not decision.allowed:
            if not decision.notify:
                log.info("user %s is over the rate limit: question ignored", user_id)
                return Verdict(None)
            log.info("user %s is over the rate limit: told to slow down", user_id)
            return Verdict(None, refusal=slow_down(limits.per_minute, decision.retry_in))
    if not has_words(question):
        return Verdict(None, refusal=NOTHING_TO_SEARCH)
    cut = cut_question(question)
    return Verdict(cut, TOO_LONG_NOTE if len(cut) < len(question) else "")


def with_note(rendered: Rendered, note: str) -> Rendered:
    """`rendered` with `note` in italics below it, unless that would not fit one message
    (answers are built far below the limit, so in practice it always fits)."""
    if not note:
        return rendered
    text = f"{rendered.text}\n\n<i>{esc(note)}</i>"
    return Rendered(text, rendered.keyboard) if fits_message(text) else rendered


def limits_of(context: ContextTypes.DEFAULT_TYPE) -> QuestionLimits:
    """The running bot's limits (bot/app.py puts them in bot_data); none when absent."""
    limits = context.bot_data.get(LIMITS_KEY)
    if not isinstance(limits, QuestionLimits):
        limits = context.bot_data[LIMITS_KEY] = QuestionLimits(0)
    return limits


class LimitsGuard:
    """The TypeHandler callback for updates that search without a chat question:
    "More" presses (the questions budget) and inline queries (their own budget)."""

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None:
            return
        limits = limits_of(context)
        if update.callback_query is not None:
            if not limits.questions.check(user.id, limits.clock()).allowed:
                log.info("user %s is over the rate limit: button press refused", user.id)
                await update.callback_query.answer(CALLBACK_SLOW_DOWN)
                raise ApplicationHandlerStop
            return
        inline = update.inline_query
        if inline is None or not inline.query.strip():
            return  # an empty inline query searches nothing
        if not limits.inline.check(user.id, limits.clock()).allowed:
            log.info("user %s is over the inline rate limit: empty answer", user.id)
            await inline.answer([], cache_time=0, is_personal=True)
            raise ApplicationHandlerStop
