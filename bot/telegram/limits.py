"""Abuse limits on questions: how often, how long, and whether there is anything to search.

- Rate: the per-user budgets of `bot/telegram/rates.py`.  The first
  question over the limit gets a short "slow down" note saying when to ask
  again; further ones in the same spell get nothing, because answering each of
  them would be a flood of our own.  Refused questions are not searched and do
  not count against the budget.
- Length: a question is cut to `MAX_QUESTION_CHARS` (at a word boundary when
  one is near) and the answer says so.
- Nothing to search: a question without a single letter or digit gets a hint.

`check_question` is pure (the clock is passed in); the handlers call it for chat
questions, and `limits_guard` (registered before the handlers) applies the rate
to button presses and inline queries.  Both find the budgets in the bot's
state (`bot/state.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.state import Context
from bot.telegram import wording
from bot.telegram.html import Rendered, esc, fits_message
from bot.telegram.rates import QuestionLimits

log = logging.getLogger(__name__)

# Handler group of the guard: after access (bot/telegram/access.py), before every handler.
GROUP = -1
MAX_QUESTION_CHARS = 1000
# A cut looks back this far for a space, so it does not split a word.
_WORD_BOUNDARY_LOOKBACK = 100

TOO_LONG_NOTE = wording.TOO_LONG.format(limit=MAX_QUESTION_CHARS)
NOTHING_TO_SEARCH = Rendered(wording.NOTHING_TO_SEARCH)


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
    unit = wording.SECOND if seconds == 1 else wording.SECONDS
    return Rendered(wording.SLOW_DOWN.format(limit=limit, seconds=seconds, unit=unit))


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


async def limits_guard(update: Update, context: Context) -> None:
    """The TypeHandler callback for updates that search without a chat question:
    "More" presses (the questions budget) and inline queries (their own budget)."""
    user = update.effective_user
    if user is None:
        return
    limits = context.bot_data.limits
    if update.callback_query is not None:
        if not limits.questions.check(user.id, limits.clock()).allowed:
            log.info("user %s is over the rate limit: button press refused", user.id)
            await update.callback_query.answer(wording.SLOW_DOWN_PRESS)
            raise ApplicationHandlerStop
        return
    inline = update.inline_query
    if inline is None or not inline.query.strip():
        return  # an empty inline query searches nothing
    if not limits.inline.check(user.id, limits.clock()).allowed:
        log.info("user %s is over the inline rate limit: empty answer", user.id)
        await inline.answer([], cache_time=0, is_personal=True)
        raise ApplicationHandlerStop
