"""Webhook mode's pure parts: what getWebhookInfo means for health, liveness without
getUpdates, the secret kept out of the log, and run_webhook's arguments.  (The webhook
server itself is tested end to end: tests/e2e/test_webhook.py.)"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from telegram import WebhookInfo

from bot.app import ALLOWED_UPDATES
from bot.reliability.liveness import Liveness
from bot.reliability.webhook import HideSecret, webhook_kwargs, webhook_path, webhook_problem

URL = "https://bot.example.org/telegram"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMIT = 60.0


def info(url: str = URL, pending: int = 0, error_ago: float | None = None) -> WebhookInfo:
    error_at = None if error_ago is None else NOW - timedelta(seconds=error_ago)
    return WebhookInfo(
        url=url,
        has_custom_certificate=False,
        pending_update_count=pending,
        last_error_date=error_at,
        last_error_message=None if error_at is None else "Connection refused",
    )


def test_our_webhook_without_recent_errors_is_fine() -> None:
    assert webhook_problem(info(), URL, NOW, LIMIT) is None
    assert webhook_problem(info(pending=3), URL, NOW, LIMIT) is None  # busy, not failing
    # Telegram keeps the last error after delivery works again: an old one is history.
    assert webhook_problem(info(pending=3, error_ago=LIMIT + 1), URL, NOW, LIMIT) is None
    # An error with nothing waiting: the update it failed on was delivered since.
    assert webhook_problem(info(pending=0, error_ago=5), URL, NOW, LIMIT) is None


def test_a_recent_delivery_error_with_updates_waiting_is_a_problem() -> None:
    problem = webhook_problem(info(pending=4, error_ago=5), URL, NOW, LIMIT)
    assert problem == (
        "Telegram cannot deliver to WEBHOOK_URL: Connection refused 5s ago, 4 updates waiting"
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "not set"),
        ("https://other.example.org/hook", "set to 'https://other.example.org/hook'"),
    ],
)
def test_a_webhook_that_is_not_ours_is_a_problem(url: str, said: str) -> None:
    problem = webhook_problem(info(url=url), URL, NOW, LIMIT)
    assert problem is not None
    assert said in problem and "updates do not come here" in problem


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_in_webhook_mode_deliveries_and_checks_stand_for_polls() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock, webhook=True)
    clock.now += LIMIT - 1
    liveness.delivery_checked("Telegram's webhook is not set")
    assert liveness.problems(LIMIT) == []  # still within the limit since the last success
    clock.now += 2
    [problem] = liveness.problems(LIMIT)
    assert problem.startswith("webhook delivery has not worked for 61s")
    assert "(last error: Telegram's webhook is not set)" in problem

    liveness.delivered()  # an update came in: delivery works
    assert liveness.problems(LIMIT) == []
    clock.now += LIMIT + 1
    assert liveness.problems(LIMIT) != []
    liveness.delivery_checked(None)  # getWebhookInfo: all is well
    assert liveness.problems(LIMIT) == []


def test_polling_mode_still_speaks_of_get_updates() -> None:
    clock = Clock()
    liveness = Liveness(clock=clock)
    clock.now += LIMIT + 1
    [problem] = liveness.problems(LIMIT)
    assert problem.startswith("getUpdates has not succeeded")


def test_the_secret_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(HideSecret("s3cr3t-token"))
    logging.getLogger("telegram.ext.ExtBot").warning(
        "Calling `setWebhook` with %s", {"secret_token": "s3cr3t-token"}
    )
    assert "s3cr3t-token" not in caplog.text
    assert "'secret_token': '[WEBHOOK_SECRET]'" in caplog.text


def test_run_webhook_arguments() -> None:
    kwargs = webhook_kwargs("0.0.0.0", 8080, URL, "secret", ALLOWED_UPDATES)
    assert kwargs == {
        "listen": "0.0.0.0",
        "port": 8080,
        "url_path": "/telegram",
        "webhook_url": URL,
        "secret_token": "secret",
        "allowed_updates": list(ALLOWED_UPDATES),
        "drop_pending_updates": False,
    }
    assert webhook_path("https://bot.example.org") == "/"
    assert webhook_path("https://bot.example.org/a/b?x=1") == "/a/b"
