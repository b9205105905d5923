"""The commands that are not questions: /start, /help, /latest [N] [TOPIC], and what
the bot says to an unknown command or a message without text, each in the language of
whoever sent it (`i18n.words_of`)."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.state import Context
from bot.telegram import admin, html, html_admin, html_live
from bot.telegram.addressing import command_is_for_us, is_private, is_reply_to_bot
from bot.telegram.html import Rendered
from bot.telegram.i18n import words_of
from bot.telegram.replies import reply
from bot.text import parse_latest
from retrieval import topics


async def start(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    engine = context.bot_data.engine
    user = update.effective_user
    if is_private(message) and admin.is_admin(context.bot_data, user.id if user else None):
        await admin.refresh_admin_menu(context.bot, message.chat_id, context.bot_data)
    rendered = html.render_start(
        len(engine.reports),
        engine.newest_date(),
        engine.example_questions(2),
        user.first_name if user else "",
        words=words_of(update),
    )
    await reply(message, rendered, quote=not is_private(message))


async def help_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    words = words_of(update)
    rendered = html.render_help(context.bot.username, words=words)
    user = update.effective_user
    if is_private(message) and admin.is_admin(context.bot_data, user.id if user else None):
        await admin.refresh_admin_menu(context.bot, message.chat_id, context.bot_data)
        rendered = Rendered(rendered.text + "\n" + html_admin.render_admin_help(words=words))
    await reply(message, rendered, quote=not is_private(message))


async def latest(update: Update, context: Context) -> None:
    """`/latest [N]`: the newest reports; `/latest [N] TOPIC`: the newest on a topic."""
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    request = parse_latest(args)
    engine = context.bot_data.engine  # once: a rescan may swap it meanwhile
    words = words_of(update)
    if request is None:
        await reply(message, html.render_latest_usage(" ".join(args), words=words))
        return
    if request.topic and not topics.has_search_terms(engine, request.topic):
        # "/latest <&>" names no topic either: nothing in it can be searched for.
        await reply(message, html.render_latest_usage(request.topic, words=words))
        return
    note = html.latest_note(request.capped, words=words)
    total = len(engine.reports)
    if request.topic:
        found = await asyncio.to_thread(
            topics.newest_on_topic, engine, request.topic, request.count
        )
        rendered = html_live.render_latest_on_topic(found, total, request.topic, note, words=words)
    else:
        rendered = html.render_latest(engine.latest(request.count), total, note, words=words)
    await reply(message, rendered, quote=not is_private(message))


async def unknown_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0]
    if is_private(message) or command_is_for_us(command, context.bot.username):
        name = command.partition("@")[0]
        await reply(message, html.render_unknown_command(name, words=words_of(update)))


async def not_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice…: a hint in private chats, or in groups when replying to us."""
    message = update.effective_message
    if message is None:
        return
    if is_private(message) or is_reply_to_bot(message, context.bot.id):
        await reply(message, html.render_not_text(words=words_of(update)))
