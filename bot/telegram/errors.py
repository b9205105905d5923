"""The error handler: log first, then apologise without detail.  Never raises.

A user never sees a traceback or an exception's text: they get
`wording.ERROR` in their language, as a reply or as the button press's notification.
"""

from __future__ import annotations

import json
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import NetworkError

from bot.state import Context
from bot.telegram import html
from bot.telegram.i18n import words_of

log = logging.getLogger(__name__)

# Enough of an update to find it again, not so much that one huge message floods the log.
LOGGED_UPDATE_CHARS = 2000


def describe_update(update: object, limit: int = LOGGED_UPDATE_CHARS) -> str:
    """The update as JSON for the log, cut short so a huge message cannot flood it."""
    if isinstance(update, Update):
        text = json.dumps(update.to_dict(), ensure_ascii=False, default=str)
    else:
        text = repr(update)
    return text if len(text) <= limit else text[:limit] + "…"


async def on_error(update: object, context: Context) -> None:
    context.bot_data.metrics.handler_failed(update)
    if update is None and isinstance(context.error, NetworkError):
        # Polling hiccups: python-telegram-bot retries by itself; a traceback adds nothing.
        log.warning("network trouble while polling, retrying: %s", context.error)
        return
    log.error("error while handling update %s", describe_update(update), exc_info=context.error)
    if not isinstance(update, Update):
        return
    apology = html.render_error(words=words_of(update))
    try:
        if update.callback_query is not None:
            # Unanswered so far: presses are answered last, by a call that never raises
            # (bot/telegram/replies.py), so this is the one answer the press gets.
            await update.callback_query.answer(html.visible_text(apology.text))
        elif update.effective_message is not None and update.inline_query is None:
            await update.effective_message.reply_text(apology.text, parse_mode=ParseMode.HTML)
    except Exception:  # the apology is best effort; the error is already logged
        log.warning("could not send the apology for update %s", update.update_id, exc_info=True)
