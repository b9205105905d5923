"""The access guard: ALLOWED_USER_IDS and ALLOWED_CHAT_IDS applied to every update.

Who is allowed is `AccessPolicy` (`bot/telegram/policy.py`, kept in the bot's
state).  `access_guard` runs before every other handler (its own group, `GROUP`) and
ends each refused update with `ApplicationHandlerStop`, so no handler that
could show report content ever sees it.  What a refused update gets back:

- a message the bot would have answered (`addressing.is_answered`): one
  polite refusal, at most once per chat every `REFUSAL_INTERVAL_SECONDS`, so a
  flood costs one message.  A stranger's names their user and chat ids (what
  the owner needs to let them in).  An allowed user in a group that is not
  allowed is told that the bot answers there only once the group is added,
  and to ask in a private chat meanwhile: silence would look like a broken
  bot to someone who knows they are allowed.  Group chatter not meant for
  the bot gets nothing;
- an inline query: an empty answer, never cached;
- a button press (on an old answer, or on someone else's in a group): the
  refusal as the press's notification;
- anything else (edits, member updates…): nothing.

Channel posts pass: nobody is answered there, and bot/live/channels.py keeps only the
posts of CHANNEL_IDS (the others are ignored with a log line).
"""

from __future__ import annotations

import logging
import time
from enum import Enum

from telegram import InlineQueryResultsButton, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, filters

from bot.state import Context
from bot.telegram import wording
from bot.telegram.addressing import is_answered, is_private
from bot.telegram.i18n import ENGLISH, Words, words_of
from bot.telegram.policy import Access
from bot.telegram.replies import answer_press

log = logging.getLogger(__name__)

# Handler group of the guard: before the rate limits (bot/telegram/limits.py) and every handler.
GROUP = -2
# Tapping the inline button opens a private chat with /start private, which is refused
# with the ids the user needs to ask for access.
INLINE_START_PARAMETER = "private"


class Refusal(Enum):
    """How a refused update is answered."""

    MESSAGE = "message"
    CALLBACK = "callback"
    INLINE = "inline"
    SILENT = "silent"


def refusal_for(update: Update, bot_username: str | None, bot_id: int) -> Refusal:
    """Pure: how to answer a refused update.  A message gets a refusal exactly where an
    allowed user's would get an answer; people talking among themselves get nothing."""
    if update.inline_query is not None:
        return Refusal.INLINE
    if update.callback_query is not None:
        return Refusal.CALLBACK
    message = update.message  # new messages only: an edit is not a new request
    if message is None or filters.StatusUpdate.ALL.check_update(update):
        return Refusal.SILENT
    return Refusal.MESSAGE if is_answered(message, bot_username, bot_id) else Refusal.SILENT


def refusal_html(
    user_id: int | None,
    chat_id: int | None,
    access: Access = Access.STRANGER,
    *,
    words: Words = ENGLISH,
) -> str:
    """The refusal message: polite, no report content, the ids the owner needs."""
    if access is Access.GROUP_NOT_ALLOWED and chat_id is not None:
        chat = words(wording.THIS_CHAT_ID).format(id=chat_id)
        add = words(wording.ADD_THIS_GROUP).format(ids=chat)
        return "\n".join([words(wording.GROUP_NOT_ALLOWED), add])
    ids = []
    if user_id is not None:
        ids.append(words(wording.YOUR_USER_ID).format(id=user_id))
    if chat_id is not None and chat_id != user_id:
        ids.append(words(wording.THIS_CHAT_ID).format(id=chat_id))
    lines = [words(wording.PRIVATE_BOT)]
    if ids:
        joined = words(wording.IDS_SEPARATOR).join(ids)
        lines.append(words(wording.ASK_THE_OWNER).format(ids=joined))
    return "\n".join(lines)


async def access_guard(update: Update, context: Context) -> None:
    """The TypeHandler callback: lets allowed updates through, answers and stops the rest."""
    state = context.bot_data
    if update.channel_post is not None or update.edited_channel_post is not None:
        return  # nobody is answered: bot/live/channels.py keeps the posts of CHANNEL_IDS
    user = update.effective_user
    chat = update.effective_chat
    user_id = user.id if user else None
    chat_id = chat.id if chat else None
    access = state.access.check(user_id, chat_id)
    if access is Access.ALLOWED:
        return
    kind = refusal_for(update, context.bot.username, context.bot.id)
    try:
        await _refuse(update, kind, access, user_id, chat_id, context)
    except TelegramError as error:  # the update stays refused whether or not this arrives
        log.warning("could not send the refusal for update %s: %s", update.update_id, error)
    raise ApplicationHandlerStop


async def _refuse(
    update: Update,
    kind: Refusal,
    access: Access,
    user_id: int | None,
    chat_id: int | None,
    context: Context,
) -> None:
    words = words_of(update)
    if kind is Refusal.INLINE and update.inline_query is not None:
        log.info("refused an inline query from user %s", user_id)
        button = InlineQueryResultsButton(
            text=words(wording.PRIVATE_BOT_INLINE_BUTTON), start_parameter=INLINE_START_PARAMETER
        )
        await update.inline_query.answer([], cache_time=0, is_personal=True, button=button)
    elif kind is Refusal.CALLBACK and update.callback_query is not None:
        log.info(
            "refused a button press from user %s in chat %s (%s)", user_id, chat_id, access.value
        )
        text = (
            wording.GROUP_NOT_ALLOWED_PRESS
            if access is Access.GROUP_NOT_ALLOWED
            else wording.PRIVATE_BOT_PRESS
        )
        await answer_press(update.callback_query, words(text))
    elif kind is Refusal.MESSAGE and update.message is not None and chat_id is not None:
        if context.bot_data.refusals.should_refuse(chat_id, time.monotonic()):
            log.info(
                "refused a message from user %s in chat %s (%s)", user_id, chat_id, access.value
            )
            await update.message.reply_text(
                refusal_html(user_id, chat_id, access, words=words),
                parse_mode=ParseMode.HTML,
                do_quote=not is_private(update.message),
            )
        else:
            log.debug("refused again, quietly: user %s in chat %s", user_id, chat_id)
    else:
        log.debug("ignored update %s from user %s in chat %s", update.update_id, user_id, chat_id)
