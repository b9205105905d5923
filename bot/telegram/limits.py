"""Abuse limits: how often, how long, and whether there is anything to search.

- Rate: the per-user budgets of `bot/telegram/rates.py`, applied by
  `limits_guard` (registered before the handlers) to everything the bot
  answers: every message it replies to (questions, commands, hints) and every
  button press.  What the bot would not answer anyway (group chatter, a
  command for another bot) costs nothing.  A message over budget gets a short
  "slow down" note saying when to try again, at most one per chat a minute,
  because answering each of a flood would be a flood of our own; the rest get
  nothing.  A press over budget gets the note as its notification.  Nothing
  over budget is searched, and it does not count against the budget.
- Length: a question is cut to `MAX_QUESTION_CHARS` (at a word boundary when
  one is near) and the answer says so.
- Nothing to search: a question without a single letter or digit gets a hint.

`check_question` is pure; the handlers call it for chat questions.  The guard
finds the budgets in the bot's state (`bot/state.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import ApplicationHandlerStop, filters

from bot.state import Context
from bot.telegram import wording
from bot.telegram.addressing import is_answered
from bot.telegram.html import Rendered, esc, fits_message
from bot.telegram.i18n import ENGLISH, Words, words_of
from bot.telegram.rates import QuestionLimits
from bot.telegram.replies import answer_press, reply

log = logging.getLogger(__name__)

# Handler group of the guard: after access (bot/telegram/access.py), before every handler.
GROUP = -1
MAX_QUESTION_CHARS = 1000
# A cut looks back this far for a space, so it does not split a word.
_WORD_BOUNDARY_LOOKBACK = 100

# In English: what check_question says to a user without a catalogue of their own.
TOO_LONG_NOTE = wording.TOO_LONG.format(limit=MAX_QUESTION_CHARS)
NOTHING_TO_SEARCH = Rendered(wording.NOTHING_TO_SEARCH)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a chat question: search `question` (and add `note` to the
    answer), or send `refusal` instead."""

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


def slow_down(limit: int, retry_in: float, *, words: Words = ENGLISH) -> Rendered:
    seconds = max(1, round(retry_in))
    retry = words.plural(wording.TRY_AGAIN_IN, seconds).format(count=seconds)
    return Rendered(f"{words(wording.SLOW_DOWN).format(limit=limit)} {retry}")


def check_question(question: str, *, words: Words = ENGLISH) -> Verdict:
    """Whether there is anything to search, then the length (the rate is the guard's)."""
    if not has_words(question):
        return Verdict(None, refusal=Rendered(words(wording.NOTHING_TO_SEARCH)))
    cut = cut_question(question)
    if len(cut) == len(question):
        return Verdict(cut)
    return Verdict(cut, words(wording.TOO_LONG).format(limit=MAX_QUESTION_CHARS))


def with_note(rendered: Rendered, note: str) -> Rendered:
    """`rendered` with `note` in italics below it, unless that would not fit one message
    (answers are built far below the limit, so in practice it always fits)."""
    if not note:
        return rendered
    text = f"{rendered.text}\n\n<i>{esc(note)}</i>"
    return Rendered(text, rendered.keyboard) if fits_message(text) else rendered


def spends_budget(update: Update, bot_username: str | None, bot_id: int) -> bool:
    """Whether the chat budget pays for this update: a press, or a new message the
    handlers reply to (edits and service messages get no reply, and inline queries
    have a budget of their own)."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None or filters.StatusUpdate.ALL.check_update(update):
        return False
    return is_answered(message, bot_username, bot_id)


async def limits_guard(update: Update, context: Context) -> None:
    """The TypeHandler callback: spends one request of the user's budget on everything
    that will be answered, and stops (quietly, or with a note) what is over it."""
    user = update.effective_user
    if user is None:
        return
    limits = context.bot_data.limits
    if update.inline_query is not None:
        await _limit_inline(update, limits, user.id)
    elif spends_budget(update, context.bot.username, context.bot.id):
        decision = limits.questions.check(user.id, limits.clock())
        if decision.allowed:
            return
        if update.callback_query is not None:
            log.info("user %s is over the rate limit: button press refused", user.id)
            await answer_press(update.callback_query, words_of(update)(wording.SLOW_DOWN_PRESS))
        elif update.message is not None:
            note = slow_down(limits.per_minute, decision.retry_in, words=words_of(update))
            await _slow_down(update.message, limits, user.id, note)
        raise ApplicationHandlerStop


async def _slow_down(
    message: Message, limits: QuestionLimits, user_id: int, note: Rendered
) -> None:
    if limits.notes.allow(message.chat_id, limits.clock()):
        log.info("user %s is over the rate limit: told to slow down", user_id)
        await reply(message, note)
    else:
        log.info("user %s is over the rate limit: ignored", user_id)


async def _limit_inline(update: Update, limits: QuestionLimits, user_id: int) -> None:
    inline = update.inline_query
    if inline is None or not inline.query.strip():
        return  # an empty inline query searches nothing
    if not limits.inline.check(user_id, limits.clock()).allowed:
        log.info("user %s is over the inline rate limit: empty answer", user_id)
        await inline.answer([], cache_time=0, is_personal=True)
        raise ApplicationHandlerStop
