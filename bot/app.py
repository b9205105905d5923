"""The wiring module: builds the Application and registers every handler in ONE list.

Order matters within the list: python-telegram-bot runs the first handler
that matches, so the known commands come before the catch-all for unknown
ones, and text before non-text.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import access, handlers, limits, live, subscriptions
from bot.config import Settings
from bot.dedupe import JOURNAL_NAME, JournalingRequest, UpdateJournal
from bot.delivery import RetryingRequest, rate_limiter
from bot.fairness import UpdateProcessor
from bot.health import heartbeat_job, remove_heartbeat, write_heartbeat
from bot.render import COMMANDS
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)

SETTINGS_KEY = "settings"
Context: TypeAlias = ContextTypes.DEFAULT_TYPE
BotApplication: TypeAlias = Application[
    ExtBot[int], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], JobQueue[Context]
]
# Edited messages are not new questions: answering them again would repeat ourselves.
_NEW_MESSAGES = filters.UpdateType.MESSAGE

HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler("start", handlers.start, filters=_NEW_MESSAGES),
    CommandHandler("help", handlers.help_command, filters=_NEW_MESSAGES),
    CommandHandler("latest", subscriptions.latest, filters=_NEW_MESSAGES),
    CommandHandler("ask", handlers.ask, filters=_NEW_MESSAGES),
    CommandHandler("subscribe", subscriptions.subscribe, filters=_NEW_MESSAGES),
    CommandHandler("subscriptions", subscriptions.list_subscriptions, filters=_NEW_MESSAGES),
    CommandHandler("unsubscribe", subscriptions.unsubscribe, filters=_NEW_MESSAGES),
    MessageHandler(_NEW_MESSAGES & filters.TEXT & ~filters.COMMAND, handlers.text_message),
    MessageHandler(_NEW_MESSAGES & filters.COMMAND, handlers.unknown_command),
    MessageHandler(_NEW_MESSAGES & ~filters.TEXT & ~filters.StatusUpdate.ALL, handlers.not_text),
    CallbackQueryHandler(handlers.more_answers),
    InlineQueryHandler(handlers.inline_query),
]


def build_application(
    settings: Settings, engine: SearchEngine, live_reports: live.Live | None = None
) -> BotApplication:
    if not settings.token:
        raise ValueError("build_application needs settings.token")
    # Retries, flood waits and the journal of handled updates: bot/delivery.py, bot/dedupe.py.
    journal = UpdateJournal(settings.data_dir / JOURNAL_NAME)
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .request(RetryingRequest(settings.telegram_retries))
        .get_updates_request(JournalingRequest(journal))
        .rate_limiter(rate_limiter())
        .concurrent_updates(UpdateProcessor(journal))
        .post_init(_on_startup)
        .post_shutdown(_on_shutdown)
        .build()
    )
    application.bot_data[handlers.ENGINE_KEY] = engine
    application.bot_data[SETTINGS_KEY] = settings
    if live_reports is not None:  # folder rescans, feeds, subscriptions: bot/live.py
        live.install(application, live_reports)
    application.bot_data[limits.LIMITS_KEY] = limits.QuestionLimits(settings.rate_limit_per_minute)
    # Before HANDLERS, each in its own group so both run: who may use the bot, then how often.
    policy = access.AccessPolicy.from_settings(settings)
    application.add_handler(TypeHandler(Update, access.AccessGuard(policy)), group=access.GROUP)
    application.add_handler(TypeHandler(Update, limits.LimitsGuard()), group=limits.GROUP)
    application.add_handlers(HANDLERS)
    log.info("access: %s", policy.describe())
    application.add_error_handler(handlers.on_error)
    return application


def _settings(application: BotApplication) -> Settings:
    settings = application.bot_data[SETTINGS_KEY]
    assert isinstance(settings, Settings)
    return settings


async def _on_startup(application: BotApplication) -> None:
    settings = _settings(application)
    commands = [BotCommand(name, description) for name, description in COMMANDS]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as error:  # the menu is a convenience; answering is what matters
        log.warning("could not register the command menu: %s", error)
    write_heartbeat(settings.heartbeat_path)
    if application.job_queue is None:
        log.warning("no job queue: install python-telegram-bot[job-queue] for the heartbeat")
    else:
        application.job_queue.run_repeating(
            heartbeat_job,
            interval=settings.heartbeat_interval_seconds,
            first=settings.heartbeat_interval_seconds,
            data=settings.heartbeat_path,
            name="heartbeat",
        )
    await live.start(application)
    log.info("bot @%s is up and polling", application.bot.username)


async def _on_shutdown(application: BotApplication) -> None:
    remove_heartbeat(_settings(application).heartbeat_path)
    await live.stop(application)
