"""Webhook mode end to end: the real `python -m bot` with WEBHOOK_URL, and the fake Bot API
delivering updates to it by HTTP POST the way Telegram does (http on 127.0.0.1 through the
fake's test switch).

Counts, not clocks: whether an update was answered is judged by what a later question in
the same chat gets (each chat's updates are handled in order), never by waiting a while.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import ALLOWED_UPDATES
from bot.reliability.journal import ABANDONED, JOURNAL_NAME
from tests.botapi.control import Control
from tests.botapi.params import Params
from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI, find_free_port
from tests.e2e.harness import (
    SEEDS,
    TIMEOUT,
    BotProcess,
    ask,
    bot_env,
    health,
    quote_of,
    run_bot_to_exit,
    wait_until,
)

SECRET = "e2e-Webhook_secret-0123456789"
QUESTION = "How many refugees have entered camps in Turkey?"
ANSWER = "Over 40,000 refugees"
BAD_POLL: dict[str, Any] = {"poll": {"id": "5100000000000000002", "question": "Which way?"}}
HEALTH_LIMIT = 4.0


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(DEFAULT_TOKEN, allow_http_webhook=True).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webhook-bot")


@pytest.fixture(scope="module")
def webhook_url() -> str:
    return f"http://127.0.0.1:{find_free_port()}/telegram/updates"


def webhook_env(server: FakeBotAPI, data_dir: Path, url: str, **more: str) -> dict[str, str]:
    port = url.split(":")[2].split("/")[0]
    return bot_env(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_BASE_URL=server.base_url,
        REPORTS_DIR=SEEDS,
        DATA_DIR=data_dir,
        LOG_LEVEL="DEBUG",
        WEBHOOK_URL=url,
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=port,
        WEBHOOK_SECRET=SECRET,
        HEARTBEAT_INTERVAL_SECONDS="0.5",
        HEALTH_MAX_AGE_SECONDS=str(HEALTH_LIMIT),
        **more,
    )


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, data_dir: Path, webhook_url: str) -> Iterator[BotProcess]:
    process = BotProcess(webhook_env(server, data_dir, webhook_url), data_dir / "bot.log")
    process.start()
    try:
        server.control.wait_for_webhook(TIMEOUT)
    except TimeoutError:
        process.stop(signal.SIGKILL)
        raise AssertionError(f"the bot set no webhook; log:\n{process.log}") from None
    yield process
    status = process.stop()
    assert status == 0, f"the bot exited with {status} on SIGTERM; log:\n{process.log}"


def last_update_id(control: Control) -> int:
    return int(control.updates()[-1]["update_id"])


def test_set_webhook_was_called_with_the_secret_the_allowed_updates_and_keeping_pending(
    control: Control, bot: BotProcess, webhook_url: str
) -> None:
    [call] = [c for c in control.calls("setWebhook") if c["ok"]]
    params = Params(call["params"])
    assert params.get_str("url") == webhook_url
    assert params.get_str("secret_token") == SECRET
    assert params.get_json("allowed_updates") == list(ALLOWED_UPDATES)
    assert params.get_bool("drop_pending_updates", default=True) is False
    # Webhook mode never polls (Telegram would refuse it with 409) nor deletes the webhook.
    assert control.calls("getUpdates") == []
    assert control.calls("deleteWebhook") == []
    assert SECRET not in bot.log  # not even at LOG_LEVEL=DEBUG


def test_a_question_delivered_by_webhook_is_answered(control: Control, bot: BotProcess) -> None:
    _, reply = ask(control, 9_800_001, QUESTION)

    assert (quote_of(reply) or "").startswith(ANSWER)
    update_id = last_update_id(control)
    control.wait_until_acknowledged(TIMEOUT)
    [delivery] = control.webhook_deliveries(update_id)
    assert delivery["status"] == 200


@pytest.mark.parametrize("secret", ["wrong-secret", None, SECRET + "x", SECRET[:-1]])
def test_a_request_without_the_secret_or_with_a_wrong_one_gets_403_and_no_answer(
    control: Control, bot: BotProcess, user_id: int, secret: str | None
) -> None:
    question, first = ask(control, user_id, QUESTION)
    forged = {"update_id": 900_000_000 + user_id, "message": question}

    answer = control.forge_webhook_request(forged, secret=secret)

    assert answer["status"] == 403, answer
    # Had it been taken, it would be answered before this next question of the same chat.
    _, second = ask(control, user_id, "What did Faiz Amr say about the border crossings?")
    assert [m["message_id"] for m in control.sent_messages(user_id)] == [
        first["message_id"],
        second["message_id"],
    ]


def test_the_right_secret_is_what_lets_a_request_in(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    """The forged requests above fail for their secret alone: the same one with it is taken."""
    question, _ = ask(control, user_id, QUESTION)
    forged = {"update_id": 900_000_000 + user_id, "message": question}

    assert control.forge_webhook_request(forged, secret=SECRET)["status"] == 200
    control.wait_for_messages(user_id, 2, TIMEOUT)


def test_a_duplicated_and_a_redelivered_update_are_answered_once(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    question = control.send_message(user_id, user_id, QUESTION)
    update_id = last_update_id(control)
    control.redeliver_update(update_id)  # again at once: while the first may be handled
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, question["message_id"])
    control.wait_for_webhook_deliveries(update_id, 2, TIMEOUT)
    control.redeliver_update(update_id)  # and again once it was answered
    deliveries = control.wait_for_webhook_deliveries(update_id, 3, TIMEOUT)

    assert [d["status"] for d in deliveries] == [200, 200, 200]
    _, later = ask(control, user_id, "What did Faiz Amr say about the border crossings?")
    sent = [m["message_id"] for m in control.sent_messages(user_id)]
    assert sent == [reply["message_id"], later["message_id"]]
    assert bot.log.count(f"update {update_id} was handled already") == 2


def journal_state(data_dir: Path, update_id: int) -> str | None:
    with sqlite3.connect(data_dir / JOURNAL_NAME) as db:
        row = db.execute("SELECT state FROM updates WHERE update_id = ?", (update_id,)).fetchone()
    return None if row is None else str(row[0])


def test_an_update_it_cannot_parse_is_confirmed_once_given_up_and_the_next_answered(
    control: Control, bot: BotProcess, data_dir: Path
) -> None:
    bad = control.inject_raw_update(BAD_POLL)
    _, reply = ask(control, 9_800_002, QUESTION)

    assert (quote_of(reply) or "").startswith(ANSWER)
    [delivery] = control.webhook_deliveries(bad["update_id"])
    assert delivery["status"] == 200  # confirmed the first time: Telegram stops sending it
    assert journal_state(data_dir, bad["update_id"]) == ABANDONED
    line = f"giving up on update {bad['update_id']}: python-telegram-bot cannot parse it"
    assert bot.log.count(line) == 1
    assert "Something went wrong processing the data" not in bot.log


def test_health_follows_what_get_webhook_info_says(
    server: FakeBotAPI, control: Control, bot: BotProcess, data_dir: Path, webhook_url: str
) -> None:
    wait_until(lambda: health(data_dir).returncode == 0, "a healthy heartbeat")
    api = f"{server.base_url}{server.token}"
    # Someone else deletes the webhook: no update comes any more, and health must say so.
    assert httpx.post(f"{api}/deleteWebhook", timeout=10).status_code == 200
    wait_until(lambda: health(data_dir).returncode == 1, "health to fail")
    why = health(data_dir).stderr
    assert "webhook delivery has not worked" in why
    assert "Telegram's webhook is not set" in why

    restored = httpx.post(
        f"{api}/setWebhook",
        json={"url": webhook_url, "secret_token": SECRET, "allowed_updates": list(ALLOWED_UPDATES)},
        timeout=10,
    )
    assert restored.status_code == 200
    wait_until(lambda: health(data_dir).returncode == 0, "health to recover")
    _, reply = ask(control, 9_800_003, QUESTION)
    assert (quote_of(reply) or "").startswith(ANSWER)


def test_a_clean_stop_leaves_the_webhook_set(control: Control, bot: BotProcess) -> None:
    deletes = len(control.calls("deleteWebhook"))
    assert bot.stop() == 0, bot.log[-3000:]
    assert control.webhook() is not None
    assert len(control.calls("deleteWebhook")) == deletes


# -- start-up failures ----------------------------------------------------------------------


def test_webhook_mode_without_a_secret_stops_at_start_with_one_line(
    server: FakeBotAPI, tmp_path: Path, webhook_url: str
) -> None:
    env = webhook_env(server, tmp_path, webhook_url)
    del env["WEBHOOK_SECRET"]
    result = run_bot_to_exit(env)
    assert result.returncode == 2
    assert result.stderr.startswith("reports-bot: WEBHOOK_SECRET is not set")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_taken_port_stops_the_start_before_telegram_is_told(tmp_path: Path) -> None:
    with FakeBotAPI(DEFAULT_TOKEN, allow_http_webhook=True) as api, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        url = f"http://127.0.0.1:{taken.getsockname()[1]}/hook"
        result = run_bot_to_exit(webhook_env(api, tmp_path, url))
        assert result.returncode == 2, result.stderr
        assert "reports-bot: cannot listen on WEBHOOK_LISTEN=127.0.0.1" in result.stderr
        assert api.control.calls("setWebhook") == []
