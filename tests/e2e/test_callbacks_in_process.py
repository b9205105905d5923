"""Button presses Telegram can send but the test server's users cannot make: an answer whose
question is gone, and callback data the bot never made.  The real Application (built by
`bot.app.build_application`, talking HTTP to the fake server) processes hand-edited
updates in-process; no polling."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.app import BotApplication, build_application
from bot.config import Settings
from bot.telegram.wording import EXPIRED, NO_MORE
from retrieval.search import SearchEngine
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import SEEDS, SEVERAL_ANSWERS, buttons

USER = 9_000_001


@pytest.fixture
async def application(server: FakeBotAPI, tmp_path: Path) -> AsyncIterator[BotApplication]:
    settings = Settings(token=server.token, base_url=server.base_url, data_dir=tmp_path)
    app = build_application(settings, SearchEngine.from_path(SEEDS))
    await app.initialize()
    yield app
    await app.shutdown()


async def answered_question(app: BotApplication, control: Control) -> dict[str, Any]:
    """Ask a question by feeding the user's message to the application; return the answer."""
    question = control.send_message(USER, USER, SEVERAL_ANSWERS)
    await app.process_update(Update.de_json({"update_id": 1, "message": question}, app.bot))
    (answer,) = control.wait_for_messages(USER, 1, 5.0, question["message_id"])
    return answer


async def press(
    app: BotApplication, control: Control, query: dict[str, Any], update_id: int = 2
) -> dict[str, Any]:
    update = Update.de_json({"update_id": update_id, "callback_query": query}, app.bot)
    await app.process_update(update)
    return control.wait_for_callback_answer(query["id"], 5.0)


async def test_a_press_whose_question_is_gone_says_expired(
    application: BotApplication, control: Control
) -> None:
    answer = await answered_question(application, control)
    (button,) = buttons(answer)
    query = copy.deepcopy(
        control.press_button(USER, USER, answer["message_id"], button["callback_data"])
    )
    del query["message"]["reply_to_message"]  # as when the user deleted their question

    assert (await press(application, control, query))["text"] == EXPIRED
    assert control.edits(USER) == []


@pytest.mark.parametrize("data", ["more:9", "less:2", "more:2;DROP TABLE", ""])
async def test_callback_data_we_never_made_is_refused_politely(
    application: BotApplication, control: Control, data: str
) -> None:
    answer = await answered_question(application, control)
    (button,) = buttons(answer)
    query = copy.deepcopy(
        control.press_button(USER, USER, answer["message_id"], button["callback_data"])
    )
    query["data"] = data

    assert (await press(application, control, query))["text"] == EXPIRED
    assert control.edits(USER) == []


async def test_two_presses_on_an_answer_whose_report_is_gone_are_each_answered_once(
    application: BotApplication, control: Control
) -> None:
    """Two quick presses of one button after its report went away: the first removes the
    button, the second finds it gone already ("message is not modified").  Each press
    gets one answer, the note that there are no more; none gets a second one."""
    answer = await answered_question(application, control)
    (button,) = buttons(answer)
    first = control.press_button(USER, USER, answer["message_id"], button["callback_data"])
    second = control.press_button(USER, USER, answer["message_id"], button["callback_data"])
    application.bot_data.engine = SearchEngine.build([])  # a rescan found the report deleted

    for update_id, query in enumerate((first, second), start=2):
        assert (await press(application, control, query, update_id))["text"] == NO_MORE
    markup_edits = control.calls("editMessageReplyMarkup")
    assert [c["status"] for c in markup_edits] == [200, 400]
    for query in (first, second):
        answers = [
            c
            for c in control.calls("answerCallbackQuery")
            if c["params"].get("callback_query_id") == query["id"]
        ]
        assert [c["status"] for c in answers] == [200]
    assert "reply_markup" not in control.message(USER, answer["message_id"])
    assert control.edits(USER) == []
