"""The update processor: each chat in order, a flooding chat never starving the others, and
updates in the journal never handled twice.  Real asyncio tasks; handlers are coroutines
that wait on events the test sets."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import BaseUpdateProcessor, SimpleUpdateProcessor

from bot.reliability.fairness import UpdateProcessor, queue_key
from bot.reliability.journal import UpdateJournal
from bot.reliability.journal_queue import JournalingQueue
from bot.reliability.liveness import Liveness
from bot.reliability.metrics import Metrics

GROUP = -100_777
ALICE = 31
BOB = 32
_ids = iter(range(1, 1_000_000))


def message_update(chat_id: int, user_id: int = ALICE, update_id: int | None = None) -> Update:
    chat: dict[str, Any] = (
        {"id": chat_id, "type": "private", "first_name": "U"}
        if chat_id > 0
        else {"id": chat_id, "type": "supergroup", "title": "G"}
    )
    data = {
        "update_id": next(_ids) if update_id is None else update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            "text": "q",
        },
    }
    update = Update.de_json(data, None)
    assert update is not None
    return update


def inline_update(user_id: int) -> Update:
    data = {
        "update_id": next(_ids),
        "inline_query": {
            "id": "1",
            "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            "query": "q",
            "offset": "",
        },
    }
    update = Update.de_json(data, None)
    assert update is not None
    return update


class Handler:
    """A handler that records when it starts and finishes, and waits for `release`."""

    def __init__(self, log: list[str], name: str, release: asyncio.Event | None = None) -> None:
        self.log, self.name, self.release = log, name, release

    async def __call__(self) -> None:
        self.log.append(f"start {self.name}")
        if self.release is not None:
            await self.release.wait()
        self.log.append(f"end {self.name}")


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_queue_keys() -> None:
    assert queue_key(message_update(ALICE)) == ("chat", ALICE)
    assert queue_key(message_update(GROUP)) == ("chat", GROUP)
    assert queue_key(inline_update(BOB)) == ("user", BOB)
    assert queue_key(object()) is None


async def test_one_chat_is_handled_in_order_one_at_a_time() -> None:
    processor = UpdateProcessor(per_chat=1)
    log: list[str] = []
    release = asyncio.Event()
    first = asyncio.create_task(
        processor.process_update(message_update(ALICE), Handler(log, "a1", release)())
    )
    second = asyncio.create_task(
        processor.process_update(message_update(ALICE), Handler(log, "a2")())
    )
    other = asyncio.create_task(processor.process_update(message_update(BOB), Handler(log, "b")()))
    await settle()
    assert log == ["start a1", "start b", "end b"]  # a2 waits for a1; Bob's chat does not
    release.set()
    await asyncio.gather(first, second, other)
    assert log[3:] == ["end a1", "start a2", "end a2"]


async def flood_then_private(processor: BaseUpdateProcessor) -> tuple[list[str], list[Any]]:
    """A group sends 40 updates whose handlers wait (as on the group's send limit); then a
    private question.  Returns the log once the private question had its chance."""
    log: list[str] = []
    stuck = asyncio.Event()
    tasks = [
        asyncio.create_task(
            processor.process_update(message_update(GROUP, 1000 + n), Handler(log, "g", stuck)())
        )
        for n in range(40)
    ]
    await settle()
    tasks.append(
        asyncio.create_task(processor.process_update(message_update(ALICE), Handler(log, "p")()))
    )
    await settle()
    seen = list(log)
    stuck.set()
    await asyncio.gather(*tasks)
    return seen, tasks


async def test_a_group_flood_does_not_starve_a_private_chat() -> None:
    seen, _ = await flood_then_private(UpdateProcessor(max_concurrent=8))
    assert "end p" in seen
    assert seen.count("start g") == 1  # the group's backlog waits in its own queue


async def test_without_it_the_same_flood_starves_the_private_chat() -> None:
    """Why this processor exists: python-telegram-bot's own, with as many slots."""
    processor = SimpleUpdateProcessor(8)
    seen, _ = await flood_then_private(processor)
    assert "start p" not in seen
    assert seen.count("start g") == 8


async def test_updates_in_the_journal_are_not_handled_twice(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    processor = UpdateProcessor(journal)
    log: list[str] = []
    await processor.process_update(message_update(ALICE, update_id=7), Handler(log, "7")())
    assert journal.is_done(7)

    again = Handler(log, "7 again")()
    await processor.process_update(message_update(ALICE, update_id=7), again)
    assert log == ["start 7", "end 7"]
    assert inspect.getcoroutinestate(again) == inspect.CORO_CLOSED  # not left unawaited


async def test_a_duplicate_arriving_while_the_first_is_in_progress_is_skipped(
    tmp_path: Path,
) -> None:
    processor = UpdateProcessor(UpdateJournal(tmp_path / "j.sqlite3"))
    log: list[str] = []
    release = asyncio.Event()
    first = asyncio.create_task(
        processor.process_update(message_update(ALICE, update_id=8), Handler(log, "8", release)())
    )
    await settle()
    await processor.process_update(message_update(ALICE, update_id=8), Handler(log, "dup")())
    release.set()
    await first
    assert log == ["start 8", "end 8"]


async def test_an_update_whose_handling_was_cancelled_is_not_marked_done(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    processor = UpdateProcessor(journal)
    task = asyncio.create_task(
        processor.process_update(
            message_update(ALICE, update_id=9), Handler([], "9", asyncio.Event())()
        )
    )
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not journal.is_done(9)


async def test_liveness_sees_each_update_finish_whether_handled_or_skipped(
    tmp_path: Path,
) -> None:
    now = [0.0]
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    liveness = Liveness(journal, clock=lambda: now[0])
    liveness.poll_started()  # a long poll stays open throughout: fetching is fine
    processor = UpdateProcessor(journal, liveness=liveness)
    journal.abandon(11, "it cannot be parsed")  # the bare stand-in of a bad update
    log: list[str] = []
    release = asyncio.Event()
    liveness.arrived(10)
    first = asyncio.create_task(
        processor.process_update(message_update(ALICE, update_id=10), Handler(log, "10", release)())
    )
    await settle()
    await processor.process_update(message_update(ALICE, update_id=10), Handler(log, "dup")())
    now[0] += 100
    (stuck,) = liveness.problems(60)
    assert stuck.startswith("1 updates are waiting")  # the duplicate did not finish 10

    liveness.arrived(11)
    await processor.process_update(message_update(BOB, update_id=11), Handler(log, "11")())
    release.set()
    await first
    now[0] += 100
    assert log == ["start 10", "end 10"]
    assert liveness.problems(60) == []  # nothing waits any more


async def test_metrics_count_received_once_and_handled_once_by_type(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    metrics = Metrics()
    queue = JournalingQueue(journal, metrics=metrics)
    processor = UpdateProcessor(journal, metrics=metrics)
    updates = [message_update(ALICE, update_id=21), inline_update(BOB)]
    for update in updates:
        queue.put_nowait(update)
    log: list[str] = []
    release = asyncio.Event()
    waiting = asyncio.create_task(
        processor.process_update(updates[0], Handler(log, "21", release)())
    )
    await settle()
    assert processor.pending == 1  # taken, not finished
    await processor.process_update(updates[1], Handler(log, "inline")())
    release.set()
    await waiting
    assert processor.pending == 0
    # A duplicate skipped by the journal is received again but not handled again.
    queue.put_nowait(updates[0])
    await processor.process_update(updates[0], Handler(log, "21 again")())

    def count(name: str, kind: str) -> float | None:
        return metrics.registry.get_sample_value(
            f"reports_bot_updates_{name}_total", {"type": kind}
        )

    assert count("received", "message") == 2 and count("received", "inline_query") == 1
    assert count("handled", "message") == 1 and count("handled", "inline_query") == 1
