"""The live collection of a running bot: the library of REPORTS_DIR and the feeds.

`open_library` and `open_live` run before the bot starts: they load the reports
(from the index cache when there is one) and index the feed entries kept from
earlier runs.
What keeps them live while the bot runs is `bot/live/jobs.py` (and the library's
folder watcher, which `LiveReports.close` stops).  Nothing here knows about Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.live.feeds import FeedPoller
from bot.semantic import open_semantic
from bot.storage.records import Store
from retrieval.corpus import is_indexed_as
from retrieval.library import Library
from retrieval.models import Report
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)


@dataclass
class LiveReports:
    """The library (REPORTS_DIR and the feed entries) and what polls the feeds."""

    library: Library
    feeds: FeedPoller | None = None
    # Pushes in flight, kept so they are not garbage-collected before they finish.
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    last_cache_save: float = field(default_factory=time.monotonic)
    # Several replicas: the ids of the stored reports (feeds, channels) read last, and the
    # store's fingerprint then (bot/live/jobs.py's sync), so others' changes are seen.
    shared_ids: set[str] = field(default_factory=set)
    shared_version: tuple[int, float] | None = None

    def close(self) -> None:
        """Stop watching REPORTS_DIR (the index keeps answering until the process ends)."""
        self.library.close()


def open_library(settings: Settings) -> Library:
    """The library of REPORTS_DIR, loaded (from the index cache when there is one).

    Touches neither Telegram nor the state file, so `bot/runner.py` runs it in a
    thread while the token is checked.  Raises RetrievalError with a message for
    the user.
    """
    library = Library.open(
        settings.reports_dir,
        # The same search settings as `reports-bot chat/search/eval` (LANGUAGE_MODEL), so
        # they share the index cache.
        settings.search_settings(),
        cache_dir=settings.index_cache_dir,
        follow_outside_links=settings.reports_follow_outside_links,
        # Watched from the first rescan on (retrieval/watch.py), not at start-up: setting
        # the watches up takes a while over a big folder, and the first answer comes first.
        watch="auto",
        poll_seconds=settings.reports_poll_seconds,
    )
    library.use_semantic(open_semantic(settings))
    return library


def open_live(settings: Settings, store: Store, library: Library | None = None) -> LiveReports:
    """The library (`open_library`, unless given) and the stored feed entries, indexed.

    Raises RetrievalError with a message for the user.
    """
    if library is None:
        library = open_library(settings)
    stored = stored_reports(settings, store)
    if stored:
        library.put_reports(stored, announce=False)
        library.refresh()
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
    if settings.channel_ids:
        log.info("posts of %d channels become reports", len(settings.channel_ids))
    return LiveReports(library, shared_ids={report.id for report in stored})


def stored_reports(settings: Settings, store: Store) -> list[Report]:
    """The reports kept in the store: feed entries and channel posts."""
    stored: list[Report] = []
    if settings.feeds:
        # Entries fetched before a restart are reports like any other: index them now.
        stored += [
            entry.report for entry in store.entries(settings.feeds, keep=settings.feed_keep_entries)
        ]
    if settings.channel_ids:  # and so are the posts kept from CHANNEL_IDS (live/channels.py)
        stored += store.channel_posts(settings.channel_ids)
    return stored


def shared_changes(
    engine: SearchEngine, known: set[str], stored: Sequence[Report]
) -> tuple[list[Report], list[Report], list[str]]:
    """Pure: what another replica changed in the store, as (new reports, changed reports,
    ids gone) against the index now serving and the ids this replica read last time."""
    new: list[Report] = []
    changed: list[Report] = []
    for report in stored:
        current = engine.report(report.id)
        if current is None:
            new.append(report)
        elif not is_indexed_as(current, report):
            changed.append(report)
    gone = sorted(known - {report.id for report in stored})
    return new, changed, gone
