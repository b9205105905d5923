"""editMessageReplyMarkup on the fake Telegram Bot API: strict the way Telegram is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.botapi import FakeBotAPI
from tests.botapi import fixtures as botapi_fixtures

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory

USER = 4343
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def keyboard(data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": "More", "callback_data": data}]]}


@pytest.fixture
def call(botapi: FakeBotAPI) -> Iterator[Any]:
    http = httpx.Client(timeout=10)

    def post(method: str, **params: Any) -> dict[str, Any]:
        payload: dict[str, Any] = http.post(
            f"{botapi.base_url}{botapi.token}/{method}", json=params
        ).json()
        return payload

    yield post
    http.close()


def test_the_keyboard_is_replaced_or_removed(botapi: FakeBotAPI, call: Any) -> None:
    question = botapi.control.send_message(USER, USER, "q")
    sent = call(
        "sendMessage",
        chat_id=USER,
        text="an answer",
        reply_to_message_id=question["message_id"],
        reply_markup=keyboard("more:2"),
    )["result"]
    key = {"chat_id": USER, "message_id": sent["message_id"]}

    replaced = call("editMessageReplyMarkup", **key, reply_markup=keyboard("more:3"))
    assert replaced["ok"] and replaced["result"]["reply_markup"] == keyboard("more:3")
    assert replaced["result"]["text"] == "an answer"
    assert replaced["result"]["reply_to_message"] == question

    removed = call("editMessageReplyMarkup", **key)
    assert removed["ok"] and "reply_markup" not in removed["result"]
    assert botapi.control.message(USER, sent["message_id"]) == removed["result"]
    # A text edit is not what happened: the message's text edits stay empty.
    assert botapi.control.edits(USER) == []


def test_refusals_are_telegrams(botapi: FakeBotAPI, call: Any) -> None:
    question = botapi.control.send_message(USER, USER, "q")
    sent = call("sendMessage", chat_id=USER, text="x", reply_markup=keyboard("a"))["result"]
    key = {"chat_id": USER, "message_id": sent["message_id"]}

    def refused(**params: Any) -> str:
        payload = call("editMessageReplyMarkup", **params)
        assert payload["ok"] is False and payload["error_code"] == 400, payload
        description: str = payload["description"]
        return description

    assert refused(**key, reply_markup=keyboard("a")) == NOT_MODIFIED
    assert refused(chat_id=USER, message_id=99) == "Bad Request: message to edit not found"
    assert (
        refused(chat_id=USER, message_id=question["message_id"])
        == "Bad Request: message can't be edited"
    )
    assert refused(**key, reply_markup={"keyboard": [[{"text": "x"}]]}) == (
        "Bad Request: inline keyboard expected"
    )
    assert call("editMessageReplyMarkup", **key)["ok"]  # removed
    assert refused(**key) == NOT_MODIFIED  # nothing left to remove
    assert refused(chat_id=-1, message_id=1) == "Bad Request: chat not found"
