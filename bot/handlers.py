"""Small async handlers: read the update, ask the engine, send what `render` built.

The engine lives in `bot_data` (so a later reload can swap it in one
assignment).  Searches are CPU-bound and run in a worker thread, so one slow
question never holds up other chats.  Which chat messages count as questions
is decided by the pure functions at the top, which the tests exercise directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from telegram import LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot import limits, render
from bot.callbacks import MAX_RANK, decode_more
from bot.render import Rendered
from retrieval.models import Hit

if TYPE_CHECKING:  # the runner builds the engine; handlers only use it
    from retrieval.search import SearchEngine

log = logging.getLogger(__name__)

ENGINE_KEY = "engine"
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_ASK_PREFIX = re.compile(r"^/ask(?:@\w+)?(?=\s|$)", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,6}")


# -- pure decisions ----------------------------------------------------------------


def mention_pattern(bot_username: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@{re.escape(bot_username)}(?!\w)", re.IGNORECASE)


def clean_question(text: str, bot_username: str | None) -> str:
    """The question inside a message: without a leading /ask and without mentions of us.

    Used both for a new message and for the message a "More" press points back
    to, so both always search for the same words.
    """
    question = _ASK_PREFIX.sub("", text.strip(), count=1)
    if bot_username:
        question = mention_pattern(bot_username).sub(" ", question)
    return " ".join(question.split())


def mentions_bot(text: str, bot_username: str | None) -> bool:
    return bool(bot_username) and mention_pattern(str(bot_username)).search(text) is not None


def is_reply_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def command_is_for_us(command: str, bot_username: str | None) -> bool:
    """In groups a bare /command may be meant for another bot; /command@us is ours."""
    _, _, target = command.partition("@")
    return bool(target) and bool(bot_username) and target.lower() == str(bot_username).lower()


def parse_latest_count(args: Sequence[str]) -> tuple[int, str] | None:
    """(N, note) for `/latest [N]`, or None when the argument is not a usable count."""
    if not args:
        return render.LATEST_DEFAULT, ""
    if len(args) > 1 or not _DIGITS.fullmatch(args[0]):
        return None
    count = int(args[0])
    if count < 1:
        return None
    if count > render.LATEST_MAX:
        return render.LATEST_MAX, f"At most {render.LATEST_MAX} at a time."
    return count, ""


def describe_update(update: object, limit: int = 2000) -> str:
    """The update as JSON for the log, cut short so a huge message cannot flood it."""
    if isinstance(update, Update):
        text = json.dumps(update.to_dict(), ensure_ascii=False, default=str)
    else:
        text = repr(update)
    return text if len(text) <= limit else text[:limit] + "…"


# -- helpers with I/O ------------------------------------------------------------


def engine_of(context: ContextTypes.DEFAULT_TYPE) -> SearchEngine:
    return cast("SearchEngine", context.bot_data[ENGINE_KEY])


async def search(context: ContextTypes.DEFAULT_TYPE, question: str) -> list[Hit]:
    engine = engine_of(context)
    return await asyncio.to_thread(engine.search, limits.cut_question(question), MAX_RANK)


async def reply(message: Message, rendered: Rendered, *, quote: bool = True) -> Message:
    """Send `rendered` as a reply to `message`.

    Answers always quote the question: a "More" press reads the question back
    from the message the answer replies to.
    """
    return await message.reply_text(
        rendered.text,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        link_preview_options=_NO_PREVIEW,
        reply_parameters=(
            ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
            if quote
            else None
        ),
    )


async def show_typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)
    except TelegramError as error:  # cosmetic: the answer matters, not the indicator
        log.debug("could not show typing in chat %s: %s", message.chat_id, error)


async def answer_question(
    message: Message, question: str, context: ContextTypes.DEFAULT_TYPE
) -> None:
    if not question:
        await reply(message, render.render_ask_usage())
        return
    user_id = message.from_user.id if message.from_user else None
    verdict = limits.check_question(limits.limits_of(context), user_id, question)
    if verdict.question is None:  # over the rate limit, or nothing to search
        if verdict.refusal is not None:
            await reply(message, verdict.refusal)
        return
    await show_typing(message)
    hits = await search(context, verdict.question)
    log.info("chat %s asked %d chars: %d hits", message.chat_id, len(question), len(hits))
    rendered = render.render_answer(hits, 1) if hits else render.render_not_found()
    await reply(message, limits.with_note(rendered, verdict.note))


# -- command handlers ---------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    engine = engine_of(context)
    user = update.effective_user
    rendered = render.render_start(
        len(engine.reports),
        engine.newest_date(),
        engine.example_questions(2),
        user.first_name if user else "",
    )
    await reply(message, rendered, quote=not is_private(message))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    await reply(message, render.render_help(context.bot.username), quote=not is_private(message))


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    parsed = parse_latest_count(args)
    if parsed is None:
        await reply(message, render.render_latest_usage(" ".join(args)))
        return
    count, note = parsed
    engine = engine_of(context)
    rendered = render.render_latest(engine.latest(count), len(engine.reports), note)
    await reply(message, rendered, quote=not is_private(message))


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    await answer_question(message, clean_question(message.text, context.bot.username), context)


# -- messages ------------------------------------------------------------------------


async def text_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Private chat: every text is a question.  Groups: only when addressed to us."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    username = context.bot.username
    addressed = (
        is_private(message)
        or mentions_bot(message.text, username)
        or is_reply_to_bot(message, context.bot.id)
    )
    if addressed:
        await answer_question(message, clean_question(message.text, username), context)


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0]
    if is_private(message) or command_is_for_us(command, context.bot.username):
        await reply(message, render.render_unknown_command(command.partition("@")[0]))


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice…: a hint in private chats, or in groups when replying to us."""
    message = update.effective_message
    if message is None:
        return
    if is_private(message) or is_reply_to_bot(message, context.bot.id):
        await reply(message, render.render_not_text())


