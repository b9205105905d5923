"""Claims in the update journal: an update is handled by one process, even when two
replicas get it (the shared journal in a real PostgreSQL), and an update a dead process
held is handed over once its claim lapses."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.reliability.fairness import UpdateProcessor
from bot.reliability.journal import DONE, UpdateJournal
from bot.reliability.journal_shared import SharedJournal
from bot.storage.postgres import PostgresStore
from tests.pg import PostgresServer


def update(update_id: int, chat_id: int = 1) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat_id, "type": "private"},
            "text": "hello",
        },
    }


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- one process, SQLite --------------------------------------------------------------


def test_an_update_is_claimed_until_done_and_never_after(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    journal.record([update(1)])
    assert journal.claim(1)
    journal.mark_done(1)
    assert not journal.claim(1)
    assert journal.claim(2)  # never recorded (the journal failed then): handled anyway


def test_an_update_claimed_when_the_process_died_is_replayed_at_the_next_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    first = UpdateJournal(path)
    first.record([update(1), update(2)])
    assert first.claim(1)  # being answered when the process was killed
    first.mark_done(2)

    again = UpdateJournal(path)

    assert [u["update_id"] for u in again.replays] == [1]
    assert again.claim(1)


def test_a_journal_written_before_claims_gets_their_columns_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE updates (update_id INTEGER PRIMARY KEY, state TEXT NOT NULL, "
            "payload TEXT, replays INTEGER NOT NULL DEFAULT 0, received_at REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO updates VALUES (7, 'received', ?, 0, ?)",
            ('{"update_id": 7}', time.time()),
        )
    db.close()

    journal = UpdateJournal(path)

    assert [u["update_id"] for u in journal.replays] == [7]
    assert journal.claim(7) and journal.fault is None


# -- several replicas, PostgreSQL -------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[PostgresStore]:
    with PostgresStore.open(database_url) as opened:
        yield opened


def test_of_two_replicas_that_got_one_update_exactly_one_claims_it(store: PostgresStore) -> None:
    one = SharedJournal(store.pool, "test")
    two = SharedJournal(store.pool, "test")
    one.record([update(5)])
    two.record([update(5)])  # the same update, delivered to both

    claims = [one.claim(5), two.claim(5)]

    assert claims.count(True) == 1
    one.mark_done(5)
    assert not one.claim(5) and not two.claim(5)


def test_a_claim_lapses_so_a_dead_replicas_update_is_an_orphan_for_the_leader(
    store: PostgresStore,
) -> None:
    clock = Clock()
    dead = SharedJournal(store.pool, "test", clock)
    leader = SharedJournal(store.pool, "test", clock)
    dead.record([update(1), update(2)])
    assert dead.claim(1)  # then killed; update 2 never even claimed

    assert leader.take_orphans() == []  # too soon: both may still be answered there
    assert not leader.claim(1)
    clock.now += SharedJournal.ORPHAN_AFTER_SECONDS + 1
    assert [u["update_id"] for u in leader.take_orphans()] == [2]
    clock.now += SharedJournal.CLAIM_LEASE_SECONDS
    assert [u["update_id"] for u in leader.take_orphans()] == [1, 2]
    assert leader.claim(1) and leader.claim(2)
    assert not dead.claim(1)


def test_a_live_replica_renews_what_it_holds_so_the_leader_never_takes_it(
    store: PostgresStore,
) -> None:
    clock = Clock()
    busy = SharedJournal(store.pool, "test", clock)
    leader = SharedJournal(store.pool, "test", clock)
    busy.record([update(1), update(2)])
    assert busy.claim(1)  # a long upload; update 2 waits behind it in the same chat
    for _ in range(10):  # ten renewals: past both the lease and the orphan time
        clock.now += SharedJournal.ORPHAN_AFTER_SECONDS / 2
        busy.renew([1, 2])
        assert leader.take_orphans() == []
    assert not leader.claim(1)
    leader.renew([1])  # a claim is renewed only by its holder
    clock.now += SharedJournal.CLAIM_LEASE_SECONDS + 1
    assert [u["update_id"] for u in leader.take_orphans()] == [1, 2]


def test_a_database_that_is_down_costs_crash_safety_not_answers(
    postgres_server: PostgresServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pause after a failure is for the event loop; here every call may try again.
    monkeypatch.setattr("bot.reliability.journal_shared.REST_SECONDS", 0.0)
    with PostgresStore.open(database_url) as store:
        journal = SharedJournal(store.pool, "test")
        journal.record([update(1)])
        postgres_server.stop()
        try:
            journal.record([update(2)])
            assert journal.claim(2)  # unknown: handled, a rare duplicate beats a lost one
            journal.mark_done(2)
            assert journal.fault is not None
            assert journal.is_done(2)  # remembered meanwhile, never handled twice
        finally:
            postgres_server.start()
        for _ in range(10):  # a pooled connection from before the restart may fail once
            journal.probe()
            if journal.fault is None:
                break
        assert journal.fault is None
        with store.pool.connection() as connection:
            rows = connection.execute("SELECT update_id, state FROM updates").fetchall()
        assert dict(rows) == {1: "received", 2: DONE}


def test_two_processors_on_one_shared_journal_handle_a_duplicate_once(
    store: PostgresStore,
) -> None:
    handled: list[str] = []

    async def run() -> None:
        processors = {
            name: UpdateProcessor(SharedJournal(store.pool, "test")) for name in ("a", "b")
        }
        for processor in processors.values():
            assert processor.journal is not None
            processor.journal.record([update(9)])

        async def handle(name: str) -> None:
            await asyncio.sleep(0)
            handled.append(name)

        parsed = Update.de_json(update(9), None)
        await asyncio.gather(
            *(p.do_process_update(parsed, handle(n)) for n, p in processors.items())
        )

    asyncio.run(run())

    assert len(handled) == 1
    with store.pool.connection() as connection:
        row = connection.execute("SELECT state FROM updates WHERE update_id = 9").fetchone()
    assert row is not None and row[0] == DONE
