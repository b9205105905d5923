"""Keeping the reports live in the running bot: the folder rescan and the feed polls.

Two job-queue chains, each scheduling its next run when it ends (so a slow
run delays the next one instead of overlapping it):

* every REPORTS_POLL_SECONDS, `Library.refresh()` runs in a worker thread (the
  bot keeps answering meanwhile): it applies what the library's folder watcher
  saw change since the last run (nothing to do costs nothing: no walk of the
  folder) and, when anything changed, the new engine replaces the old one in
  the bot's state in one assignment (`bot/state.py`).
  Newly arrived reports are handed to `state.on_new_reports` (the pushes) as
  a task of their own;
* feeds are polled when due (`bot/live/feeds.py`); their new and updated
  entries are handed to the library, and the next rescan indexes them.  With
  several replicas (DATABASE_URL) only the leader polls (bot/reliability/leader.py);
* with several replicas, every SYNC_SECONDS each one reads the store's fingerprint
  and, when another replica changed feed entries or channel posts, brings its own
  index up to date (`_sync_shared`).  The reports folder is shared: each replica's
  own rescan sees what lands there.

Like every handler and guard, the jobs find what they need in
`context.bot_data`.  `start` and `stop` run from the Application's start-up
and shut-down hooks (`bot/app.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram.ext import JobQueue

from bot.live.feeds import FeedPoller
from bot.live.reports import LiveReports, shared_changes, stored_reports
from bot.state import BotState, Context
from bot.storage.records import StoreError
from retrieval.library import Change

log = logging.getLogger(__name__)

# How often, at most, a changed folder's index is written to the index cache (and once
# more at shut-down), so a restart loads it instead of analyzing every file again.
CACHE_SAVE_SECONDS = 300.0
RESCAN_JOB = "reports-rescan"
FEEDS_JOB = "feeds"
SYNC_JOB = "shared-sync"
SYNC_SECONDS = 5.0


def start(state: BotState, jobs: JobQueue[Context] | None) -> None:
    """Start the rescan and feed chains (from the Application's post_init)."""
    live = state.live
    if live is None:
        return
    if jobs is None:
        log.warning(
            "no job queue: REPORTS_DIR is read once and feeds are never polled; "
            "install python-telegram-bot[job-queue]"
        )
        return
    settings = state.settings
    jobs.run_once(_refresh, when=settings.reports_poll_seconds, name=RESCAN_JOB)
    if settings.feeds and state.store is not None:
        live.feeds = FeedPoller(
            settings.feeds,
            state.store,
            interval=settings.feed_poll_seconds,
            keep=settings.feed_keep_entries,
            allow_private=settings.feeds_allow_private,
        )
        jobs.run_once(_poll_feeds, when=0, name=FEEDS_JOB)
    if state.leadership.shared and state.store is not None:
        jobs.run_repeating(_sync_shared, interval=SYNC_SECONDS, first=SYNC_SECONDS, name=SYNC_JOB)
    log.info(
        "changes in %s are applied every %gs%s",
        settings.reports_dir,
        settings.reports_poll_seconds,
        f"; polling {len(settings.feeds)} feeds every {settings.feed_poll_seconds:g}s"
        if settings.feeds
        else "",
    )


async def stop(state: BotState) -> None:
    """Stop watching the folder, close the feed client and save the index cache (from the
    Application's post_shutdown)."""
    live = state.live
    if live is None:
        return
    live.close()
    if live.feeds is not None:
        await live.feeds.aclose()
    await _save_cache(state, live, then_map=False)


async def _save_cache(state: BotState, live: LiveReports, *, then_map: bool = True) -> None:
    if not live.library.cache_stale:
        return
    live.last_cache_save = time.monotonic()
    cache_dir = state.settings.index_cache_dir
    try:
        saved = await asyncio.to_thread(live.library.save_cache, cache_dir, then_map=then_map)
    except Exception as error:  # the cache is a speed-up; the bot carries on without it
        log.warning("could not save the index cache: %s", error)
    else:
        if saved:
            log.info("saved the index cache in %s", cache_dir)
        if live.library.engine is not state.engine:  # the saved index, mapped (then_map)
            state.serve(live.library.engine, rebuilt=False)


def _live(state: BotState) -> LiveReports:
    live = state.live
    assert live is not None, "the live jobs run only when the bot was wired with live reports"
    return live


async def _refresh(context: Context) -> None:
    state = context.bot_data
    live = _live(state)
    try:
        change = await asyncio.to_thread(live.library.refresh)
    except Exception:
        log.exception("rescanning %s failed; trying again next time", state.settings.reports_dir)
    else:
        if change is not None:
            swap_in(context, live, change)
        if time.monotonic() - live.last_cache_save >= CACHE_SAVE_SECONDS:
            await _save_cache(state, live)
    finally:
        if context.application.running and context.job_queue is not None:
            context.job_queue.run_once(
                _refresh, when=state.settings.reports_poll_seconds, name=RESCAN_JOB
            )


def swap_in(context: Context, live: LiveReports, change: Change) -> None:
    """Serve the library's newest engine and push the reports `change` added.  The newest,
    not `change.engine`: an upload indexed meanwhile (bot/telegram/uploads.py) may have
    made a newer one."""
    state = context.bot_data
    state.serve(live.library.engine)  # the atomic swap: `state.engine` is assigned once
    log.info("reports reloaded: %s", change.describe())
    if not change.added:
        return
    task = context.application.create_task(
        state.on_new_reports(state, context.bot, change.engine, change.added),
        name="push-new-reports",
    )
    live.tasks.add(task)
    task.add_done_callback(_done(live))


def _done(live: LiveReports) -> Callable[[asyncio.Task[Any]], None]:
    def forget(task: asyncio.Task[Any]) -> None:
        live.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pushing new reports failed", exc_info=task.exception())

    return forget


async def _poll_feeds(context: Context) -> None:
    state = context.bot_data
    live = _live(state)
    feeds = live.feeds
    assert feeds is not None
    try:
        if not state.leadership.is_leader:  # the leader polls; the sync brings its entries
            return
        for result in await feeds.poll_due():
            state.metrics.feed_polled(result.status, len(result.new), len(result.changed))
            if result.new:
                live.library.put_reports(result.new, announce=not result.first_fetch)
            if result.changed:
                live.library.put_reports(result.changed)
            if result.pruned:
                live.library.remove_reports(result.pruned)
    except Exception:
        log.exception("polling the feeds failed; trying again later")
    finally:
        if context.application.running and context.job_queue is not None:
            wait = max(feeds.seconds_until_due(), 0.5)
            if not state.leadership.is_leader:
                wait = max(wait, SYNC_SECONDS)
            context.job_queue.run_once(_poll_feeds, when=wait, name=FEEDS_JOB)


async def _sync_shared(context: Context) -> None:
    """Bring in the feed entries and channel posts that other replicas stored."""
    state = context.bot_data
    live = _live(state)
    store = state.store
    assert store is not None
    try:
        version = await asyncio.to_thread(store.entries_version)
        if version == live.shared_version:
            return
        stored = await asyncio.to_thread(stored_reports, state.settings, store)
    except StoreError as error:  # the store logs its own outage; the index stays as it is
        log.debug("no sync with the shared store now: %s", error)
        return
    new, changed, gone = shared_changes(live.library.engine, live.shared_ids, stored)
    if new:
        live.library.put_reports(new, announce=live.shared_version is not None)
    if changed:
        live.library.put_reports(changed)
    if gone:
        live.library.remove_reports(gone)
    live.shared_ids = {report.id for report in stored}
    live.shared_version = version
    if new or changed or gone:
        log.info(
            "from the shared store: %d new, %d changed, %d gone reports",
            len(new),
            len(changed),
            len(gone),
        )