# -- buttons and inline mode ------------------------------------------------------------


async def more_answers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show hit `rank` by editing the answer.  Stateless: the question is the message
    the answer replies to, so this works after a restart too."""
    query = update.callback_query
    if query is None:
        return
    rank = decode_more(query.data)
    answer = query.message if isinstance(query.message, Message) else None
    origin = answer.reply_to_message if answer is not None else None
    question = clean_question(origin.text or "", context.bot.username) if origin else ""
    if rank is None or not question:
        await query.answer(render.EXPIRED_TEXT)
        return
    hits = await search(context, question)
    if rank > min(len(hits), MAX_RANK):
        # The reports changed since the answer was sent.
        await query.answer(render.NO_MORE_TEXT)
        await query.edit_message_reply_markup(reply_markup=None)
        return
    rendered = render.render_answer(hits, rank)
    try:
        await query.edit_message_text(
            rendered.text,
            parse_mode=ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=_NO_PREVIEW,
        )
    except BadRequest as error:
        # A double press asks for the text the message already shows.
        if "not modified" not in str(error).lower():
            raise
    # Answered only now, so that when the edit fails the error handler's apology
    # becomes the answer the user sees.
    await query.answer()


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.inline_query
    if query is None:
        return
    question = " ".join(query.query.split())
    hits = await search(context, question) if question else []
    # Personal: with ALLOWED_USER_IDS or a rate limit, answers depend on who asks, so
    # Telegram must not hand one user's cached answer to another.
    await query.answer(render.inline_results(hits), cache_time=30, is_personal=True)


# -- errors ------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then apologise without detail.  Never raises."""
    if update is None and isinstance(context.error, NetworkError):
        # Polling hiccups: python-telegram-bot retries by itself; a traceback adds nothing.
        log.warning("network trouble while polling, retrying: %s", context.error)
        return
    log.error("error while handling update %s", describe_update(update), exc_info=context.error)
    if not isinstance(update, Update):
        return
    apology = render.render_error()
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(render.visible_text(apology.text))
        elif update.effective_message is not None and update.inline_query is None:
            await update.effective_message.reply_text(apology.text, parse_mode=ParseMode.HTML)
    except Exception:  # the apology is best effort; the error is already logged
        log.warning("could not send the apology for update %s", update.update_id, exc_info=True)
