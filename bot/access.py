"""Who may use the bot: ALLOWED_USER_IDS and ALLOWED_CHAT_IDS.

With both empty the bot is open to everyone.  Otherwise an update is let in
when its user is listed, or its chat is (a listed group lets every member ask
there).  Inline queries carry no chat, so only the user counts for them.

`AccessGuard` runs before every other handler (its own group, `GROUP`) and
ends each refused update with `ApplicationHandlerStop`, so no handler that
could show report content ever sees it.  What a refused update gets back:

- a message or command addressed to the bot: one polite refusal naming the
  user's and chat's ids (what the owner needs to let them in), at most once
  per chat every `REFUSAL_INTERVAL_SECONDS`, so a stranger's flood costs one
  message; group chatter not meant for the bot gets nothing;
- an inline query: an empty answer, never cached;
- a button press (on an old answer, or on someone else's in a group): the
  refusal as the press's notification;
- anything else (edits, member updates…): nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from telegram import InlineQueryResultsButton, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.config import Settings
from bot.handlers import command_is_for_us, is_private, is_reply_to_bot, mentions_bot

log = logging.getLogger(__name__)

# Handler group of the guard: before the rate limits (bot/limits.py) and every handler.
GROUP = -2
REFUSAL_INTERVAL_SECONDS = 600.0
# Remembered refusals are pruned when there are more than this many chats.
_MAX_REMEMBERED_CHATS = 10_000
# Telegram shows at most 200 characters in a button press's notification.
CALLBACK_REFUSAL = "Sorry, this bot is private: you are not on its list of allowed users."
INLINE_BUTTON_TEXT = "This bot is private"
# Tapping the inline button opens a private chat with /start private, which is refused
# with the ids the user needs to ask for access.
INLINE_START_PARAMETER = "private"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The allowed user and chat ids; both empty means open to everyone."""

    user_ids: frozenset[int] = frozenset()
    chat_ids: frozenset[int] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        return cls(settings.allowed_user_ids, settings.allowed_chat_ids)

    @property
    def restricted(self) -> bool:
        return bool(self.user_ids or self.chat_ids)

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        if not self.restricted:
            return True
        return (user_id is not None and user_id in self.user_ids) or (
            chat_id is not None and chat_id in self.chat_ids
        )

    def allows_update(self, update: Update) -> bool:
        user = update.effective_user
        chat = update.effective_chat
        return self.allows(user.id if user else None, chat.id if chat else None)

    def describe(self) -> str:
        """The access mode, for the start-up log."""
        if not self.restricted:
            return "open to everyone (ALLOWED_USER_IDS and ALLOWED_CHAT_IDS are empty)"
        return (
            f"restricted to {_count(len(self.user_ids), 'user')} "
            f"and {_count(len(self.chat_ids), 'chat')}"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class Refusal(Enum):
    """How a refused update is answered."""

    MESSAGE = "message"
    CALLBACK = "callback"
    INLINE = "inline"
    SILENT = "silent"


def refusal_for(update: Update, bot_username: str | None, bot_id: int) -> Refusal:
    """Pure: how to answer a refused update.  In groups only what is addressed to the
    bot gets a refusal; people talking among themselves get nothing."""
    if update.inline_query is not None:
        return Refusal.INLINE
    if update.callback_query is not None:
        return Refusal.CALLBACK
    message = update.message  # new messages only: an edit is not a new request
    if message is None:
        return Refusal.SILENT
    if is_private(message):
        return Refusal.MESSAGE
    return Refusal.MESSAGE if _addressed_in_group(message, bot_username, bot_id) else Refusal.SILENT


def _addressed_in_group(message: Message, bot_username: str | None, bot_id: int) -> bool:
    text = message.text or message.caption or ""
    if is_reply_to_bot(message, bot_id) or mentions_bot(text, bot_username):
        return True
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    if not first.startswith("/") or len(first) == 1:
        return False
    # A bare /command in a group is answered by our command handlers, so it is ours too.
    return "@" not in first or command_is_for_us(first, bot_username)


def refusal_html(user_id: int | None, chat_id: int | None) -> str:
    """The refusal message: polite, no report content, the ids the owner needs."""
    ids = []
    if user_id is not None:
        ids.append(f"your user id is <code>{user_id}</code>")
    if chat_id is not None and chat_id != user_id:
        ids.append(f"this chat's id is <code>{chat_id}</code>")
    lines = ["Sorry, this bot is private: only the people its owner has allowed can use it."]
    if ids:
        lines.append(
            "If you should have access, ask its owner to add you (" + "; ".join(ids) + ")."
        )
    return "\n".join(lines)


class RefusalThrottle:
    """At most one refusal message per chat every `interval` seconds.  Pure (the clock
    is passed in), so the tests drive time."""

    def __init__(self, interval: float = REFUSAL_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}

    def should_refuse(self, chat_id: int, now: float) -> bool:
        last = self._last.get(chat_id)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) >= _MAX_REMEMBERED_CHATS:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        self._last[chat_id] = now
        return True


class AccessGuard:
    """The TypeHandler callback: lets allowed updates through, answers and stops the rest."""

    def __init__(self, policy: AccessPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.throttle = RefusalThrottle()
        self.clock = clock

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.policy.allows_update(update):
            return
        kind = refusal_for(update, context.bot.username, context.bot.id)
        user = update.effective_user
        chat = update.effective_chat
        user_id = user.id if user else None
        chat_id = chat.id if chat else None
        try:
            await self._refuse(update, kind, user_id, chat_id)
        except TelegramError as error:  # the update stays refused whether or not this arrives
            log.warning("could not send the refusal for update %s: %s", update.update_id, error)
        raise ApplicationHandlerStop

    async def _refuse(
        self, update: Update, kind: Refusal, user_id: int | None, chat_id: int | None
    ) -> None:
        if kind is Refusal.INLINE and update.inline_query is not None:
            log.info("refused an inline query from user %s", user_id)
            button = InlineQueryResultsButton(
                text=INLINE_BUTTON_TEXT, start_parameter=INLINE_START_PARAMETER
            )
            await update.inline_query.answer([], cache_time=0, is_personal=True, button=button)
        elif kind is Refusal.CALLBACK and update.callback_query is not None:
            log.info("refused a button press from user %s in chat %s", user_id, chat_id)
            await update.callback_query.answer(CALLBACK_REFUSAL)
        elif kind is Refusal.MESSAGE and update.message is not None and chat_id is not None:
            if self.throttle.should_refuse(chat_id, self.clock()):
                log.info("refused a message from user %s in chat %s", user_id, chat_id)
                await update.message.reply_text(
                    refusal_html(user_id, chat_id),
                    parse_mode=ParseMode.HTML,
                    do_quote=not is_private(update.message),
                )
            else:
                log.debug("refused again, quietly: user %s in chat %s", user_id, chat_id)
        else:
            log.debug(
                "ignored update %s from user %s in chat %s", update.update_id, user_id, chat_id
            )
