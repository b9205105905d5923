"""The question handlers: a question in a chat, /ask, a "More" press, an inline query.

Each reads the update, asks the engine (in a worker thread: searches are
CPU-bound, and one slow question must not hold up other chats) and sends what
`html.py` built, in the asker's language (`i18n.words_of`).  The engine is read from
the state once per update, so a rescan that swaps it meanwhile never mixes two indexes
in one answer.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Message, Update

from bot.reliability import metrics
from bot.state import Context
from bot.telegram import html, limits, wording
from bot.telegram.addressing import clean_question, is_private, is_reply_to_bot, mentions_bot
from bot.telegram.callbacks import decode_more
from bot.telegram.i18n import Words, words_of
from bot.telegram.replies import answer_press, edit, remove_keyboard, reply, show_typing
from bot.text import MAX_ANSWERS
from retrieval.models import Hit

log = logging.getLogger(__name__)


async def search(context: Context, question: str, surface: str) -> list[Hit]:
    """The one way a question is searched, so every answer is counted and timed once,
    by `surface` (metrics.CHAT, MORE or INLINE)."""
    state = context.bot_data
    engine = state.engine
    started = time.perf_counter()
    hits = await asyncio.to_thread(engine.search, limits.cut_question(question), MAX_ANSWERS)
    state.metrics.answered(surface, bool(hits), time.perf_counter() - started)
    return hits


async def answer_question(message: Message, question: str, context: Context, words: Words) -> None:
    if not question:
        await reply(message, html.render_ask_usage(words=words))
        return
    verdict = limits.check_question(question, words=words)
    if verdict.question is None:  # nothing to search
        if verdict.refusal is not None:
            await reply(message, verdict.refusal)
        return
    await show_typing(message)
    hits = await search(context, verdict.question, metrics.CHAT)
    log.info("chat %s asked %d chars: %d hits", message.chat_id, len(question), len(hits))
    rendered = (
        html.render_answer(hits, 1, words=words) if hits else html.render_not_found(words=words)
    )
    await reply(message, limits.with_note(rendered, verdict.note))


async def ask(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    question = clean_question(message.text, context.bot.username)
    await answer_question(message, question, context, words_of(update))


async def text_message(update: Update, context: Context) -> None:
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
        question = clean_question(message.text, username)
        await answer_question(message, question, context, words_of(update))


async def more_answers(update: Update, context: Context) -> None:
    """Show hit `rank` by editing the answer.  Stateless: the question is the message
    the answer replies to, so this works after a restart too."""
    query = update.callback_query
    if query is None:
        return
    rank = decode_more(query.data)
    answer = query.message if isinstance(query.message, Message) else None
    origin = answer.reply_to_message if answer is not None else None
    question = clean_question(origin.text or "", context.bot.username) if origin else ""
    words = words_of(update)
    if rank is None or not question:
        await answer_press(query, words(wording.EXPIRED))
        return
    hits = await search(context, question, metrics.MORE)
    if rank > min(len(hits), MAX_ANSWERS):
        # The reports changed since the answer was sent: its button leads nowhere now.
        await remove_keyboard(query)
        await answer_press(query, words(wording.NO_MORE))
        return
    await edit(query, html.render_answer(hits, rank, words=words))
    # Answered only now, so that when the edit fails the error handler's apology
    # becomes the one answer the user sees (bot/telegram/replies.py).
    await answer_press(query)


async def inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    if query is None:
        return
    question = " ".join(query.query.split())
    hits = await search(context, question, metrics.INLINE) if question else []
    # Personal: with ALLOWED_USER_IDS or a rate limit, answers depend on who asks, so
    # Telegram must not hand one user's cached answer to another.
    results = html.inline_results(hits, words=words_of(update))
    await query.answer(results, cache_time=30, is_personal=True)
