"""What replicas share through the store, on both backends: rate budgets (`spend`, the
same sliding window as bot/telegram/rates.py's, never over the limit however many
callers spend at once) and the fingerprint of feed entries and channel posts; and the
bot's budgets kept in PostgreSQL, counted in-process while it is down."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.storage.postgres import PostgresStore
from bot.storage.records import Store
from bot.storage.sqlite import SqliteStore
from bot.telegram.rates import QuestionLimits, SharedBudgets, SharedLimiter, SlidingWindowLimiter
from retrieval.models import Report
from retrieval.search import SearchEngine
from tests.conftest import make_report
from tests.pg import PostgresServer
from tests.stores import Backend


def report(number: int) -> Report:
    return make_report(
        f"Story {number}", report_id=f"r{number}", published=datetime(2024, 5, 1, tzinfo=UTC)
    )


class Clock:
    """Time the tests move by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- spend -----------------------------------------------------------------------------


def test_a_budget_allows_the_limit_then_refuses_until_a_request_leaves_it(
    backend: Backend,
) -> None:
    store = backend.open()
    assert [store.spend("ann", 3, 60.0, t).allowed for t in (0.0, 1.0, 2.0)] == [True] * 3
    refused = store.spend("ann", 3, 60.0, 10.0)
    assert not refused.allowed and refused.retry_in == pytest.approx(50.0)
    assert store.spend("bob", 3, 60.0, 11.0).allowed  # keys are counted apart
    for t in range(11, 60):  # a refused request does not count: the flood moves nothing
        assert not store.spend("ann", 3, 60.0, float(t)).allowed
    assert store.spend("ann", 3, 60.0, 60.0).allowed  # the one at 0.0 has left
    late = store.spend("ann", 3, 60.0, 60.5)
    assert not late.allowed and late.retry_in == pytest.approx(0.5)
    assert all(store.spend("carl", 0, 60.0, 5.0).allowed for _ in range(50))  # 0: no limit
    # Another store on the same state (a restart, a replica) counts the same requests.
    assert not backend.open().spend("ann", 3, 60.0, 60.7).allowed


def test_a_budget_decides_as_the_in_process_limiter_does(backend: Backend) -> None:
    store, limiter = backend.open(), SlidingWindowLimiter(4, window=30.0)
    steps = random.Random(7)
    now = 0.0
    for _ in range(300):
        now += steps.choice((0.0, 0.5, 1.0, 3.0, 7.5, 12.0))
        key = steps.choice(("ann", "bob", "cy"))
        mine, theirs = store.spend(key, 4, 30.0, now), limiter.check(key, now)
        assert mine.allowed == theirs.allowed, (key, now)
        assert mine.retry_in == pytest.approx(theirs.retry_in), (key, now)


