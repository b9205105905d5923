"""Every Prometheus metric of the bot, in one place, and the small calls that move them.

One `Metrics` per Application, each with its own `CollectorRegistry` rather than
prometheus_client's global one: two Applications in one process (the in-process tests)
would otherwise register the same names twice, or add up each other's counts.  The code
that counts gets the `Metrics` it was built with (`bot/app.py` hands one to the request,
the update queue, the processor and the state), so nothing here is a module-level
singleton.

Counted at the shared choke points, not in each handler:

- updates received: the journaling queue (every way in: polling, webhook, replay);
  handled: the fair update processor, once the handlers of one update returned;
- answers found or not, and how long the search took: `bot/telegram/questions.py`'s
  one `search`, which every question, **More** press and inline query goes through;
- Telegram calls that failed, and resends: `RetryingRequest` (`delivery.py`), which
  every Bot API call goes through (getUpdates too, through intake's subclass); errors
  that reach the error handler: `bot/telegram/errors.py`;
- feed polls by outcome: `bot/live/jobs.py`; pushes sent: `bot/telegram/pushes.py`.

What is a level rather than a count (the queue depth, the index's size and age) is read
when Prometheus scrapes, from the live objects, by `_Levels`: no job has to keep it up to
date, and a scrape never shows a stale value.  It runs in the HTTP server's thread, so it
only reads (a `len`, an attribute): never anything that could wait on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update

PREFIX = "reports_bot"
# A search takes about a millisecond on a small archive and up to a few seconds on a very
# large one under load: buckets from 1 ms to 5 s in 1-2.5-5 steps, and 10 s past them.
QUESTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# How an answer ends: its best passage quoted, or "I couldn't find that" (the not-found rule).
FOUND = "found"
NOT_FOUND = "not_found"
# Where a question came from (the `surface` label).
CHAT = "chat"
MORE = "more"
INLINE = "inline"
# A feed poll's outcome (the `outcome` label of reports_bot_feed_polls_total).
FEED_OUTCOMES = ("new_entries", "no_new_entries", "not_modified", "failed")
# The `code` of a failed Telegram call that got no HTTP answer at all.
NETWORK = "network"
TIMEOUT = "timeout"
UNKNOWN_TYPE = "unknown"


def update_type(update: object) -> str:
    """Pure: which kind an update is: `message`, `callback_query`, `inline_query`,
    `channel_post`… (the Bot API's own field name), or `unknown`."""
    if not isinstance(update, Update):
        return UNKNOWN_TYPE
    for kind in Update.ALL_TYPES:
        if getattr(update, kind, None) is not None:
            return str(kind)
    return UNKNOWN_TYPE


def feed_outcome(status: str, new: int, changed: int) -> str:
    """Pure: a feed poll's outcome label from bot/live/feeds.py's PollResult."""
    if status == "failed":
        return "failed"
    if status == "not-modified":
        return "not_modified"
    return "new_entries" if new or changed else "no_new_entries"


@dataclass
class Sources:
    """Where the levels are read from at scrape time (filled by bot/app.py).

    `engine` returns the engine now serving's reports and passages, when it was built or
    loaded (monotonic seconds) and whether its semantic stage is ready, or None before
    the state is wired."""

    update_queue: Callable[[], int] | None = None
    pending: Callable[[], int] | None = None
    engine: Callable[[], tuple[int, int, float, bool] | None] | None = None


class _Levels(Collector):
    """The gauges read from the live objects when Prometheus scrapes."""

    def __init__(self, sources: Sources, clock: Callable[[], float]) -> None:
        self.sources = sources
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return self._families(lambda: None)

    def collect(self) -> Iterable[Metric]:
        return self._families(self._values)

    def _values(self) -> dict[str, float] | None:
        sources = self.sources
        values: dict[str, float] = {}
        if sources.update_queue is not None:
            values["queue"] = sources.update_queue()
        if sources.pending is not None:
            values["pending"] = sources.pending()
        index = sources.engine() if sources.engine is not None else None
        if index is not None:
            reports, passages, since, semantic = index
            values |= {
                "reports": reports,
                "passages": passages,
                "age": max(0.0, self.clock() - since),
                "semantic": float(semantic),
            }
        return values

    def _families(self, read: Callable[[], dict[str, float] | None]) -> Iterable[Metric]:
        values = read() or {}
        for key, name, text in (
            ("queue", "update_queue_depth", "Updates received and not yet taken to be handled"),
            (
                "pending",
                "updates_pending",
                "Updates taken and waiting for their chat or handled now",
            ),
            ("reports", "index_reports", "Reports in the index now serving"),
            ("passages", "index_passages", "Passages in the index now serving"),
            ("age", "index_age_seconds", "Seconds since the index now serving was built or loaded"),
            (
                "semantic",
                "index_semantic_ready",
                "1 when the index now serving answers with the semantic stage, 0 before",
            ),
        ):
            family = GaugeMetricFamily(f"{PREFIX}_{name}", text)
            if key in values:
                family.add_metric([], values[key])
            yield family


class Metrics:
    """The bot's metrics and the calls that move them; `registry` is what /metrics serves."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry = CollectorRegistry()
        self.clock = clock

        def counter(name: str, text: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"{PREFIX}_{name}", text, labels, registry=registry)

        self.updates_received = counter(
            "updates_received", "Updates that entered the update queue, by type", ("type",)
        )
        self.updates_handled = counter(
            "updates_handled",
            "Updates whose handlers finished (duplicates skipped are not counted), by type",
            ("type",),
        )
        self.answers = counter(
            "answers",
            "Questions searched, by outcome (found: a passage quoted; not_found: refused) and "
            "surface (chat, more, inline)",
            ("outcome", "surface"),
        )
        self.question_seconds = Histogram(
            f"{PREFIX}_question_duration_seconds",
            "Seconds a question's search took, from handing it to the worker thread to its hits",
            buckets=QUESTION_BUCKETS,
            registry=registry,
        )
        self.api_errors = counter(
            "telegram_api_errors",
            "Telegram Bot API calls that failed after any retries, by method and code (HTTP "
            "status, network or timeout)",
            ("method", "code"),
        )
        self.api_retries = counter(
            "telegram_api_retries",
            "Telegram Bot API calls sent again after a 5xx or a network fault, by method",
            ("method",),
        )
        self.handler_errors = counter(
            "handler_errors",
            "Errors that reached the error handler, by update type (none: polling trouble)",
            ("type",),
        )
        self.feed_polls = counter("feed_polls", "Feed polls, by outcome", ("outcome",))
        self.pushes = counter("pushes_sent", "Messages sent to subscribers about new reports")
        self.duplicates = counter(
            "updates_skipped",
            "Updates not handled here: already finished, or claimed by another replica",
        )
        self.leader = Gauge(
            f"{PREFIX}_leader",
            "1 while this replica leads (polls feeds, sends pushes); always 1 without a "
            "shared database",
            registry=registry,
        )
        self.leader.set(1)
        # Zero from the start, so a rate over them is defined before the first event.
        for outcome in (FOUND, NOT_FOUND):
            for surface in (CHAT, MORE, INLINE):
                self.answers.labels(outcome, surface)
        for outcome in FEED_OUTCOMES:
            self.feed_polls.labels(outcome)
        self.sources = Sources()
        registry.register(_Levels(self.sources, clock))

    def received(self, update: object) -> None:
        self.updates_received.labels(update_type(update)).inc()

    def handled(self, update: object) -> None:
        self.updates_handled.labels(update_type(update)).inc()

    def answered(self, surface: str, found: bool, seconds: float) -> None:
        self.answers.labels(FOUND if found else NOT_FOUND, surface).inc()
        self.question_seconds.observe(seconds)

    def api_failed(self, method: str, code: str) -> None:
        self.api_errors.labels(method, code).inc()

    def api_retried(self, method: str) -> None:
        self.api_retries.labels(method).inc()

    def handler_failed(self, update: object) -> None:
        self.handler_errors.labels("none" if update is None else update_type(update)).inc()

    def feed_polled(self, status: str, new: int, changed: int) -> None:
        self.feed_polls.labels(feed_outcome(status, new, changed)).inc()

    def skipped(self) -> None:
        self.duplicates.inc()

    def leading(self, leader: bool) -> None:
        self.leader.set(1 if leader else 0)

    def pushed(self, messages: int) -> None:
        if messages:
            self.pushes.inc(messages)
