"""Health: what liveness judges from polls, waiting updates and the journal, and how the
heartbeat file carries that verdict to `reports-bot health`.  A hand-driven clock."""

from __future__ import annotations

from pathlib import Path

from bot.reliability.health import check_heartbeat, reported_problem, write_heartbeat
from bot.reliability.liveness import Liveness

LIMIT = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Journal:
    """A journal that is healthy or not as the test says (liveness reads `fault`)."""

    def __init__(self) -> None:
        self.fault: str | None = None
        self.probes = 0

    def probe(self) -> None:
        self.probes += 1


def polled(liveness: Liveness, clock: Clock, seconds: float, error: str | None = None) -> None:
    """A getUpdates that took `seconds`."""
    poll = liveness.poll_started()
    clock.now += seconds
    liveness.poll_ended(poll, error)


def test_a_bot_that_polls_and_answers_is_healthy() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock)
    for update_id in range(1, 20):
        polled(liveness, clock, 10)  # long polls that end by their timeout
        liveness.arrived(update_id)
        clock.now += 1
        liveness.finished(update_id)
    assert liveness.problems(LIMIT) == []


def test_an_open_long_poll_is_the_normal_idle_state() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock)
    liveness.poll_started()
    clock.now += 10 * LIMIT
    assert liveness.problems(LIMIT) == []


def test_updates_not_fetched_for_longer_than_the_limit_are_a_problem() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock)
    polled(liveness, clock, 1)
    for _ in range(10):
        polled(liveness, clock, 0.1, error="HTTP 409")
        clock.now += 7
    (problem,) = liveness.problems(LIMIT)
    assert "getUpdates has not succeeded for 71s (last error: HTTP 409)" in problem
    assert "not being fetched" in problem

    polled(liveness, clock, 1)
    assert liveness.problems(LIMIT) == []


def test_waiting_updates_with_none_answered_for_longer_than_the_limit_are_stuck() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock)
    liveness.poll_started()
    liveness.arrived(1)
    liveness.arrived(2)
    clock.now += LIMIT
    assert liveness.problems(LIMIT) == []  # at the limit, not past it
    clock.now += 1
    (problem,) = liveness.problems(LIMIT)
    assert "2 updates are waiting and none was answered for 61s" in problem
    assert "answering is stuck" in problem

    liveness.finished(1)
    assert liveness.problems(LIMIT) == []  # moving again, though 2 still waits


def test_a_slow_backlog_that_keeps_moving_is_not_stuck() -> None:
    """A flooding group drains at Telegram's 20 messages a minute: slow, not stuck."""
    clock = Clock()
    liveness = Liveness(clock=clock)
    liveness.poll_started()
    for update_id in range(100):
        liveness.arrived(update_id)
    for update_id in range(100):
        clock.now += 3
        liveness.finished(update_id)
        assert liveness.problems(LIMIT) == []


def test_an_idle_bot_is_not_stuck_when_an_update_arrives() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock)
    liveness.poll_started()
    clock.now += 3600  # nothing answered for an hour: nothing to answer
    liveness.arrived(1)
    clock.now += 1
    assert liveness.problems(LIMIT) == []


def test_a_journal_fault_alone_is_a_problem() -> None:
    journal = Journal()
    liveness = Liveness(journal, clock=Clock())
    liveness.poll_started()
    journal.fault = "the update journal /x/updates.sqlite3 cannot be written: disk I/O error"
    assert liveness.problems(LIMIT) == [journal.fault]
    journal.fault = None
    assert liveness.problems(LIMIT) == []


# -- the heartbeat file -------------------------------------------------------------------


def test_a_fresh_heartbeat_with_a_problem_is_unhealthy_and_says_it(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    problem = "the update journal /x/updates.sqlite3 cannot be written: database or disk is full"
    write_heartbeat(path, problem)

    healthy, why = check_heartbeat(path, max_age=60)

    assert not healthy
    assert why == f"unhealthy: {problem}"
    assert reported_problem(path) == problem


def test_a_problem_is_one_line_whatever_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    write_heartbeat(path, "first\nsecond  third")
    assert check_heartbeat(path, max_age=60) == (False, "unhealthy: first second third")
    assert len(path.read_text().splitlines()) == 1


def test_a_stale_heartbeat_says_what_it_last_reported(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    write_heartbeat(path, "getUpdates has not succeeded for 61s")
    healthy, why = check_heartbeat(path, max_age=60, now=path.stat().st_mtime + 120)
    assert not healthy
    assert "stuck or stopped; it last reported: getUpdates has not succeeded" in why


def test_the_problem_goes_when_the_bot_recovers(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    write_heartbeat(path, "answering is stuck")
    write_heartbeat(path)
    assert check_heartbeat(path, max_age=60)[0]
    assert reported_problem(path) is None