def test_concurrent_spends_never_exceed_the_limit(backend: Backend) -> None:
    stores = [backend.open(), backend.open()]  # two replicas, two threads each
    start = threading.Barrier(4)
    allowed: list[bool] = []

    def spend(store: Store) -> None:
        start.wait()
        decisions = [store.spend("questions:42", 10, 60.0, 500.0 + n / 100) for n in range(25)]
        allowed.extend(d.allowed for d in decisions)

    threads = [threading.Thread(target=spend, args=(stores[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 100 and allowed.count(True) == 10


def test_budgets_that_ran_out_are_pruned(backend: Backend) -> None:
    store = backend.open()
    for user in range(300):
        store.spend(f"questions:{user}", 5, 60.0, 0.0)
    for n in range(300):  # every few hundred spends the long-idle budgets go
        store.spend("questions:busy", 1000, 60.0, 1000.0 + n)
    assert backend.scalar("SELECT count(*) FROM budgets WHERE key <> 'questions:busy'") == 0
    assert store.spend("questions:7", 1, 60.0, 2000.0).allowed  # a pruned budget is fresh


# -- the fingerprint of entries and posts ----------------------------------------------------


def test_entries_version_changes_with_entries_and_posts_as_any_store_sees(
    backend: Backend,
) -> None:
    mine, other = backend.open(), backend.open()
    assert mine.entries_version() == (0, 0.0)
    other.save_entries("https://a.example/rss", [("g1", report(1), "d1")])
    seen = mine.entries_version()
    assert seen[0] == 1 and seen[1] > 0 and seen == other.entries_version()
    mine.subscribe(1, "wheat", 1)  # not an entry or a post
    assert mine.entries_version() == seen
    other.save_entries("https://a.example/rss", [("g1", report(2), "d2")])  # an update
    updated = mine.entries_version()
    assert updated[0] == 1 and updated[1] > seen[1]
    other.save_channel_post(-1001, 1, report(3))
    posted = mine.entries_version()
    assert posted[0] == 2
    other.forget_channel_post(-1001, 1)
    assert mine.entries_version()[0] == 1
    other.save_entries("https://a.example/rss", [("g2", report(4), "d")], keep=1)  # pruned g1
    assert mine.entries_version() != updated


def test_claiming_pushes(backend: Backend) -> None:
    store = backend.open()
    if backend.kind == "sqlite":  # one process: nothing to claim against
        assert store.claim_pushes(["a", "b"]) == {"a", "b"} == store.claim_pushes(["a", "b"])
    else:  # replicas: the first claim wins (more in tests/test_store_postgres.py)
        assert store.claim_pushes(["a", "b"]) == {"a", "b"}
        assert store.claim_pushes(["a", "b"]) == set()


# -- the bot's budgets in PostgreSQL -----------------------------------------------------------


def test_the_bot_keeps_budgets_in_postgres_and_in_process_with_sqlite(
    tmp_path: Path, seeds_engine: SearchEngine, database_url: str
) -> None:
    shared = Settings(token="1:test", data_dir=tmp_path / "pg", database_url=database_url)
    with PostgresStore.open(database_url) as store:
        limits = build_application(shared, seeds_engine, store=store).bot_data.limits
        assert isinstance(limits.questions, SharedLimiter)
        assert isinstance(limits.inline, SharedLimiter)
    alone = Settings(token="1:test", data_dir=tmp_path / "sqlite")
    with SqliteStore.open(alone.store_path) as sqlite:
        limits = build_application(alone, seeds_engine, store=sqlite).bot_data.limits
        assert isinstance(limits.questions, SlidingWindowLimiter)


def test_replicas_share_each_users_budget(database_url: str) -> None:
    first, second = PostgresStore.open(database_url), PostgresStore.open(database_url)
    wall = Clock(1_800_000_000.0)
    try:
        one = QuestionLimits(2, Clock(), shared=SharedBudgets(first, wall))
        two = QuestionLimits(2, Clock(5.0), shared=SharedBudgets(second, wall))
        assert one.questions.limit == 2
        assert one.questions.check(7, one.clock()).allowed
        assert two.questions.check(7, two.clock()).allowed
        refused = one.questions.check(7, one.clock())
        assert not refused.allowed and refused.retry_in == pytest.approx(60.0)
        assert two.inline.check(7, two.clock()).allowed  # inline has a budget of its own
        assert two.questions.check(8, two.clock()).allowed  # and so has every user
        wall.now += 60.0
        assert two.questions.check(7, two.clock()).allowed
    finally:
        first.close()
        second.close()


def test_while_the_database_is_down_budgets_are_counted_in_process(
    postgres_server: PostgresServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = PostgresStore.open(database_url)
    local = Clock()
    shared = SharedBudgets(store, Clock(1_800_000_000.0), retry_after=15.0)
    limits = QuestionLimits(2, local, shared=shared)
    assert limits.questions.check(7, local()).allowed  # counted in the database
    postgres_server.stop()
    try:
        with caplog.at_level("INFO", logger="bot.telegram.rates"):
            # The database is asked once; then, for retry_after, this process counts alone.
            assert limits.questions.check(7, local()).allowed
            assert limits.questions.check(7, local()).allowed
            assert not limits.questions.check(7, local()).allowed
            assert limits.inline.check(7, local()).allowed
        warnings = [r for r in caplog.records if r.name == "bot.telegram.rates"]
        assert len(warnings) == 1 and "DATABASE_URL" in warnings[0].getMessage()
    finally:
        postgres_server.start()
    caplog.clear()
    with caplog.at_level("INFO", logger="bot.telegram.rates"):
        for _ in range(10):  # the pool reconnects by itself; each try waits a few seconds
            local.now += 15.0
            limits.questions.check(9, local())
            if shared.down_until is None:
                break
        assert shared.down_until is None
        assert limits.questions.check(9, local()).allowed
    again = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.rates"]
    assert len(again) == 1
    store.close()
