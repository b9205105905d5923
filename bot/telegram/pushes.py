"""Pushes: each new report on a subscribed topic, sent to the chats that follow it.

When new reports arrive (`bot/live/jobs.py` calls `push_new_reports` through
the state's `on_new_reports`), each subscribed topic is matched against the
new reports with `retrieval.topics` (the engine's own search and not-found
rule, restricted to one report at a time; bounded work per batch, however many
reports and topics, with every cut logged), and every chat gets one message
per matching report: the best passage, quoted and attributed like an answer.
Sending goes through the bot's rate limiter (Telegram's flood limits); a chat
that blocked the bot or no longer exists is unsubscribed, not retried.  Access
is checked again at push time: a user removed from ALLOWED_USER_IDS stops
getting pushes.  Each chat's pushes (and its pointers to /latest) are in the
language kept with its subscriptions: that of whoever last subscribed in the
chat, a group's too (`subscriptions.py`); English for rows from before it was
kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bot.state import BotState
from bot.storage.records import Store, Subscription, topic_key
from bot.telegram import html_live
from bot.telegram.html import Rendered
from bot.telegram.i18n import Words, words_for
from bot.telegram.replies import send
from retrieval import topics
from retrieval.models import Hit, Report
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)

# Pushes one chat gets for one batch of new reports; past it, a pointer to /latest TOPIC.
MAX_PUSHES_PER_BATCH = 5


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


def chat_words(subscriptions: Sequence[Subscription]) -> dict[int, Words]:
    """The wording each chat's pushes are in.  Every subscription of a chat has the
    language of whoever last subscribed there; should two differ (a group migrated into a
    supergroup that had subscriptions of its own), the newest subscription's wins."""
    codes = {s.chat_id: s.language for s in subscriptions}  # oldest first: the newest stays
    return {chat: words_for(code) for chat, code in codes.items()}


async def push_new_reports(
    state: BotState, bot: Bot, engine: SearchEngine, reports: Sequence[Report]
) -> int:
    """Tell every subscriber about the new reports on their topics; returns messages sent."""
    store = state.store
    if store is None or not reports:
        return 0
    if not state.leadership.is_leader:  # the leader pushes; kept in case this one takes over
        state.backlog.add(reports)
        return 0
    subscriptions = store.subscriptions()
    if not subscriptions:
        return 0
    # Several replicas: one that led a moment ago may have pushed some already.
    claimed = await asyncio.to_thread(store.claim_pushes, [report.id for report in reports])
    reports = [report for report in reports if report.id in claimed]
    if not reports:
        return 0
    wanted = {topic_key(s.topic): s.topic for s in subscriptions}
    # One more than a chat can get, so an overflow is noticed.
    found = await asyncio.to_thread(
        topics.match_new_reports, engine, wanted.values(), reports, MAX_PUSHES_PER_BATCH + 1
    )
    matched = {topic_key(topic): hits for topic, hits in found.hits.items()}
    pushes, overflows = plan_pushes(
        subscriptions, matched, lambda s: state.access.allows(s.user_id, s.chat_id)
    )
    words = chat_words(subscriptions)
    sent = 0
    gone: set[int] = set()
    for push in pushes:
        rendered = html_live.render_push(push.hit, push.topics, words=words[push.chat_id])
        sent += await _send(bot, store, push.chat_id, rendered, gone)
    for chat_id, topic in overflows:
        rendered = html_live.render_more_new_reports(topic, words=words[chat_id])
        sent += await _send(bot, store, chat_id, rendered, gone)
    state.metrics.pushed(sent)
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
        await send(bot, chat_id, rendered)
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
