"""`/subscribe`, `/subscriptions` and `/unsubscribe`.

Subscriptions belong to a chat (a private chat, or a group where anyone may
manage them) and live in the store, so they survive restarts.  What a chat is
sent when a report on one of its topics arrives is `bot/telegram/pushes.py`.

A chat's pushes come in one language: that of whoever last subscribed there (to
a new topic or to one the chat already follows), so subscribing again is how a
user changes it.  In a private chat that is its user; in a group, the member
who subscribed last, for every topic of the group, since one push may name
topics several members chose.  The store keeps the user's Telegram
`language_code` as their app sent it ("de-AT", "pt-br"), not the catalogue it
picks today: `i18n.words_for` reads it when a push is rendered, exactly as it
reads a reply's, so a catalogue added later reaches existing subscribers too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Update, User

from bot.state import Context
from bot.storage.records import Subscription, topic_key
from bot.telegram import html_live
from bot.telegram.addressing import is_private
from bot.telegram.i18n import words_of
from bot.telegram.replies import reply
from bot.text import parse_count
from retrieval import topics

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_CHAT = 20
# A language tag kept with a subscription is cut to this (RFC 5646's 35 characters, what
# a tag's reader should hold); Telegram's are a few characters.
MAX_LANGUAGE_CODE_CHARS = 35


# -- pure decisions ------------------------------------------------------------------------


def pick_subscription(topic_or_number: str, current: Sequence[Subscription]) -> list[Subscription]:
    """What `/unsubscribe ARG` removes: "all", a number from /subscriptions, or a topic."""
    arg = topics.normalize_topic(topic_or_number)
    if arg.casefold() == "all":
        return list(current)
    number = parse_count(arg)
    if number is not None and 1 <= number <= len(current):
        return [current[number - 1]]
    return [s for s in current if topic_key(s.topic) == topic_key(arg)]


def subscriber_language(user: User | None) -> str | None:
    """The language_code kept with a chat's subscriptions: the subscriber's, as sent (None:
    none, English)."""
    code = (user.language_code or "").strip() if user is not None else ""
    return code[:MAX_LANGUAGE_CODE_CHARS] or None


# -- handlers --------------------------------------------------------------------------------


async def subscribe(update: Update, context: Context) -> None:
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None:
        return
    quote = not is_private(message)
    store = context.bot_data.store
    words = words_of(update)
    if store is None:
        await reply(message, html_live.render_subscriptions_unavailable(words=words), quote=quote)
        return
    topic = topics.normalize_topic(" ".join(context.args or []))
    current = store.subscriptions(chat.id)
    if not topic:
        rendered = html_live.render_subscribe_usage([s.topic for s in current], words=words)
    elif len(topic) > topics.MAX_TOPIC_CHARS:
        rendered = html_live.render_topic_too_long(topics.MAX_TOPIC_CHARS, words=words)
    elif not topics.has_search_terms(context.bot_data.engine, topic):
        rendered = html_live.render_topic_without_words(topic, words=words)
    elif len(current) >= MAX_SUBSCRIPTIONS_PER_CHAT and all(
        topic_key(s.topic) != topic_key(topic) for s in current
    ):
        rendered = html_live.render_too_many_subscriptions(MAX_SUBSCRIPTIONS_PER_CHAT, words=words)
    else:
        new = store.subscribe(chat.id, topic, user.id if user else None, subscriber_language(user))
        if new:
            log.info("chat %s subscribed to a topic of %d chars", chat.id, len(topic))
        rendered = html_live.render_subscribed(topic, new=new, words=words)
    await reply(message, rendered, quote=quote)


async def list_subscriptions(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    store = context.bot_data.store
    words = words_of(update)
    rendered = (
        html_live.render_subscriptions([s.topic for s in store.subscriptions(chat.id)], words=words)
        if store is not None
        else html_live.render_subscriptions_unavailable(words=words)
    )
    await reply(message, rendered, quote=not is_private(message))


async def unsubscribe(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    quote = not is_private(message)
    store = context.bot_data.store
    words = words_of(update)
    if store is None:
        await reply(message, html_live.render_subscriptions_unavailable(words=words), quote=quote)
        return
    arg = " ".join(context.args or [])
    current = store.subscriptions(chat.id)
    names = [s.topic for s in current]
    chosen = pick_subscription(arg, current) if arg.strip() else []
    if not arg.strip():
        rendered = html_live.render_unsubscribe_usage(names, words=words)
    elif not chosen:
        rendered = html_live.render_not_subscribed(topics.normalize_topic(arg), names, words=words)
    else:
        for subscription in chosen:
            store.unsubscribe(chat.id, subscription.topic)
        rendered = html_live.render_unsubscribed([s.topic for s in chosen], words=words)
    await reply(message, rendered, quote=quote)
