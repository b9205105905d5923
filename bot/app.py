"""The wiring module: builds the Application, fills its state and registers every
handler in ONE list.

Order matters within the list: python-telegram-bot runs the first handler
that matches, so the known commands come before the catch-all for unknown
ones, and text before non-text.  The two guards run before the list, each in
its own group so both see every update: who may use the bot
(`telegram/access.py`), then how often (`telegram/limits.py`).

Where things live: `telegram/` speaks the Bot API (handlers by topic, the
words users read, HTML rendering), `reliability/` keeps delivery reliable
(retries, the update journal, fair scheduling, health), `live/` keeps the
reports live (rescans, feeds), and `state.py` is what they all share.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeAlias, cast

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ExtBot,
    InlineQueryHandler,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings
from bot.live import jobs
from bot.live.reports import LiveReports
from bot.reliability import endpoints, replicas
from bot.reliability.delivery import RetryingRequest, rate_limiter
from bot.reliability.fairness import UpdateProcessor
from bot.reliability.health import heartbeat_job, remove_heartbeat, write_heartbeat
from bot.reliability.intake import polling_request
from bot.reliability.journal import JOURNAL_NAME, UpdateJournal
from bot.reliability.journal_queue import JournalingQueue
from bot.reliability.leader import Leadership
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics
from bot.reliability.webhook import WebhookCheck, WebhookUpdater
from bot.state import CONTEXT_TYPES, BotState, Context
from bot.storage.records import Store
from bot.telegram import (
    access,
    admin,
    channel_posts,
    commands,
    errors,
    i18n,
    limits,
    profile,
    pushes,
    questions,
    subscriptions,
    uploads,
)
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)

BotApplication: TypeAlias = Application[
    ExtBot[Any], Context, dict[Any, Any], dict[Any, Any], BotState, JobQueue[Context]
]
# Edited messages are not new questions: answering them again would repeat ourselves.
_NEW_MESSAGES = filters.UpdateType.MESSAGE

HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler("start", commands.start, filters=_NEW_MESSAGES),
    CommandHandler("help", commands.help_command, filters=_NEW_MESSAGES),
    CommandHandler("latest", commands.latest, filters=_NEW_MESSAGES),
    CommandHandler("ask", questions.ask, filters=_NEW_MESSAGES),
    CommandHandler("subscribe", subscriptions.subscribe, filters=_NEW_MESSAGES),
    CommandHandler("subscriptions", subscriptions.list_subscriptions, filters=_NEW_MESSAGES),
    CommandHandler("unsubscribe", subscriptions.unsubscribe, filters=_NEW_MESSAGES),
    CommandHandler("sources", admin.sources_command, filters=_NEW_MESSAGES),
    CommandHandler("problems", admin.problems_command, filters=_NEW_MESSAGES),
    CommandHandler("forget", admin.forget_command, filters=_NEW_MESSAGES),
    MessageHandler(_NEW_MESSAGES & filters.TEXT & ~filters.COMMAND, questions.text_message),
    MessageHandler(_NEW_MESSAGES & filters.COMMAND, commands.unknown_command),
    MessageHandler(
        _NEW_MESSAGES & filters.Document.ALL & filters.ChatType.PRIVATE, uploads.document
    ),
    MessageHandler(_NEW_MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, commands.not_text),
    MessageHandler(filters.UpdateType.CHANNEL_POSTS, channel_posts.channel_post),
    CallbackQueryHandler(questions.more_answers),
    InlineQueryHandler(questions.inline_query),
]
# The update types the guards and HANDLERS act on, asked of Telegram (setWebhook, getUpdates)
# so it sends nothing else: no edited messages (see _NEW_MESSAGES), polls, chat members...
# tests/telegram/test_allowed_updates.py checks this list against HANDLERS.
ALLOWED_UPDATES: tuple[str, ...] = (
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,  # an edit replaces the channel's report
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
)


def build_application(
    settings: Settings,
    engine: SearchEngine,
    *,
    store: Store | None = None,
    live: LiveReports | None = None,
) -> BotApplication:
    """The bot, ready to run.  Without `store` there are no subscriptions, and without
    `live` the reports are never rescanned (both are for in-process tests)."""
    if not settings.token:
        raise ValueError("build_application needs settings.token")
    # Every catalogue read now, so a broken one stops the start, not a reply.
    log.info("languages: %s", ", ".join(words.language for words in i18n.every_language()))
    journal = _open_journal(settings, store)
    liveness = Liveness(journal, webhook=settings.webhook_url is not None)
    metrics = Metrics()
    queue = JournalingQueue(journal, liveness, metrics)
    processor = UpdateProcessor(journal, liveness=liveness, metrics=metrics)
    # cast: the builder's types cannot follow context_types() into the job queue's.
    application = cast(
        BotApplication,
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .base_file_url(settings.file_base_url)
        .context_types(CONTEXT_TYPES)
        .request(RetryingRequest(settings.telegram_retries, metrics=metrics))
        .get_updates_request(polling_request(journal, liveness, metrics))
        .rate_limiter(rate_limiter())
        .update_queue(queue)
        .concurrent_updates(processor)
        .post_init(_on_startup)
        .post_shutdown(_on_shutdown)
        .build(),
    )
    if settings.webhook_url is not None:
        # Ours in place of the builder's, which nothing has started yet (webhook.py says why).
        application.updater = WebhookUpdater(application.bot, queue, journal, liveness)
    state = application.bot_data
    state.wire(
        settings=settings,
        engine=engine,
        store=store,
        live=live,
        on_new_reports=pushes.push_new_reports,
        liveness=liveness,
        metrics=metrics,
        leadership=Leadership(settings.database_url),
    )
    endpoints.watch(state, queue.qsize, lambda: processor.pending)
    application.add_handler(TypeHandler(Update, access.access_guard), group=access.GROUP)
    application.add_handler(TypeHandler(Update, limits.limits_guard), group=limits.GROUP)
    application.add_handlers(HANDLERS)
    application.add_error_handler(errors.on_error)
    log.info("access: %s", state.access.describe())
    return application


def _open_journal(settings: Settings, store: Store | None) -> UpdateJournal:
    """The update journal: in DATA_DIR, or shared by the replicas in PostgreSQL."""
    if settings.database_url is None:
        return UpdateJournal(settings.data_dir / JOURNAL_NAME)
    # Imported here: without DATABASE_URL the bot never loads psycopg.
    from bot.reliability.journal_shared import SharedJournal
    from bot.storage.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        raise ValueError("with DATABASE_URL, build_application needs the PostgreSQL store")
    return SharedJournal(store.pool, store.where)


async def _on_startup(application: BotApplication) -> None:
    state = application.bot_data
    if state.settings.metrics_port is not None:  # first: a taken port stops the start
        state.endpoints = endpoints.start(state, asyncio.get_running_loop())
    await profile.set_profile(application.bot)  # the menu and descriptions, per language
    await admin.set_admin_menus(application.bot, state)
    queue = application.update_queue
    if isinstance(queue, JournalingQueue):  # before polling starts, so replays come first
        queue.replay(application.bot)
    write_heartbeat(state.settings.heartbeat_path)
    if application.job_queue is None:
        log.warning("no job queue: install python-telegram-bot[job-queue] for the heartbeat")
    else:
        interval = state.settings.heartbeat_interval_seconds
        application.job_queue.run_repeating(
            heartbeat_job, interval=interval, first=interval, name="heartbeat"
        )
        if state.settings.webhook_url is not None:  # what stands for polling in health
            application.job_queue.run_repeating(
                WebhookCheck(), interval=interval, first=interval, name="webhook-check"
            )
    if state.leadership.shared and application.job_queue is not None:
        replicas.start(application.job_queue)
    jobs.start(state, application.job_queue)
    way = "by webhook" if state.settings.webhook_url else "by polling"
    log.info("bot @%s is up, receiving updates %s", application.bot.username, way)


async def _on_shutdown(application: BotApplication) -> None:
    state = application.bot_data
    if state.endpoints is not None:
        state.endpoints.stop()
        state.endpoints = None
    remove_heartbeat(state.settings.heartbeat_path)
    await jobs.stop(state)
    # Last: the next replica takes the lead at once instead of at its next check.
    await asyncio.to_thread(state.leadership.close)
