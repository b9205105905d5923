"""Live reports in the running bot: the folder rescan, the feed polls, and the pushes.

Two job-queue chains, each scheduling its next run when it ends (so a slow
run delays the next one instead of overlapping it):

* every REPORTS_POLL_SECONDS, `Library.refresh()` runs in a worker thread (the
  bot keeps answering meanwhile) and, when anything changed, the new engine
  replaces the old one in `bot_data` in one assignment; handlers read that
  reference once per update, so each question is answered from the old index
  or the new one, never a half-built one.  Newly arrived reports are handed to
  `bot.subscriptions` as a task of their own;
* feeds are polled when due (`bot.feeds`); their new and updated entries are
  handed to the library, and the next rescan indexes them.

`open_live` runs before the bot starts (it loads the index), `start` and `stop`
from the Application's start-up and shut-down hooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, ContextTypes

from bot import subscriptions
from bot.access import AccessPolicy
from bot.config import Settings
from bot.feeds import FeedPoller
from bot.handlers import ENGINE_KEY
from bot.store import Store, Subscription
from retrieval.library import Change, Library

log = logging.getLogger(__name__)

LIVE_KEY = "live"
# How often, at most, a changed folder's index is written to the index cache (and once
# more at shut-down), so a restart loads it instead of analyzing every file again.
CACHE_SAVE_SECONDS = 300.0

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass
class Live:
    settings: Settings
    library: Library
    store: Store
    policy: AccessPolicy
    feeds: FeedPoller | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    last_cache_save: float = field(default_factory=time.monotonic)

    def allowed(self, subscription: Subscription) -> bool:
        return self.policy.allows(subscription.user_id, subscription.chat_id)


def open_live(settings: Settings) -> Live:
    """Open the state file and load the reports (from the index cache when fresh).

    Raises StoreError or RetrievalError with a message for the user.
    """
    store = Store.open(settings.store_path)
    try:
        library = Library.open(settings.reports_dir, cache_dir=settings.index_cache_dir)
        live = Live(settings, library, store, AccessPolicy.from_settings(settings))
        if settings.feeds:
            # Entries fetched before a restart are reports like any other: index them now.
            stored = [entry.report for entry in store.entries(settings.feeds)]
            if stored:
                library.put_reports(stored, announce=False)
                library.refresh()
    except BaseException:
        store.close()
        raise
    engine = library.engine
    for problem in engine.problems:
        log.warning("skipped %s", problem)
    log.info(
        "loaded %d reports, %d passages from %s%s",
        len(engine.reports),
        len(engine.passages),
        settings.reports_dir,
        f" and {len(settings.feeds)} feeds" if settings.feeds else "",
    )
    return live


def install(application: AnyApplication, live: Live) -> None:
    application.bot_data[LIVE_KEY] = live
    application.bot_data[subscriptions.STORE_KEY] = live.store


def live_of(application: AnyApplication) -> Live | None:
    live = application.bot_data.get(LIVE_KEY)
    return live if isinstance(live, Live) else None


async def start(application: AnyApplication) -> None:
    """Start the rescan and feed chains (from the Application's post_init)."""
    live = live_of(application)
    if live is None:
        return
    jobs = application.job_queue
    if jobs is None:
        log.warning(
            "no job queue: REPORTS_DIR is read once and feeds are never polled; "
            "install python-telegram-bot[job-queue]"
        )
        return
    settings = live.settings
    jobs.run_once(_refresh, when=settings.reports_poll_seconds, data=live, name="reports-rescan")
    if settings.feeds:
        live.feeds = FeedPoller(settings.feeds, live.store, interval=settings.feed_poll_seconds)
        jobs.run_once(_poll_feeds, when=0, data=live, name="feeds")
    log.info(
        "watching %s every %gs%s",
        settings.reports_dir,
        settings.reports_poll_seconds,
        f"; polling {len(settings.feeds)} feeds every {settings.feed_poll_seconds:g}s"
        if settings.feeds
        else "",
    )


async def stop(application: AnyApplication) -> None:
    """Close the feed client and the state file (from the Application's post_shutdown)."""
    live = live_of(application)
    if live is None:
        return
    if live.feeds is not None:
        await live.feeds.aclose()
    await _save_cache(live)
    live.store.close()


async def _save_cache(live: Live) -> None:
    if not live.library.cache_stale:
        return
    live.last_cache_save = time.monotonic()
    try:
        saved = await asyncio.to_thread(live.library.save_cache, live.settings.index_cache_dir)
    except Exception as error:  # the cache is a speed-up; the bot carries on without it
        log.warning("could not save the index cache: %s", error)
    else:
        if saved:
            log.info("saved the index cache in %s", live.settings.index_cache_dir)


def _live(context: ContextTypes.DEFAULT_TYPE) -> Live:
    assert context.job is not None and isinstance(context.job.data, Live)
    return context.job.data


async def _refresh(context: ContextTypes.DEFAULT_TYPE) -> None:
    live = _live(context)
    try:
        change = await asyncio.to_thread(live.library.refresh)
    except Exception:
        log.exception("rescanning %s failed; trying again next time", live.settings.reports_dir)
    else:
        if change is not None:
            _swap_in(context, live, change)
        if time.monotonic() - live.last_cache_save >= CACHE_SAVE_SECONDS:
            await _save_cache(live)
    finally:
        if context.application.running and context.job_queue is not None:
            context.job_queue.run_once(
                _refresh, when=live.settings.reports_poll_seconds, data=live, name="reports-rescan"
            )


def _swap_in(context: ContextTypes.DEFAULT_TYPE, live: Live, change: Change) -> None:
    context.bot_data[ENGINE_KEY] = change.engine  # one assignment: the atomic swap
    log.info("reports reloaded: %s", change.describe())
    if not change.added:
        return
    task = context.application.create_task(
        subscriptions.push_new_reports(
            context.bot, live.store, change.engine, change.added, live.allowed
        ),
        name="push-new-reports",
    )
    live._tasks.add(task)
    task.add_done_callback(_done(live))


def _done(live: Live) -> Callable[[asyncio.Task[Any]], None]:
    def forget(task: asyncio.Task[Any]) -> None:
        live._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pushing new reports failed", exc_info=task.exception())

    return forget


async def _poll_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    live = _live(context)
    feeds = live.feeds
    assert feeds is not None
    try:
        for result in await feeds.poll_due():
            if result.new:
                live.library.put_reports(result.new, announce=not result.first_fetch)
            if result.changed:
                live.library.put_reports(result.changed)
    except Exception:
        log.exception("polling the feeds failed; trying again later")
    finally:
        if context.application.running and context.job_queue is not None:
            wait = max(feeds.seconds_until_due(), 0.5)
            context.job_queue.run_once(_poll_feeds, when=wait, data=live, name="feeds")
