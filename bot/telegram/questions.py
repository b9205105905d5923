"""The question handlers: a question in a chat, /ask, a "More" press, an inline query.

Each reads the update, asks the engine (in a worker thread: searches are
CPU-bound, and one slow question must not hold up other chats) and sends what
`html.py` built, in the asker's language (`i18n.words_of`).  The engine is read from
the state once per update, so a rescan that swaps it meanwhile never mixes two indexes
in one answer.  A question without an answer is told so, or, when it is surely in a
language no report is in, which languages it can be asked in (`html_languages.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Message, Update

from bot.reliability import metrics
from bot.state import Context
from bot.telegram import html, html_languages, limits, wording
from bot.telegram.addressing import clean_question, is_private, is_reply_to_bot, mentions_bot
from bot.telegram.callbacks import decode_more
from bot.telegram.html import Rendered
from bot.telegram.i18n import Words, words_of
from bot.telegram.replies import answer_press, edit, remove_keyboard, reply, show_typing
from bot.text import MAX_ANSWERS
from retrieval.models import Hit
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)


async def search(
    context: Context, question: str, surface: str, engine: SearchEngine | None = None
) -> list[Hit]:
    """The one way a question is searched, so every answer is counted and timed once,
    by `surface` (metrics.CHAT, MORE or INLINE); in `engine` when the update already
    read it, else the state's."""
    state = context.bot_data
    engine = state.engine if engine is None else engine
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
    engine = context.bot_data.engine
    hits = await search(context, verdict.question, metrics.CHAT, engine)
    log.info("chat %s asked %d chars: %d hits", message.chat_id, len(question), len(hits))
    if hits:
        rendered = html.render_answer(hits, 1, words=words)
    else:
        rendered = await not_found(engine, verdict.question, words)
    await reply(message, limits.with_note(rendered, verdict.note))


async def not_found(engine: SearchEngine, question: str, words: Words) -> Rendered:
    """The reply to a question without an answer: "not found", or, when the question is
    surely in a language no report is in, that no report is, and the reports' languages
    to ask in instead."""
    languages = await asyncio.to_thread(engine.question_languages, limits.cut_question(question))
    codes = list(engine.languages())
    return html_languages.render_not_found_in(languages.missing, codes, words=words)


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
