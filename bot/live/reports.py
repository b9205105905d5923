"""The live collection of a running bot: the library of REPORTS_DIR and the feeds.

`open_live` runs before the bot starts: it loads the reports (from the index
cache when it is fresh) and indexes the feed entries kept from earlier runs.
What keeps them live while the bot runs is `bot/live/jobs.py`.  Nothing here
knows about Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.live.feeds import FeedPoller
from bot.store import Store
from retrieval.library import Library

log = logging.getLogger(__name__)


@dataclass
class LiveReports:
    """The library (REPORTS_DIR and the feed entries) and what polls the feeds."""

    library: Library
    feeds: FeedPoller | None = None
    # Pushes in flight, kept so they are not garbage-collected before they finish.
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    last_cache_save: float = field(default_factory=time.monotonic)


def open_live(settings: Settings, store: Store) -> LiveReports:
    """Load the reports (from the index cache when fresh) and the stored feed entries.

    Raises RetrievalError with a message for the user.
    """
    library = Library.open(settings.reports_dir, cache_dir=settings.index_cache_dir)
    if settings.feeds:
        # Entries fetched before a restart are reports like any other: index them now.
        stored = [
            entry.report for entry in store.entries(settings.feeds, keep=settings.feed_keep_entries)
        ]
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
    return LiveReports(library)
