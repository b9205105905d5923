"""Handlers: the admin commands /sources, /problems and /forget, for ADMIN_USER_IDS in
their private chats, and the admins' command menu.

Admins are still subject to the access guard and the rate limit, like everyone.  To
anyone else (and in groups, where everyone would read the answer) these commands are
unknown commands, answered as any other; no admin content is ever shown.  The menu
with the admin commands is set per admin (setMyCommands with BotCommandScopeChat, in
every language: Telegram prefers a chat scope's list without a language to the
default scope's in the admin's, so each language needs its own) at start-up, and again
when an admin first writes, since Telegram refuses a chat scope for a user who has not
started the bot yet; everyone else keeps the default.

/sources also counts the reports in each language.  The store's upload records say who
sent the newest upload (/sources); /forget of an upload drops its record too.  A store
that fails costs only that, in one warning line.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from telegram import Bot, BotCommandScopeChat, Message, Update
from telegram.error import TelegramError

from bot.live import channels, jobs
from bot.live.sources import Origin, newest_upload, origin_of, sources
from bot.live.uploads import Uploads
from bot.state import BotState, Context
from bot.storage.records import StoreError, UploadRecord
from bot.telegram import html, html_admin, wording
from bot.telegram.addressing import command_is_for_us, is_private
from bot.telegram.html import Rendered, command_menu
from bot.telegram.i18n import Words, every_language, words_of
from bot.telegram.replies import reply

log = logging.getLogger(__name__)

ADMIN_MENU = (*wording.COMMANDS, *wording.ADMIN_COMMANDS)


def is_admin(state: BotState, user_id: int | None) -> bool:
    return user_id is not None and user_id in state.settings.admin_user_ids


async def set_admin_menus(bot: Bot, state: BotState) -> None:
    """The admin menu in each admin's private chat (from the start-up hook)."""
    for admin_id in sorted(state.settings.admin_user_ids):
        await refresh_admin_menu(bot, admin_id, state)


async def refresh_admin_menu(bot: Bot, chat_id: int, state: BotState | None = None) -> None:
    """Set the admin menu in an admin's private chat, once per run (a failure is logged:
    the menu is a convenience)."""
    done = state.admin_menus if state is not None else None
    if done is not None and chat_id in done:
        return
    try:
        for words in every_language():
            await bot.set_my_commands(
                command_menu(ADMIN_MENU, words),
                scope=BotCommandScopeChat(chat_id),
                language_code=words.code,
            )
    except TelegramError as error:
        log.info("admin menu for %s not set yet (%s); set when they write to me", chat_id, error)
        return
    if done is not None:
        done.add(chat_id)


async def _admin_message(update: Update, context: Context) -> Message | None:
    """The message when an admin sent it in a private chat; otherwise None, after
    answering as to any unknown command."""
    message = update.effective_message
    if message is None or not message.text:
        return None
    user = update.effective_user
    state = context.bot_data
    if is_private(message) and is_admin(state, user.id if user else None):
        await refresh_admin_menu(context.bot, message.chat_id, state)
        return message
    command = message.text.split(maxsplit=1)[0]
    if is_private(message) or command_is_for_us(command, context.bot.username):
        name = command.partition("@")[0]
        await reply(message, html.render_unknown_command(name, words=words_of(update)))
    return None


async def sources_command(update: Update, context: Context) -> None:
    message = await _admin_message(update, context)
    if message is None:
        return
    state = context.bot_data
    engine = state.engine  # once: a rescan swapping it meanwhile never mixes two
    reports, root = engine.reports, state.settings.reports_dir
    found = sources(reports, root)
    newest: UploadRecord | None = None
    if state.store is not None and any(s.origin is Origin.UPLOAD for s in found):
        try:
            newest = newest_upload(reports, root, await asyncio.to_thread(state.store.uploads))
        except StoreError as error:
            log.warning("/sources without the upload records: %s", error)
    rendered = html_admin.render_sources(found, newest, engine.languages(), words=words_of(update))
    await reply(message, rendered, quote=False)


async def problems_command(update: Update, context: Context) -> None:
    message = await _admin_message(update, context)
    if message is None:
        return
    state = context.bot_data
    rendered = html_admin.render_problems(
        state.engine.problems, state.settings.reports_dir, words=words_of(update)
    )
    await reply(message, rendered, quote=False)


async def forget_command(update: Update, context: Context) -> None:
    """`/forget NAME` (an upload's file name or a report id) or `/forget LINK` (a channel
    post's t.me link)."""
    message = await _admin_message(update, context)
    if message is None or message.text is None:
        return
    target = forget_target(message.text)
    words = words_of(update)
    if not target:
        await reply(message, html_admin.render_forget_usage(words=words))
        return
    await reply(message, await _forget(context, target, words))


def forget_target(text: str) -> str:
    """What follows /forget (or /forget@bot), spaces inside a file name kept."""
    parts = text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


async def _forget(context: Context, target: str, words: Words) -> Rendered:
    state = context.bot_data
    live, root = state.live, state.settings.reports_dir
    if live is None:
        return html_admin.render_forget_refused(target, None, words=words)
    engine = state.engine
    link = channels.normalize_link(target)
    report = next((r for r in engine.reports if link and r.url == link), None)
    if report is None:
        report = engine.report(target) or next(
            (r for r in engine.reports if r.path and Path(r.path).name == target), None
        )
    origin = origin_of(report, root) if report is not None else None
    uploads = Uploads(live.library)
    if origin is Origin.UPLOAD and report is not None and report.path:
        target = Path(report.path).name
    if origin is Origin.UPLOAD or (origin is None and target in uploads.names()):
        try:
            change = await asyncio.to_thread(uploads.forget, target)
        except FileNotFoundError:
            return html_admin.render_forget_refused(target, None, words=words)
        if change is not None:
            jobs.swap_in(context, live, change)
        if state.store is not None:
            try:
                await asyncio.to_thread(state.store.forget_upload, target)
            except StoreError as error:
                log.warning("forgot the upload %s but not its record: %s", target, error)
        log.info("forgot the upload %s", target)
        return html_admin.render_forgot_upload(target, words=words)
    if origin is Origin.CHANNEL and report is not None and state.store is not None:
        await asyncio.to_thread(channels.forget_post, state.store, live, report.id)
        change = await asyncio.to_thread(live.library.refresh)
        if change is not None:
            jobs.swap_in(context, live, change)
        log.info("forgot the channel post %s", report.id)
        return html_admin.render_forgot_post(report.url or report.id, words=words)
    return html_admin.render_forget_refused(target, origin, words=words)
