"""Updates python-telegram-bot cannot parse: each checked on its own, given up in the journal
and replaced by a bare update that moves the offset.  Pure checks, then the library's own
polling loop over real HTTP against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.ext import Updater

from bot.reliability.intake import (
    checked_payload,
    checked_update,
    checked_updates,
    polling_request,
)
from bot.reliability.journal import ABANDONED, UpdateJournal
from bot.reliability.journal_queue import JournalingQueue
from bot.reliability.liveness import Liveness
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.server import FakeBotAPI

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory
USER = 6161
BAD_POLL: dict[str, Any] = {"poll": {"id": "1", "question": "Which way?"}}


def message(update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": USER, "type": "private", "first_name": "U"},
            "text": "hi",
        },
    }


def stored(path: Path, update_id: int) -> tuple[str, dict[str, Any] | None]:
    with sqlite3.connect(path) as db:
        state, payload = db.execute(
            "SELECT state, payload FROM updates WHERE update_id = ?", (update_id,)
        ).fetchone()
    return str(state), None if payload is None else json.loads(payload)


def test_an_update_that_parses_is_passed_as_it_is(tmp_path: Path) -> None:
    good = message(1)
    assert checked_update(good, UpdateJournal(tmp_path / "j.sqlite3")) is good


def test_an_update_that_cannot_be_parsed_is_given_up_and_made_bare(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = UpdateJournal(path)
    bad = {"update_id": 2, **BAD_POLL}

    with caplog.at_level(logging.ERROR):
        assert checked_update(bad, journal) == {"update_id": 2}
        assert checked_update(bad, journal) == {"update_id": 2}  # fetched again: said once

    assert journal.is_done(2)  # the update processor skips the bare stand-in
    assert stored(path, 2) == (ABANDONED, bad)  # kept for whoever looks into it
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "giving up on update 2: python-telegram-bot cannot parse it (TypeError: Poll"
    )
    assert record.exc_info is None  # one line, no traceback
    parsed = Update.de_json(dict(checked_update(bad, None)), None)
    assert parsed is not None and parsed.effective_chat is None and parsed.poll is None


def test_a_batch_keeps_its_order_and_its_last_id(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    batch = [message(3), {"update_id": 4, **BAD_POLL}, message(5), {"update_id": 6, **BAD_POLL}]
    checked = checked_updates(batch, journal)
    assert checked == [message(3), {"update_id": 4}, message(5), {"update_id": 6}]
    assert [u.update_id for u in Update.de_list(checked, None)] == [3, 4, 5, 6]


def test_an_entry_without_an_update_id_is_dropped() -> None:
    assert checked_updates([message(7), {"poll": {}}, "junk"], None) == [message(7)]


def test_the_body_is_rewritten_only_when_something_was_given_up(tmp_path: Path) -> None:
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    body = json.dumps({"ok": True, "result": [message(8)]}).encode()
    assert checked_payload(body, journal) is body
    assert checked_payload(b"<html>502</html>", journal) == b"<html>502</html>"
    bad = json.dumps({"ok": True, "result": [message(9), {"update_id": 10, **BAD_POLL}]})
    assert json.loads(checked_payload(bad.encode(), journal)) == {
        "ok": True,
        "result": [message(9), {"update_id": 10}],
    }


async def test_the_polling_loop_confirms_an_unparseable_update_and_goes_on(
    botapi: FakeBotAPI, tmp_path: Path
) -> None:
    """python-telegram-bot's own Updater with our request: the bad update, last of its
    batch, is delivered once, and the message after it arrives."""
    control = botapi.control
    bad = control.inject_raw_update(BAD_POLL)
    journal = UpdateJournal(tmp_path / "j.sqlite3")
    liveness = Liveness(journal)
    queue = JournalingQueue(journal, liveness)
    bot = Bot(botapi.token, base_url=botapi.base_url, get_updates_request=polling_request(journal))
    async with bot:
        updater = Updater(bot, queue)
        async with updater:
            await updater.start_polling(timeout=1, poll_interval=0)
            bare = await asyncio.wait_for(queue.get(), 10)
            control.send_message(USER, USER, "after the bad one")
            after = await asyncio.wait_for(queue.get(), 10)
            await updater.stop()
    assert isinstance(bare, Update) and bare.update_id == bad["update_id"]
    assert isinstance(after, Update) and after.message is not None
    assert after.message.text == "after the bad one"
    (delivery,) = [u for u in control.updates() if u["update_id"] == bad["update_id"]]
    assert delivery["deliveries"] == 1 and delivery["acknowledged"]
    assert journal.is_done(bad["update_id"])
