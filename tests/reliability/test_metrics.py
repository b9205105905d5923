"""The metrics: what each call moves, the levels read at scrape time, and the Telegram
calls counted by RetryingRequest over real HTTP against the fake Bot API server."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from telegram import Bot, Update
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.reliability.delivery import RetryingRequest
from bot.reliability.metrics import Metrics, feed_outcome, update_type
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.server import FakeBotAPI

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory

USER = 4343
_CHAT = {"id": 1, "type": "private"}
_USER = {"id": 1, "is_bot": False, "first_name": "A"}
_MESSAGE = {"message_id": 1, "date": 0, "chat": _CHAT, "text": "hi"}


def _update(**fields: object) -> Update:
    return Update.de_json({"update_id": 1, **fields}, None)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"message": _MESSAGE}, "message"),
        ({"edited_message": _MESSAGE}, "edited_message"),
        ({"channel_post": {**_MESSAGE, "chat": {"id": -100, "type": "channel"}}}, "channel_post"),
        (
            {"callback_query": {"id": "q", "from": _USER, "chat_instance": "c", "data": "more:2"}},
            "callback_query",
        ),
        ({"inline_query": {"id": "i", "from": _USER, "query": "x", "offset": ""}}, "inline_query"),
        ({}, "unknown"),
    ],
)
def test_update_type_is_the_bot_api_field(fields: dict[str, object], kind: str) -> None:
    assert update_type(_update(**fields)) == kind


def test_something_that_is_not_an_update_is_unknown() -> None:
    assert update_type("not an update") == "unknown"


@pytest.mark.parametrize(
    ("status", "new", "changed", "outcome"),
    [
        ("updated", 2, 0, "new_entries"),
        ("updated", 0, 1, "new_entries"),
        ("updated", 0, 0, "no_new_entries"),
        ("not-modified", 0, 0, "not_modified"),
        ("failed", 0, 0, "failed"),
    ],
)
def test_feed_outcome(status: str, new: int, changed: int, outcome: str) -> None:
    assert feed_outcome(status, new, changed) == outcome


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # a second one must not clash with the first
    first.received(_update(message=_MESSAGE))
    first.pushed(3)
    first.pushed(0)
    assert value(first, "reports_bot_updates_received_total", type="message") == 1
    assert value(second, "reports_bot_updates_received_total", type="message") is None
    assert value(first, "reports_bot_pushes_sent_total") == 3
    assert value(second, "reports_bot_pushes_sent_total") == 0


def test_answers_and_their_latency() -> None:
    metrics = Metrics()
    metrics.answered("chat", True, 0.003)
    metrics.answered("chat", False, 0.2)
    metrics.answered("inline", True, 7.0)
    assert value(metrics, "reports_bot_answers_total", outcome="found", surface="chat") == 1
    assert value(metrics, "reports_bot_answers_total", outcome="not_found", surface="chat") == 1
    assert value(metrics, "reports_bot_answers_total", outcome="found", surface="inline") == 1
    assert value(metrics, "reports_bot_answers_total", outcome="found", surface="more") == 0
    histogram = "reports_bot_question_duration_seconds"
    assert value(metrics, f"{histogram}_count") == 3
    assert value(metrics, f"{histogram}_bucket", le="0.001") == 0
    assert value(metrics, f"{histogram}_bucket", le="0.005") == 1
    assert value(metrics, f"{histogram}_bucket", le="0.25") == 2
    assert value(metrics, f"{histogram}_bucket", le="5.0") == 2
    assert value(metrics, f"{histogram}_bucket", le="+Inf") == 3


def test_errors_reaching_the_error_handler_by_update_type() -> None:
    metrics = Metrics()
    metrics.handler_failed(None)
    metrics.handler_failed(_update(message=_MESSAGE))
    assert value(metrics, "reports_bot_handler_errors_total", type="none") == 1
    assert value(metrics, "reports_bot_handler_errors_total", type="message") == 1


def test_levels_are_read_when_scraped() -> None:
    now = [100.0]
    metrics = Metrics(clock=lambda: now[0])
    assert value(metrics, "reports_bot_index_reports") is None  # nothing wired: no sample
    queue = [1, 2, 3]
    metrics.sources.update_queue = lambda: len(queue)
    metrics.sources.pending = lambda: 5
    ready = [False]
    metrics.sources.engine = lambda: (12, 340, 40.0, ready[0])
    assert value(metrics, "reports_bot_update_queue_depth") == 3
    assert value(metrics, "reports_bot_updates_pending") == 5
    assert value(metrics, "reports_bot_index_reports") == 12
    assert value(metrics, "reports_bot_index_passages") == 340
    assert value(metrics, "reports_bot_index_age_seconds") == 60.0
    assert value(metrics, "reports_bot_index_semantic_ready") == 0
    ready[0] = True
    assert value(metrics, "reports_bot_index_semantic_ready") == 1
    queue.pop()
    now[0] = 130.0
    assert value(metrics, "reports_bot_update_queue_depth") == 2
    assert value(metrics, "reports_bot_index_age_seconds") == 90.0


def test_the_exposition_follows_prometheus_naming() -> None:
    metrics = Metrics()
    metrics.sources.engine = lambda: (1, 1, 0.0, False)
    families = list(text_string_to_metric_families(generate_latest(metrics.registry).decode()))
    names = {family.name: family.type for family in families}
    assert all(name.startswith("reports_bot_") for name in names)
    for family in families:
        assert family.documentation, family.name
        if family.type == "counter":  # the parser strips _total from a counter's name
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
    assert names["reports_bot_question_duration_seconds"] == "histogram"
    assert names["reports_bot_index_age_seconds"] == "gauge"


def _bot(server: FakeBotAPI, retries: int, metrics: Metrics) -> Bot:
    request = RetryingRequest(retries, first_delay=0.01, metrics=metrics)
    return Bot(server.token, base_url=server.base_url, request=request)


async def test_retries_are_counted_and_a_call_that_got_through_is_no_error(
    botapi: FakeBotAPI,
) -> None:
    control = botapi.control
    control.send_message(USER, USER, "hello")
    control.inject("sendMessage", "server_error")
    control.inject("sendMessage", "timeout", seconds=0.1)
    metrics = Metrics()
    async with _bot(botapi, 3, metrics) as bot:
        await bot.send_message(USER, "the answer")
    assert value(metrics, "reports_bot_telegram_api_retries_total", method="sendMessage") == 2
    errors = [
        sample
        for family in metrics.registry.collect()
        if family.name == "reports_bot_telegram_api_errors"
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
    assert errors == []


async def test_calls_that_fail_are_counted_by_method_and_code(botapi: FakeBotAPI) -> None:
    control = botapi.control
    control.send_message(USER, USER, "hello")
    metrics = Metrics()
    async with _bot(botapi, 1, metrics) as bot:
        with pytest.raises(BadRequest):
            await bot.send_message(USER, " ")  # refused: not retried
        control.inject("sendMessage", "server_error", count=2)
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "x")
        control.inject("sendChatAction", "timeout", seconds=0.1)  # then the server hangs up
        with pytest.raises(NetworkError):
            await bot.send_chat_action(USER, "typing")
        control.inject("sendChatAction", "timeout", seconds=2.0)
        with pytest.raises(TimedOut):
            await bot.send_chat_action(USER, "typing", read_timeout=0.1)
    errors = "reports_bot_telegram_api_errors_total"
    assert value(metrics, errors, method="sendMessage", code="400") == 1
    assert value(metrics, errors, method="sendMessage", code="500") == 1
    assert value(metrics, errors, method="sendChatAction", code="network") == 1
    assert value(metrics, errors, method="sendChatAction", code="timeout") == 1
    assert value(metrics, "reports_bot_telegram_api_retries_total", method="sendMessage") == 1
    assert value(metrics, "reports_bot_telegram_api_retries_total", method="sendChatAction") is None
