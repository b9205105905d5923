"""The update journal: what it keeps in SQLite across restarts, the update queue that fills
it whatever way an update comes in, and the replay after a crash (polling over real HTTP
against the fake Bot API)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.ext import Updater

from bot.reliability.journal import (
    KEEP_SECONDS,
    MAX_REPLAYS,
    JournalError,
    UpdateJournal,
)
from bot.reliability.journal_queue import JournalingQueue
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.server import FakeBotAPI

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory
USER = 5151


def update(update_id: int, text: str = "hi") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": USER, "type": "private", "first_name": "U"},
            "text": text,
        },
    }


def replayed_ids(path: Path, clock: Callable[[], float] = time.time) -> list[int]:
    """The updates a restart would hand over again: received, never done."""
    journal = UpdateJournal(path, clock)
    try:
        return [int(u["update_id"]) for u in journal.replays]
    finally:
        journal.close()


def test_received_then_done(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path)
    journal.record([update(1), update(2)])
    assert not journal.is_done(1)
    journal.mark_done(1)
    assert journal.is_done(1)
    journal.record([update(1)])  # delivered again: stays done
    assert journal.is_done(1)
    journal.mark_done(9)  # done without being recorded (e.g. a handed-in update)
    assert journal.is_done(9)
    assert replayed_ids(path) == [2]


def test_a_restart_replays_what_was_received_but_not_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    first = UpdateJournal(path)
    assert first.replays == []
    first.record([update(3, "three"), update(1, "one"), update(2, "two")])
    first.mark_done(2)
    # no close(): a crash

    with caplog.at_level(logging.WARNING, logger="bot.reliability.journal"):
        second = UpdateJournal(path)
    assert second.replays == [update(1, "one"), update(3, "three")]
    assert "2 updates were received but not answered" in caplog.text


def test_an_update_never_finished_in_max_replays_restarts_is_given_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path).record([update(1), update(2)])
    for _ in range(MAX_REPLAYS):
        journal = UpdateJournal(path)
        assert [u["update_id"] for u in journal.replays] == [1, 2]
        journal.count_replays([1])  # only 1 was handed over; the bot died before 2 was
    with caplog.at_level(logging.ERROR, logger="bot.reliability.journal"):
        last = UpdateJournal(path)
    assert [u["update_id"] for u in last.replays] == [2]
    assert last.is_done(1)  # abandoned: never handed over again
    assert "giving up on update 1" in caplog.text


def test_a_damaged_entry_is_given_up(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path).record([update(1), update(2)])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE updates SET payload = '{not json' WHERE update_id = 1")
    journal = UpdateJournal(path)
    assert [u["update_id"] for u in journal.replays] == [2]
    assert journal.is_done(1)  # abandoned


def test_old_entries_are_pruned(tmp_path: Path) -> None:
    now = [1_000_000.0]
    journal = UpdateJournal(tmp_path / "j.sqlite3", clock=lambda: now[0])
    journal.record([update(1)])
    journal.mark_done(1)
    now[0] += KEEP_SECONDS + 1
    journal.record([update(2)])  # a day of updates later: the old entry goes
    assert not journal.is_done(1)
    journal.close()
    assert replayed_ids(tmp_path / "j.sqlite3", clock=lambda: now[0]) == [2]


def test_an_unusable_data_dir_says_how_to_fix_it(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(JournalError, match="make DATA_DIR a writable folder"):
        UpdateJournal(blocker / "updates.sqlite3")


def test_every_update_put_in_the_queue_is_journalled(tmp_path: Path) -> None:
    """The queue is the one door: polling and a webhook both put updates in it before
    they confirm them to Telegram, so journalling there covers every way in."""
    path = tmp_path / "j.sqlite3"
    queue = JournalingQueue(UpdateJournal(path))
    queue.put_nowait(Update.de_json(update(4, "four"), None))
    asyncio.run(queue.put(Update.de_json(update(5, "five"), None)))
    queue.put_nowait("not an update: a custom item is queued, not journalled")
    assert queue.qsize() == 3
    (four, five) = UpdateJournal(path).replays
    assert (four["update_id"], four["message"]["text"]) == (4, "four")
    assert (five["update_id"], five["message"]["text"]) == (5, "five")


async def test_replay_puts_unfinished_updates_first_and_gives_up_unreadable_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path).record(
        [update(1, "one"), {"update_id": 2, "message": {"message_id": 2}}, update(3, "three")]
    )
    journal = UpdateJournal(path)
    queue = JournalingQueue(journal)
    with caplog.at_level(logging.ERROR, logger="bot.reliability.journal"):
        assert queue.replay(Bot("1:fake")) == 2
    got = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [u.update_id for u in got if isinstance(u, Update)] == [1, 3]
    assert "giving up on update 2" in caplog.text
    assert journal.replays == []  # handed over once per start
    journal.close()
    assert replayed_ids(path) == [1, 3]  # still not done: the next start hands them again


async def test_polled_updates_are_journalled_before_the_next_get_updates(
    botapi: FakeBotAPI, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite3"
    control = botapi.control
    control.send_message(USER, USER, "first question")
    queue = JournalingQueue(UpdateJournal(path))
    async with Bot(botapi.token, base_url=botapi.base_url) as bot:
        updater = Updater(bot, queue)  # python-telegram-bot's own polling loop
        async with updater:
            await updater.start_polling(timeout=0, poll_interval=0.01)
            got = await asyncio.wait_for(queue.get(), 10)
            await updater.stop()
    assert isinstance(got, Update) and got.message is not None
    assert got.message.text == "first question"
    # The bot died before answering: the restarted bot has it to answer.
    assert replayed_ids(path) == [got.update_id]


# -- a journal that cannot be used while the bot runs ---------------------------------------


def writes_fail(journal: UpdateJournal, failing: bool = True) -> None:
    """SQLite itself refuses every write from now on (or accepts them again): a real
    "attempt to write a readonly database", as a full disk refuses them."""
    journal._db.execute(f"PRAGMA query_only = {'ON' if failing else 'OFF'}")


def test_a_journal_that_cannot_be_written_is_logged_once_and_once_when_it_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path)
    journal.record([update(1)])
    writes_fail(journal)
    with caplog.at_level(logging.WARNING, logger="bot.reliability.journal"):
        for update_id in range(2, 12):
            journal.record([update(update_id)])  # never raises: answering goes on
            journal.mark_done(update_id)
        journal.mark_done(1)
        assert journal.fault == (
            f"the update journal {path} cannot be written: attempt to write a readonly database"
        )
        assert all(journal.is_done(n) for n in range(1, 12))  # remembered meanwhile
        writes_fail(journal, False)
        journal.record([update(12)])
    assert journal.fault is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages  # not one line per update
    assert messages[0].startswith(f"the update journal {path} cannot be written")
    assert "updates are still answered" in messages[0]
    assert caplog.records[0].levelno == logging.ERROR
    assert messages[1] == f"the update journal {path} can be written again"
    journal.close()
    assert replayed_ids(path) == [12]  # what was done meanwhile was written on recovery


def test_a_probe_finds_a_journal_that_works_again_without_an_update(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    writes_fail(journal)
    journal.probe()
    journal.record([update(1)])
    assert journal.fault is not None
    journal.probe()  # still failing: still a fault
    assert journal.fault is not None
    writes_fail(journal, False)
    journal.probe()
    assert journal.fault is None
    journal.probe()  # healthy: nothing to do


def test_an_abandoned_update_never_recorded_keeps_its_payload(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path)
    journal.abandon(5, "it cannot be parsed", payload={"update_id": 5, "poll": {"id": "1"}})
    assert journal.is_done(5)
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT state, payload FROM updates WHERE update_id = 5").fetchone()
    assert row == ("abandoned", '{"update_id": 5, "poll": {"id": "1"}}')


def test_a_damaged_journal_is_moved_aside_and_a_new_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "updates.sqlite3"
    path.write_bytes(b"\x13 not a database \x00" * 400)
    with caplog.at_level(logging.ERROR, logger="bot.reliability.journal"):
        journal = UpdateJournal(path)
    journal.record([update(1)])
    assert journal.fault is None and journal.replays == []
    (aside,) = tmp_path.glob("updates.sqlite3.damaged-*")
    assert aside.read_bytes().startswith(b"\x13 not a database")
    assert f"the update journal {path} is damaged" in caplog.text and str(aside) in caplog.text
