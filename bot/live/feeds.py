"""Polling RSS and Atom feeds: conditional GETs, new and updated entries, failures kept apart.

Each feed is fetched every `interval` seconds with If-None-Match /
If-Modified-Since from the last good response, so an unchanged feed costs a
304 and nothing else.  A good response is parsed (`retrieval.feed_format`),
its entries compared with those stored (by guid or url, across restarts), and
only new or changed ones come back as reports.  The validators are stored only
after the entries, so a crash in between means a refetch, never a lost entry.

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

from bot.store import Store
from retrieval.feed_format import FeedEntry, FeedFormatError, parse_feed
from retrieval.models import Report

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_FEED_BYTES = 10 * 1024 * 1024
# After a failure: retry after this, doubling each time, never later than the interval.
FIRST_RETRY_SECONDS = 30.0
USER_AGENT = "reports-bot/0.1 (RSS/Atom reader; +conditional requests)"
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)

Status = Literal["updated", "not-modified", "failed"]


class FeedFetchError(Exception):
    """The feed answered with something other than a document we can read."""


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
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = tuple(dict.fromkeys(urls))
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(
            follow_redirects=True,
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
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                log.debug("feed %s: not modified", url)
                return PollResult(url, "not-modified")
            if response.status_code != 200:
                raise FeedFetchError(f"HTTP {response.status_code} {response.reason_phrase}")
            body = await _read_capped(response)
        parsed = parse_feed(
            body,
            str(response.url),
            fetched_at=datetime.now(UTC),
            content_type=response.headers.get("content-type"),
        )
        if parsed.malformed:
            log.warning(
                "feed %s is malformed (%s); using the %d entries that could be read",
                url,
                parsed.malformed,
                len(parsed.entries),
            )
        stored = self.store.entry_digests(entry.key for entry in parsed.entries)
        new = [e for e in parsed.entries if e.key not in stored]
        changed = [e for e in parsed.entries if e.key in stored and stored[e.key] != e.digest]
        self.store.save_entries(url, [_row(entry) for entry in (*new, *changed)])
        if not parsed.malformed:  # a broken document is not one to answer 304 about
            self.store.save_feed_state(
                url,
                parsed.title,
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
        first = state is None or state.ok_at is None
        log.info(
            "feed %s: %d entries, %d new, %d updated%s",
            url,
            len(parsed.entries),
            len(new),
            len(changed),
            " (first fetch: not announced)" if first and new else "",
        )
        return PollResult(
            url,
            "updated",
            new=tuple(e.report for e in new),
            changed=tuple(e.report for e in changed),
            first_fetch=first,
        )


def _row(entry: FeedEntry) -> tuple[str, Report, str]:
    return entry.key, entry.report, entry.digest


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_FEED_BYTES:
            raise FeedFetchError(f"the document is larger than {MAX_FEED_BYTES // 2**20} MB")
    return bytes(body)
