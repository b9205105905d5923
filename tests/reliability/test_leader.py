"""One leader among the replicas, by a PostgreSQL advisory lock on a real server: one leads
at a time, the next takes over when the leader's session ends, and a leader that loses
its database stops leading; the backlog a follower keeps for its take-over."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bot.reliability.leader import Backlog, Leadership
from tests.conftest import make_report
from tests.pg import PostgresServer


@pytest.fixture
def pair(database_url: str) -> Iterator[tuple[Leadership, Leadership]]:
    one, two = Leadership(database_url), Leadership(database_url)
    yield one, two
    one.close()
    two.close()


def test_without_a_database_the_one_process_always_leads() -> None:
    alone = Leadership(None)
    assert alone.is_leader and not alone.shared
    assert alone.check() is False  # nothing to take: it leads already
    alone.close()
    assert alone.is_leader


def test_one_of_two_replicas_leads_and_the_other_takes_over_when_it_stops(
    pair: tuple[Leadership, Leadership],
) -> None:
    one, two = pair
    assert one.check() is True and one.is_leader
    assert two.check() is False and not two.is_leader
    assert one.check() is False and one.is_leader  # keeps it, and says it is not new

    one.close()

    assert two.check() is True and two.is_leader
    assert one.check() is False and not one.is_leader


def test_a_leader_whose_session_is_killed_stops_leading_and_another_takes_over(
    pair: tuple[Leadership, Leadership], database_url: str
) -> None:
    one, two = pair
    one.check()
    # The server ends the leader's session, as when its process is killed (and waits up
    # to 5 s for it to end: its locks are freed as it exits).
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE application_name = 'reports-bot leader' AND pid <> pg_backend_pid()"
        )
    assert two.check() is True
    assert one.check() is False and not one.is_leader
    assert two.is_leader


def test_a_leader_that_cannot_reach_the_database_stops_leading_then_leads_again(
    postgres_server: PostgresServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    leader = Leadership(database_url)
    try:
        assert leader.check()
        postgres_server.stop()
        try:
            assert leader.check() is False and not leader.is_leader
            assert leader.check() is False  # still down: said once, not once per check
        finally:
            postgres_server.start()
        assert leader.check() is True and leader.is_leader
    finally:
        leader.close()
    faults = [r for r in caplog.records if "cannot reach the database" in r.getMessage()]
    assert len(faults) == 1 and "no longer the leader" in faults[0].getMessage()


def test_the_backlog_keeps_the_recent_reports_once_each_and_empties_when_taken() -> None:
    backlog = Backlog(keep_seconds=60, most=3)
    first, second = make_report(report_id="first"), make_report(report_id="second")
    backlog.add([first], now=0)
    backlog.add([second, first], now=50)  # first seen again: one entry, the newer time
    assert len(backlog) == 2
    assert [r.id for r in backlog.take(now=100)] == [second.id, first.id]
    assert len(backlog) == 0

    backlog.add([first], now=0)
    assert backlog.take(now=61) == []  # too old: the old leader had time to push it
    backlog.add([make_report(report_id=f"r{n}") for n in range(5)], now=0)
    assert len(backlog) == 3
