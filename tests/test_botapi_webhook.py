"""The fake Bot API's webhooks: setWebhook checked like Telegram, getUpdates refused while one
is set, and updates POSTed to a real local HTTP receiver with the secret, retried until a
2xx answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.botapi import FakeBotAPI
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.webhook import MAX_ATTEMPTS, SECRET_HEADER, WEBHOOK_CONFLICT

botapi_factory = botapi_fixtures.botapi_factory
USER = 5151


class Receiver:
    """A webhook endpoint: records each request; answers with the statuses queued in
    `answers` (200 once they run out)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "secret": self.headers.get(SECRET_HEADER),
                            "content_type": self.headers.get("Content-Type"),
                            "update": json.loads(body),
                        }
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= count, 10), self.requests
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.httpd.shutdown()
    found.httpd.server_close()


@pytest.fixture
def api(botapi_factory: botapi_fixtures.BotAPIFactory) -> FakeBotAPI:
    return botapi_factory(allow_http_webhook=True)


def bot_call(api: FakeBotAPI, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = httpx.post(f"{api.base_url}{api.token}/{method}", json=params, timeout=10)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://bot.example.org/hook", "An HTTPS URL must be provided"),
        ("https://bot.example.org:9000/hook", "only on ports 80, 88, 443 or 8443"),
        ("https://127.0.0.1/hook", "IP address 127.0.0.1 is reserved"),
        ("https://10.1.2.3:8443/hook", "IP address 10.1.2.3 is reserved"),
        ("http://127.0.0.1:8080/hook", "An HTTPS URL must be provided"),
    ],
)
def test_set_webhook_is_as_strict_as_telegram(
    botapi_factory: botapi_fixtures.BotAPIFactory, url: str, description: str
) -> None:
    strict = botapi_factory()  # without the test switch, as Telegram
    status, answer = bot_call(strict, "setWebhook", url=url)
    assert status == 400
    assert description in answer["description"]
    assert strict.control.webhook() is None


def test_the_test_switch_allows_http_on_this_machine_only(api: FakeBotAPI) -> None:
    status, answer = bot_call(api, "setWebhook", url="http://10.0.0.5:8080/hook")
    assert status == 400
    assert "HTTPS" in answer["description"]
    assert bot_call(api, "setWebhook", url="http://127.0.0.1:8080/hook")[0] == 200


@pytest.mark.parametrize("secret", ["", "has space", "x" * 257, "semi;colon"])
def test_a_secret_token_outside_telegrams_rule_is_refused(api: FakeBotAPI, secret: str) -> None:
    status, answer = bot_call(
        api, "setWebhook", url="https://bot.example.org/", secret_token=secret
    )
    if secret == "":  # empty is "no secret", as Telegram reads it
        assert status == 200
        return
    assert status == 400
    assert answer["description"] == "Bad Request: secret token contains unallowed characters"


def test_get_updates_conflicts_while_a_webhook_is_set(api: FakeBotAPI) -> None:
    assert bot_call(api, "setWebhook", url="https://bot.example.org/hook")[0] == 200
    status, answer = bot_call(api, "getUpdates", timeout=0)
    assert (status, answer["description"]) == (409, WEBHOOK_CONFLICT)

    assert bot_call(api, "deleteWebhook")[0] == 200
    assert bot_call(api, "getUpdates", timeout=0) == (200, {"ok": True, "result": []})


def test_get_webhook_info_reports_what_was_set(api: FakeBotAPI) -> None:
    bot_call(
        api, "setWebhook", url="https://bot.example.org/hook", secret_token="abc",
        allowed_updates=["message", "callback_query"], max_connections=500,
    )  # fmt: skip
    status, answer = bot_call(api, "getWebhookInfo")
    assert status == 200
    assert answer["result"] == {
        "url": "https://bot.example.org/hook",
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 100,  # clamped, as Telegram does
        "allowed_updates": ["message", "callback_query"],
    }
    assert "abc" not in json.dumps(answer)  # Telegram never tells the secret back


def test_updates_are_posted_with_the_secret_and_filtered_by_allowed_updates(
    api: FakeBotAPI, receiver: Receiver
) -> None:
    bot_call(
        api, "setWebhook", url=receiver.url, secret_token="s3cret",
        allowed_updates=["message"], drop_pending_updates=False,
    )  # fmt: skip
    api.control.inline_query(USER, "filtered out")  # not an allowed type
    sent = api.control.send_message(USER, USER, "hello")

    (request,) = receiver.wait_for(1)
    assert request["path"] == "/hook"
    assert request["secret"] == "s3cret"
    assert request["content_type"] == "application/json"
    assert request["update"]["message"]["text"] == "hello"
    assert request["update"]["message"]["message_id"] == sent["message_id"]
    api.control.wait_until_acknowledged()
    [info] = [u for u in api.control.updates() if u["type"] == "message"]
    assert info["deliveries"] == 1 and info["acknowledged"]


def test_a_failed_delivery_is_retried_and_holds_back_the_next(
    api: FakeBotAPI, receiver: Receiver
) -> None:
    receiver.answers = [500, 403]
    bot_call(api, "setWebhook", url=receiver.url, secret_token="s3cret")
    first = api.control.send_message(USER, USER, "first")
    api.control.send_message(USER, USER, "second")

    requests = receiver.wait_for(4)
    texts = [r["update"]["message"]["text"] for r in requests]
    assert texts == ["first", "first", "first", "second"]
    api.control.wait_until_acknowledged()
    (delivery, *_) = api.control.webhook_deliveries()
    assert delivery["status"] == 500
    _, info = bot_call(api, "getWebhookInfo")
    assert info["result"]["last_error_message"] == "Wrong response from the webhook: 403 Forbidden"
    assert [d["status"] for d in api.control.webhook_deliveries()] == [500, 403, 200, 200]
    assert first["message_id"] == requests[0]["update"]["message"]["message_id"]


def test_an_update_never_answered_2xx_is_given_up_after_max_attempts(
    api: FakeBotAPI, receiver: Receiver
) -> None:
    receiver.answers = [400] * MAX_ATTEMPTS
    bot_call(api, "setWebhook", url=receiver.url)
    api.control.send_message(USER, USER, "doomed")
    api.control.send_message(USER, USER, "next")

    requests = receiver.wait_for(MAX_ATTEMPTS + 1)
    assert [r["update"]["message"]["text"] for r in requests].count("doomed") == MAX_ATTEMPTS
    assert requests[-1]["update"]["message"]["text"] == "next"
    assert requests[-1]["secret"] is None  # no secret set: no header


def test_redeliver_and_forge(api: FakeBotAPI, receiver: Receiver) -> None:
    bot_call(api, "setWebhook", url=receiver.url, secret_token="s3cret")
    api.control.send_message(USER, USER, "once")
    (first,) = receiver.wait_for(1)
    update_id = first["update"]["update_id"]

    api.control.redeliver_update(update_id)
    second = receiver.wait_for(2)[1]
    assert second["update"] == first["update"]
    assert len(api.control.wait_for_webhook_deliveries(update_id, 2)) == 2

    forged = {"update_id": 10**9, "message": first["update"]["message"]}
    answer = api.client.forge_webhook_request(forged, secret="wrong")
    assert answer["status"] == 200  # this receiver does not check; the bot must
    third = receiver.wait_for(3)[2]
    assert (third["secret"], third["update"]["update_id"]) == ("wrong", 10**9)
    api.client.forge_webhook_request(forged)
    assert receiver.wait_for(4)[3]["secret"] is None
