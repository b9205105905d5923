"""The update journal: what it keeps in SQLite across restarts, and the getUpdates client that
fills it (over real HTTP against the fake Bot API)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.config import ConfigError
from bot.dedupe import (
    ABANDONED,
    DONE,
    KEEP_SECONDS,
    MAX_REPLAYS,
    RECEIVED,
    JournalingRequest,
    UpdateJournal,
    merge_replays,
)
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


def test_received_then_done(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    journal.record([update(1), update(2)])
    assert journal.state(1) == RECEIVED and not journal.is_done(1)
    journal.mark_done(1)
    assert journal.is_done(1) and journal.state(1) == DONE
    journal.record([update(1)])  # delivered again: stays done
    assert journal.is_done(1)
    journal.mark_done(9)  # done without being recorded (e.g. a handed-in update)
    assert journal.is_done(9)


def test_a_restart_replays_what_was_received_but_not_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    first = UpdateJournal(path)
    assert first.replays == []
    first.record([update(3, "three"), update(1, "one"), update(2, "two")])
    first.mark_done(2)
    # no close(): a crash

    with caplog.at_level(logging.WARNING, logger="bot.dedupe"):
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
    with caplog.at_level(logging.ERROR, logger="bot.dedupe"):
        last = UpdateJournal(path)
    assert [u["update_id"] for u in last.replays] == [2]
    assert last.state(1) == ABANDONED and last.is_done(1)
    assert "giving up on update 1" in caplog.text


def test_a_damaged_entry_is_given_up(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path).record([update(1), update(2)])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE updates SET payload = '{not json' WHERE update_id = 1")
    journal = UpdateJournal(path)
    assert [u["update_id"] for u in journal.replays] == [2]
    assert journal.state(1) == ABANDONED


def test_old_entries_are_pruned(tmp_path: Path) -> None:
    now = [1_000_000.0]
    journal = UpdateJournal(tmp_path / "j.sqlite3", clock=lambda: now[0])
    journal.record([update(1)])
    journal.mark_done(1)
    now[0] += KEEP_SECONDS + 1
    journal.record([update(2)])  # a day of updates later: the old entry goes
    assert journal.state(1) is None and journal.state(2) == RECEIVED


def test_an_unusable_data_dir_says_how_to_fix_it(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ConfigError, match="make DATA_DIR a writable folder"):
        UpdateJournal(blocker / "updates.sqlite3")


def test_merge_replays_keeps_each_id_once_in_order() -> None:
    merged = merge_replays([update(2, "old"), update(5)], [update(5, "new"), update(7)])
    assert [u["update_id"] for u in merged] == [2, 5, 7]
    assert merged[1]["message"]["text"] == "new"


async def test_get_updates_is_journaled_before_python_telegram_bot_sees_it(
    botapi: FakeBotAPI, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite3"
    control = botapi.control
    first = control.send_message(USER, USER, "first question")
    journal = UpdateJournal(path)
    async with Bot(
        botapi.token, base_url=botapi.base_url, get_updates_request=JournalingRequest(journal)
    ) as bot:
        (got,) = await bot.get_updates(timeout=0)
    assert got.message is not None and got.message.text == "first question"
    assert journal.state(got.update_id) == RECEIVED
    journal.close()

    # The bot died before answering; the server still has the update queued too, and a
    # new question arrived meanwhile.  The first batch after the restart has each once.
    second = control.send_message(USER, USER, "second question")
    restarted = UpdateJournal(path)
    async with Bot(
        botapi.token, base_url=botapi.base_url, get_updates_request=JournalingRequest(restarted)
    ) as bot:
        batch = await bot.get_updates(timeout=0)
        assert [u.message.text for u in batch if u.message] == [
            first["text"],
            second["text"],
        ]
        assert await bot.get_updates(offset=batch[-1].update_id + 1, timeout=0) == ()
    assert restarted.state(batch[1].update_id) == RECEIVED


async def test_replays_come_with_the_first_batch_even_when_telegram_forgot_them(
    botapi: FakeBotAPI, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite3"
    UpdateJournal(path).record([update(1, "confirmed but never answered")])
    journal = UpdateJournal(path)
    async with Bot(
        botapi.token, base_url=botapi.base_url, get_updates_request=JournalingRequest(journal)
    ) as bot:
        (replayed,) = await bot.get_updates(timeout=0)
        assert replayed.update_id == 1
        assert await bot.get_updates(offset=2, timeout=0) == ()  # replayed once only
