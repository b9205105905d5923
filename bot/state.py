"""The running bot's one typed state: what every handler, guard and job shares.

python-telegram-bot makes `bot_data` from `ContextTypes(bot_data=BotState)`
with no arguments, so a `BotState` starts empty and `bot/app.py` fills it once
with `wire`, whose arguments are all required: a piece the wiring forgets is a
TypeError at start-up, and reading a piece that was never wired raises at once
(`NotWired`), never a silent default.  Handlers, guards and jobs all reach it
the same way, as `context.bot_data`, typed through `Context`.

The engine is the one piece that changes while the bot runs: a rescan
(`bot/live/jobs.py`) assigns a new one in a single statement, and a handler
reads `state.engine` once per update, so each question is answered from one
whole index, old or new.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeAlias

from telegram import Bot
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.live.reports import LiveReports
from bot.reliability.leader import Backlog, Leadership
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics
from bot.storage.records import Store
from bot.telegram.policy import AccessPolicy, RefusalThrottle
from bot.telegram.rates import QuestionLimits, SharedBudgets
from retrieval.models import Report
from retrieval.search import SearchEngine

# What to do with reports that just arrived (the pushes of bot/telegram/pushes.py).
NewReports: TypeAlias = Callable[["BotState", Bot, SearchEngine, Sequence[Report]], Awaitable[int]]


class Server(Protocol):
    """What the state needs of bot/reliability/endpoints.py's server (which reads the
    state, so it is not imported here)."""

    def stop(self) -> None: ...


class NotWired(RuntimeError):
    """A piece of the state was read before bot/app.py wired it: a bug in the wiring."""


class BotState:
    """Settings, the engine, the store, the live reports and the per-user budgets."""

    settings: Settings
    engine: SearchEngine
    # When `engine` was built or loaded (monotonic seconds): the index age metric.
    engine_since: float
    access: AccessPolicy
    limits: QuestionLimits
    # Refusals sent to strangers, so each chat gets one every ten minutes at most.
    refusals: RefusalThrottle
    # None when the bot runs without subscriptions (no state file: in-process tests).
    store: Store | None
    # None when the reports are read once and never rescanned (in-process tests).
    live: LiveReports | None
    on_new_reports: NewReports
    # Whether updates are fetched, answered and journalled: what the heartbeat reports.
    liveness: Liveness
    # The admins whose private chat has the admin command menu (bot/telegram/admin.py).
    admin_menus: set[int]
    # The bot's Prometheus metrics (bot/reliability/metrics.py).
    metrics: Metrics
    # The /metrics, /healthz, /readyz server, while it runs (None without METRICS_PORT).
    endpoints: Server | None
    # Whether this replica leads (feed polls, pushes); always, without DATABASE_URL.
    leadership: Leadership
    # New reports this replica saw while another led, in case it takes over.
    backlog: Backlog

    def wire(
        self,
        *,
        settings: Settings,
        engine: SearchEngine,
        store: Store | None,
        live: LiveReports | None,
        on_new_reports: NewReports,
        liveness: Liveness,
        metrics: Metrics,
        leadership: Leadership,
    ) -> None:
        """Fill the state once, from the wiring; everything else is derived here."""
        if "settings" in self.__dict__:
            raise NotWired("BotState.wire was called twice: build one Application per state")
        self.settings = settings
        self.serve(engine)
        self.store = store
        self.live = live
        self.on_new_reports = on_new_reports
        self.liveness = liveness
        self.metrics = metrics
        self.leadership = leadership
        self.backlog = Backlog()
        self.endpoints = None
        self.access = AccessPolicy.from_settings(settings)
        # Replicas share one database: each user's budget is counted there, for all of them.
        shared = SharedBudgets(store) if store is not None and store.shared else None
        self.limits = QuestionLimits(settings.rate_limit_per_minute, shared=shared)
        self.refusals = RefusalThrottle()
        self.admin_menus = set()

    def serve(self, engine: SearchEngine, *, rebuilt: bool = True) -> None:
        """Answer from `engine` from now on (the rescan's swap: one assignment); not
        `rebuilt`: the same index, mapped from the cache just saved, as old as before."""
        self.engine = engine
        if rebuilt:
            self.engine_since = time.monotonic()

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes that were never set: the state was not wired.
        raise NotWired(
            f"BotState.{name} is not wired: bot/app.py's build_application must call "
            "state.wire(...) before the bot handles anything"
        )


Context: TypeAlias = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotState]
CONTEXT_TYPES = ContextTypes(bot_data=BotState)
