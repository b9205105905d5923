"""Polling RSS and Atom feeds: conditional GETs, new and updated entries, failures kept apart.

Each feed is fetched every `interval` seconds with If-None-Match /
If-Modified-Since from the last good response, so an unchanged feed costs a
304 and nothing else.  A good response is parsed (`retrieval.feed_format`),
its entries compared with those this feed brought before (by guid or url,
across restarts), and only new or changed ones come back as reports.  The
validators are stored only after the entries, so a crash in between means a
refetch, never a lost entry.  Redirects are followed only where
`bot/live/feed_fetch.py` allows (never to internal services, by default).

Each feed keeps a bounded archive: its newest `keep` entries (FEED_KEEP_ENTRIES).
Newest means first seen by the bot most recently; entries first seen in the same
fetch rank by their date (an undated one counts as dated when fetched), then by
the feed's own order, top first.  A fetch that lists more than `keep` entries
is cut to its newest `keep`, and the entries pruned from the archive, oldest
first in the same transaction as the save, come back in `PollResult.pruned` so
the index drops them too.  Entries the feed still lists are never pruned.

One feed failing (unreachable, an error status, a timeout, garbage, a
document too large) is logged and retried sooner than the normal interval,
backing off to it, and never touches the other feeds: they are polled
concurrently and each one's errors stay its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

from bot.config import DEFAULT_FEED_KEEP_ENTRIES
from bot.live.feed_fetch import FeedFetchError, Resolver, fetch, resolve
from bot.storage.records import Store
from retrieval.feed_format import FeedEntry, FeedFormatError, parse_feed
from retrieval.models import Report

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30.0
# After a failure: retry after this, doubling each time, never later than the interval.
FIRST_RETRY_SECONDS = 30.0
USER_AGENT = "reports-bot/0.1 (RSS/Atom reader; +conditional requests)"
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)

Status = Literal["updated", "not-modified", "failed"]


@dataclass(frozen=True, slots=True)
class PollResult:
    url: str
    status: Status
    new: tuple[Report, ...] = ()
    changed: tuple[Report, ...] = ()
    # The first good response from this feed ever: its entries are a backlog, not news.
    first_fetch: bool = False
    # Report ids of entries pruned from the feed's bounded archive: drop them from the index.
    pruned: tuple[str, ...] = ()
    error: str = ""


class FeedPoller:
    """Fetches the configured feeds when they are due; one instance per bot."""

    def __init__(
        self,
        urls: Sequence[str],
        store: Store,
        *,
        interval: float,
        keep: int = DEFAULT_FEED_KEEP_ENTRIES,
        allow_private: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver = resolve,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = tuple(dict.fromkeys(urls))
        self.store = store
        self.interval = interval
        self.keep = keep
        self.allow_private = allow_private
        self.timeout = timeout
        self._resolver = resolver
        # Redirects are followed by feed_fetch.fetch, which checks every hop.
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT},
        )
        self._clock = clock
        now = clock()
        self._due = dict.fromkeys(self.urls, now)
        self._failures = dict.fromkeys(self.urls, 0)

    async def aclose(self) -> None:
        await self._client.aclose()

    def seconds_until_due(self) -> float:
        if not self._due:
            return self.interval
        return max(0.0, min(self._due.values()) - self._clock())

    async def poll_due(self) -> list[PollResult]:
        """Poll every feed that is due, concurrently; one result per feed polled."""
        now = self._clock()
        due = [url for url in self.urls if self._due[url] <= now]
        results = await asyncio.gather(*(self.poll(url) for url in due))
        for result in results:
            self._schedule(result)
        return list(results)

    def _schedule(self, result: PollResult) -> None:
        if result.status == "failed":
            self._failures[result.url] += 1
            delay = min(self.interval, FIRST_RETRY_SECONDS * 2 ** (self._failures[result.url] - 1))
            log.warning("feed %s failed: %s; retrying in %.0fs", result.url, result.error, delay)
        else:
            self._failures[result.url] = 0
            delay = self.interval
        self._due[result.url] = self._clock() + delay

    async def poll(self, url: str) -> PollResult:
        """Fetch one feed; every failure becomes a "failed" result, never an exception."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._poll(url)
        except TimeoutError:
            return PollResult(url, "failed", error=f"no complete answer within {self.timeout:g}s")
        except (httpx.HTTPError, FeedFetchError, FeedFormatError) as error:
            return PollResult(url, "failed", error=str(error) or type(error).__name__)
        except Exception as error:  # a bug must not stop the other feeds either
            log.exception("unexpected error while polling %s", url)
            return PollResult(url, "failed", error=f"{type(error).__name__}: {error}")

    async def _poll(self, url: str) -> PollResult:
        state = self.store.feed_state(url)
        headers: dict[str, str] = {}
        if state is not None and state.etag:
            headers["If-None-Match"] = state.etag
        if state is not None and state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        fetched = await fetch(
            self._client,
            url,
            headers,
            allow_private=self.allow_private,
            resolver=self._resolver,
        )
        if fetched.body is None:
            log.debug("feed %s: not modified", url)
            return PollResult(url, "not-modified")
        parsed = parse_feed(
            fetched.body,
            fetched.url,
            fetched_at=datetime.now(UTC),
            content_type=fetched.headers.get("content-type"),
            feed_url=url,
        )
        if parsed.malformed:
            log.warning(
                "feed %s is malformed (%s); using the %d entries that could be read",
                url,
                parsed.malformed,
                len(parsed.entries),
            )
        for problem in parsed.skipped:
            log.warning("feed %s: skipped %s; its other entries are kept", url, problem)
        listed = _newest(parsed.entries, self.keep)
        stored = self.store.entry_digests(url, (entry.key for entry in listed))
        new = [e for e in listed if e.key not in stored]
        changed = [e for e in listed if e.key in stored and stored[e.key] != e.digest]
        pruned = self.store.save_entries(
            url,
            [_row(entry) for entry in (*new, *changed)],
            keep=self.keep,
            listed=[entry.key for entry in listed],
        )
        if not parsed.malformed:  # a broken document is not one to answer 304 about
            self.store.save_feed_state(
                url,
                parsed.title,
                fetched.headers.get("etag"),
                fetched.headers.get("last-modified"),
            )
        first = state is None or state.ok_at is None
        log.info(
            "feed %s: %d entries, %d new, %d updated%s%s",
            url,
            len(parsed.entries),
            len(new),
            len(changed),
            f", {len(pruned)} pruned to keep the newest {self.keep} (FEED_KEEP_ENTRIES)"
            if pruned
            else "",
            " (first fetch: not announced)" if first and new else "",
        )
        return PollResult(
            url,
            "updated",
            new=tuple(e.report for e in new),
            changed=tuple(e.report for e in changed),
            first_fetch=first,
            pruned=tuple(pruned),
        )


def _newest(entries: Sequence[FeedEntry], keep: int) -> list[FeedEntry]:
    """The newest `keep` of one fetch's entries, newest first (see the module's docstring)."""
    ranked = sorted(entries, key=lambda entry: entry.report.published, reverse=True)
    return ranked[:keep]


def _row(entry: FeedEntry) -> tuple[str, Report, str]:
    return entry.key, entry.report, entry.digest
