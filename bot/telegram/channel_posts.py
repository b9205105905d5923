"""Handler: a new or edited post in a channel.  A post of a channel in CHANNEL_IDS is
kept as a report (bot/live/channels.py says how); the others are ignored with a log line.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, Update

from bot.live.channels import post_id, post_report
from bot.state import Context
from retrieval.models import Report

log = logging.getLogger(__name__)


def _report_of(message: Message) -> Report | None:
    chat = message.chat
    return post_report(
        chat.id,
        chat.title,
        chat.username,
        message.message_id,
        message.date,
        message.text or message.caption or "",
    )


async def channel_post(update: Update, context: Context) -> None:
    """A new or edited post: kept, and indexed at the next refresh (REPORTS_POLL_SECONDS)."""
    message = update.channel_post or update.edited_channel_post
    if message is None:
        return
    state = context.bot_data
    chat = message.chat
    if chat.id not in state.settings.channel_ids:
        log.info("ignored a post in channel %s: it is not in CHANNEL_IDS", chat.id)
        return
    store, live = state.store, state.live
    if store is None or live is None:
        log.warning("a post in channel %s is not kept: no state file or live reports", chat.id)
        return
    report = _report_of(message)
    if report is None:  # an edit that took every word out, or a post without text
        await asyncio.to_thread(store.forget_channel_post, chat.id, message.message_id)
        live.library.remove_reports([post_id(chat.id, message.message_id)])
        log.info("post %s of channel %s has no text: not a report", message.message_id, chat.id)
        return
    await asyncio.to_thread(store.save_channel_post, chat.id, message.message_id, report)
    live.library.put_reports([report])
    what = "edited" if update.edited_channel_post else "new"
    log.info("%s post %s of channel %s kept as a report", what, message.message_id, chat.id)
