"""`/subscribe`, `/subscriptions`, `/unsubscribe`, `/latest TOPIC`, and the pushes.

Subscriptions belong to a chat (a private chat, or a group where anyone may
manage them) and live in the store, so they survive restarts.  When new
reports arrive (`bot.live`), each subscribed topic is matched against each new
report with `retrieval.topics` (the engine's own search and not-found rule,
restricted to that report), and every chat gets one message per matching
report: the best passage, quoted and attributed like an answer.  Sending goes
through the bot's rate limiter (Telegram's flood limits); a chat that blocked
the bot or no longer exists is unsubscribed, not retried.  Access is checked
again at push time: a user removed from ALLOWED_USER_IDS stops getting pushes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from telegram import Bot, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import handlers, render_live
from bot.handlers import engine_of, is_private, reply
from bot.render import LATEST_DEFAULT, LATEST_MAX, Rendered, render_latest_usage
from bot.store import Store, Subscription, topic_key
from retrieval import topics
from retrieval.models import Hit, Report
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)

STORE_KEY = "store"
MAX_SUBSCRIPTIONS_PER_CHAT = 20
# Pushes one chat gets for one batch of new reports; past it, a pointer to /latest TOPIC.
MAX_PUSHES_PER_BATCH = 5
_DIGITS = re.compile(r"[0-9]{1,6}")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# -- pure decisions ------------------------------------------------------------------------


def parse_latest_topic(args: Sequence[str]) -> tuple[int, str, str] | None:
    """(N, note, topic) for `/latest [N] TOPIC`; None when there is no topic or N is bad."""
    count, note, words = LATEST_DEFAULT, "", list(args)
    if words and _DIGITS.fullmatch(words[0]):
        count, words = int(words[0]), words[1:]
        if count < 1:
            return None
        if count > LATEST_MAX:
            count, note = LATEST_MAX, f"At most {LATEST_MAX} at a time."
    topic = topics.normalize_topic(" ".join(words))
    return (count, note, topic) if topic else None


def pick_subscription(topic_or_number: str, current: Sequence[Subscription]) -> list[Subscription]:
    """What `/unsubscribe ARG` removes: "all", a number from /subscriptions, or a topic."""
    arg = topics.normalize_topic(topic_or_number)
    if arg.casefold() == "all":
        return list(current)
    if _DIGITS.fullmatch(arg) and 1 <= int(arg) <= len(current):
        return [current[int(arg) - 1]]
    return [s for s in current if topic_key(s.topic) == topic_key(arg)]


@dataclass(frozen=True, slots=True)
class Push:
    chat_id: int
    hit: Hit
    topics: tuple[str, ...]


def plan_pushes(
    subscriptions: Sequence[Subscription],
    matched: Mapping[str, Sequence[Hit]],
    allowed: Callable[[Subscription], bool],
    limit: int = MAX_PUSHES_PER_BATCH,
) -> tuple[list[Push], list[tuple[int, str]]]:
    """(pushes, overflows): one push per chat and matching report, naming every topic of
    the chat it matched; at most `limit` per chat, the rest an overflow (chat, topic).

    `matched` maps topic_key → hits (newest report first).  Subscriptions of users no
    longer allowed are skipped.
    """
    pushes: dict[tuple[int, str], Push] = {}
    per_chat: dict[int, int] = {}
    overflows: dict[tuple[int, str], None] = {}
    for subscription in subscriptions:
        hits = matched.get(topic_key(subscription.topic), ())
        if not hits or not allowed(subscription):
            continue
        chat = subscription.chat_id
        for hit in hits:
            key = (chat, hit.report.id)
            if key in pushes:
                old = pushes[key]
                pushes[key] = Push(chat, old.hit, (*old.topics, subscription.topic))
            elif per_chat.get(chat, 0) < limit:
                pushes[key] = Push(chat, hit, (subscription.topic,))
                per_chat[chat] = per_chat.get(chat, 0) + 1
            else:
                overflows[(chat, subscription.topic)] = None
    return list(pushes.values()), list(overflows)


# -- pushing --------------------------------------------------------------------------------


async def push_new_reports(
    bot: Bot,
    store: Store,
    engine: SearchEngine,
    reports: Sequence[Report],
    allowed: Callable[[Subscription], bool],
) -> int:
    """Tell every subscriber about the new reports on their topics; returns messages sent."""
    subscriptions = store.subscriptions()
    if not subscriptions or not reports:
        return 0
    wanted = {topic_key(s.topic): s.topic for s in subscriptions}
    # One more than a chat can get, so an overflow is noticed.
    found = await asyncio.to_thread(
        topics.match_new_reports, engine, wanted.values(), reports, MAX_PUSHES_PER_BATCH + 1
    )
    matched = {topic_key(topic): hits for topic, hits in found.items()}
    pushes, overflows = plan_pushes(subscriptions, matched, allowed)
    sent = 0
    gone: set[int] = set()
    for push in pushes:
        rendered = render_live.render_push(push.hit, push.topics)
        sent += await _send(bot, store, push.chat_id, rendered, gone)
    for chat_id, topic in overflows:
        sent += await _send(bot, store, chat_id, render_live.render_more_new_reports(topic), gone)
    log.info(
        "%d new reports: %d pushes to %d chats",
        len(reports),
        sent,
        len({p.chat_id for p in pushes}),
    )
    return sent


async def _send(bot: Bot, store: Store, chat_id: int, rendered: Rendered, gone: set[int]) -> int:
    if chat_id in gone:
        return 0
    try:
        await bot.send_message(
            chat_id,
            rendered.text,
            parse_mode=ParseMode.HTML,
            link_preview_options=_NO_PREVIEW,
        )
        return 1
    except Forbidden as error:  # blocked by the user, or removed from the group
        _forget(store, chat_id, gone, str(error))
    except ChatMigrated as error:  # the group became a supergroup: follow it, once
        log.info("chat %s moved to %s: its subscriptions follow", chat_id, error.new_chat_id)
        store.move_chat(chat_id, error.new_chat_id)
        gone.add(chat_id)
        return await _send(bot, store, error.new_chat_id, rendered, gone)
    except BadRequest as error:
        if "chat not found" in str(error).lower():
            _forget(store, chat_id, gone, str(error))
        else:
            log.warning("push to chat %s refused: %s", chat_id, error)
    except TelegramError as error:  # the rate limiter already waited out floods
        log.warning("push to chat %s failed, not retried: %s", chat_id, error)
    return 0


def _forget(store: Store, chat_id: int, gone: set[int], reason: str) -> None:
    gone.add(chat_id)
    removed = store.unsubscribe_all(chat_id)
    log.info(
        "chat %s cannot be reached (%s): removed its %d subscriptions", chat_id, reason, removed
    )


# -- handlers --------------------------------------------------------------------------------


def store_of(context: ContextTypes.DEFAULT_TYPE) -> Store | None:
    store = context.bot_data.get(STORE_KEY)
    return store if isinstance(store, Store) else None


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None:
        return
    quote = not is_private(message)
    store = store_of(context)
    if store is None:
        await reply(message, render_live.render_subscriptions_unavailable(), quote=quote)
        return
    topic = topics.normalize_topic(" ".join(context.args or []))
    current = store.subscriptions(chat.id)
    if not topic:
        rendered = render_live.render_subscribe_usage([s.topic for s in current])
    elif len(topic) > topics.MAX_TOPIC_CHARS:
        rendered = render_live.render_topic_too_long(topics.MAX_TOPIC_CHARS)
    elif not topics.has_search_terms(engine_of(context), topic):
        rendered = render_live.render_topic_without_words(topic)
    elif len(current) >= MAX_SUBSCRIPTIONS_PER_CHAT and all(
        topic_key(s.topic) != topic_key(topic) for s in current
    ):
        rendered = render_live.render_too_many_subscriptions(MAX_SUBSCRIPTIONS_PER_CHAT)
    else:
        new = store.subscribe(chat.id, topic, user.id if user else None)
        if new:
            log.info("chat %s subscribed to a topic of %d chars", chat.id, len(topic))
        rendered = render_live.render_subscribed(topic, new=new)
    await reply(message, rendered, quote=quote)


async def list_subscriptions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    store = store_of(context)
    rendered = (
        render_live.render_subscriptions([s.topic for s in store.subscriptions(chat.id)])
        if store is not None
        else render_live.render_subscriptions_unavailable()
    )
    await reply(message, rendered, quote=not is_private(message))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    quote = not is_private(message)
    store = store_of(context)
    if store is None:
        await reply(message, render_live.render_subscriptions_unavailable(), quote=quote)
        return
    arg = " ".join(context.args or [])
    current = store.subscriptions(chat.id)
    names = [s.topic for s in current]
    chosen = pick_subscription(arg, current) if arg.strip() else []
    if not arg.strip():
        rendered = render_live.render_unsubscribe_usage(names)
    elif not chosen:
        rendered = render_live.render_not_subscribed(topics.normalize_topic(arg), names)
    else:
        for subscription in chosen:
            store.unsubscribe(chat.id, subscription.topic)
        rendered = render_live.render_unsubscribed([s.topic for s in chosen])
    await reply(message, rendered, quote=quote)


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/latest [N] [TOPIC]`: with a topic the newest reports on it, else `handlers.latest`."""
    parsed = parse_latest_topic(context.args or [])
    if parsed is None:
        await handlers.latest(update, context)
    else:
        await latest_on_topic(update, context, *parsed)


async def latest_on_topic(
    update: Update, context: ContextTypes.DEFAULT_TYPE, count: int, note: str, topic: str
) -> None:
    """`/latest [N] TOPIC`: the newest reports that match the topic."""
    message = update.effective_message
    if message is None:
        return
    engine = engine_of(context)  # once: a reload may swap it meanwhile
    if not topics.has_search_terms(engine, topic):  # "/latest <&>": not a topic either
        await reply(message, render_latest_usage(topic))
        return
    found = await asyncio.to_thread(topics.newest_on_topic, engine, topic, count)
    rendered = render_live.render_latest_on_topic(found, len(engine.reports), topic, note)
    await reply(message, rendered, quote=not is_private(message))
