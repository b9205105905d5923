"""Retries and waiting for the Bot API, over real HTTP against the fake Bot API server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal

import pytest
from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError

from bot.reliability.delivery import (
    RetryingRequest,
    as_json_error,
    connect,
    retry_delays,
    took_effect_before,
    wait_for_bot_api,
)
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.server import FakeBotAPI, find_free_port

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory

USER = 4242


def test_retry_delays_double_up_to_a_cap() -> None:
    assert retry_delays(0) == ()
    assert retry_delays(5) == (0.5, 1.0, 2.0, 4.0, 8.0)
    assert retry_delays(9)[-3:] == (30.0, 30.0, 30.0)
    assert retry_delays(3, first=0.01) == (0.01, 0.02, 0.04)


@pytest.mark.parametrize(
    ("method", "status", "description", "done"),
    [
        ("editMessageText", 400, "Bad Request: message is not modified: same", True),
        ("answerCallbackQuery", 400, "Bad Request: query is too old and ...", True),
        ("answerInlineQuery", 400, "Bad Request: QUERY_ID_INVALID query id is invalid", True),
        ("sendMessage", 400, "Bad Request: message is not modified", False),
        ("editMessageText", 400, "Bad Request: message to edit not found", False),
        ("editMessageText", 500, "message is not modified", False),
    ],
)
def test_took_effect_before(method: str, status: int, description: str, done: bool) -> None:
    payload = f'{{"ok": false, "description": "{description}"}}'.encode()
    assert took_effect_before(method, status, payload) is done
    assert not took_effect_before(method, status, b"<html>502</html>")


def test_an_error_page_that_is_not_json_becomes_a_json_error() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head></html>"
    assert json.loads(as_json_error(502, page)) == {
        "ok": False,
        "error_code": 502,
        "description": "Bad Gateway (not JSON)",
    }
    assert json.loads(as_json_error(599, b""))["description"] == "HTTP error (not JSON)"
    ok = b'{"ok": true, "result": []}'
    assert as_json_error(200, b"<html>") == b"<html>"
    assert as_json_error(500, ok) == ok


async def test_a_502_page_is_one_warning_not_a_traceback(
    botapi: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    botapi.control.send_message(USER, USER, "hello")
    botapi.control.inject("sendMessage", "bad_gateway", count=2)
    async with _bot(botapi, retries=1) as bot:
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "the answer")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def _bot(server: FakeBotAPI, retries: int) -> Bot:
    request = RetryingRequest(retries, first_delay=0.01)
    return Bot(server.token, base_url=server.base_url, request=request)


async def test_server_errors_and_lost_connections_are_retried(botapi: FakeBotAPI) -> None:
    control = botapi.control
    control.send_message(USER, USER, "hello")  # the chat must exist
    control.inject("sendMessage", "server_error")
    control.inject("sendMessage", "bad_gateway")
    control.inject("sendMessage", "timeout", seconds=0.1)
    async with _bot(botapi, retries=3) as bot:
        await bot.send_message(USER, "the answer")

    assert [m["text"] for m in control.sent_messages(USER)] == ["the answer"]
    calls = [(c["status"], c["fault"]) for c in control.calls("sendMessage")]
    assert calls == [(500, "server_error"), (502, "bad_gateway"), (None, "timeout"), (200, None)]


async def test_typing_is_not_retried(botapi: FakeBotAPI) -> None:
    botapi.control.send_message(USER, USER, "hello")
    botapi.control.inject("sendChatAction", "server_error")
    async with _bot(botapi, retries=3) as bot:
        with pytest.raises(NetworkError):
            await bot.send_chat_action(USER, "typing")
    assert len(botapi.control.calls("sendChatAction")) == 1


async def test_when_retries_run_out_the_error_is_raised(botapi: FakeBotAPI) -> None:
    botapi.control.send_message(USER, USER, "hello")
    botapi.control.inject("sendMessage", "server_error", count=2)
    async with _bot(botapi, retries=1) as bot:
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER, "the answer")
    assert botapi.control.sent_messages(USER) == []
    assert len(botapi.control.calls("sendMessage")) == 2


async def test_refusals_are_not_retried(botapi: FakeBotAPI) -> None:
    botapi.control.send_message(USER, USER, "hello")
    async with _bot(botapi, retries=3) as bot:
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(USER, " ")
    assert len(botapi.control.calls("sendMessage")) == 1


async def test_an_edit_whose_answer_was_lost_counts_as_done(botapi: FakeBotAPI) -> None:
    control = botapi.control
    control.send_message(USER, USER, "hello")
    async with _bot(botapi, retries=2) as bot:
        sent = await bot.send_message(USER, "first")
        control.inject("editMessageText", "timeout", seconds=0.1, process=True)
        assert await bot.edit_message_text("second", USER, sent.message_id) is True

    assert [m["text"] for m in control.sent_messages(USER)] == ["second"]
    statuses = [c["status"] for c in control.calls("editMessageText")]
    assert statuses == [None, 400]  # the retry was refused as "not modified": it took effect


async def test_sending_after_a_lost_answer_is_at_least_once(botapi: FakeBotAPI) -> None:
    """The documented trade-off: Telegram cannot tell us whether the first one arrived."""
    control = botapi.control
    control.send_message(USER, USER, "hello")
    control.inject("sendMessage", "timeout", seconds=0.1, process=True)
    async with _bot(botapi, retries=2) as bot:
        await bot.send_message(USER, "the answer")
    assert [m["text"] for m in control.sent_messages(USER)] == ["the answer", "the answer"]


# -- start-up ----------------------------------------------------------------------------------


async def test_waits_for_an_unreachable_bot_api_then_connects(
    botapi_factory: botapi_fixtures.BotAPIFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = botapi_factory(port=find_free_port(), start=False)
    attempts = 0

    async def get_me() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 3:
            server.start()
        async with Bot(server.token, base_url=server.base_url):
            pass

    with caplog.at_level(logging.INFO, logger="bot.reliability.delivery"):
        await wait_for_bot_api(get_me, server.base_url, delays=(0.01,))

    assert attempts == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all(f"cannot reach the Bot API at {server.base_url}" in w for w in warnings)
    assert "reached the Bot API" in caplog.records[-1].getMessage()
    assert len(server.control.calls("getMe")) == 1


async def test_a_rejected_token_is_not_waited_for(botapi: FakeBotAPI) -> None:
    async def get_me() -> None:
        async with Bot("1:wrong", base_url=botapi.base_url):
            pass

    with pytest.raises(InvalidToken):
        await wait_for_bot_api(get_me, botapi.base_url, delays=(0.01,))
    assert len(botapi.control.calls("getMe")) == 1


def test_a_stop_signal_ends_the_wait() -> None:
    base_url = f"http://127.0.0.1:{find_free_port()}/bot"

    async def get_me() -> None:
        async with Bot("1:x", base_url=base_url):
            pass

    loop = asyncio.new_event_loop()
    try:
        loop.call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)
        assert connect(loop, wait_for_bot_api(get_me, base_url, delays=(0.05,))) is False
    finally:
        loop.close()
