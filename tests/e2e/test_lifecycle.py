"""Starting, failing to start, stopping and restarting the real `python -m bot` process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import (
    SEVERAL_ANSWERS,
    TIMEOUT,
    ask,
    bot_env,
    buttons,
    health,
    quote_of,
    run_bot_to_exit,
    start_bot,
    wait_until,
)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


# -- failing to start ---------------------------------------------------------------------


def test_missing_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_bot_to_exit(bot_env(DATA_DIR=tmp_path))
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "TELEGRAM_BOT_TOKEN is not set" in line and "@BotFather" in line


def test_rejected_token_is_one_line_and_exit_2(server: FakeBotAPI, tmp_path: Path) -> None:
    env = bot_env(
        TELEGRAM_BOT_TOKEN="1000001:not-the-right-token",
        TELEGRAM_BASE_URL=server.base_url,
        DATA_DIR=tmp_path,
    )
    done = run_bot_to_exit(env)
    assert done.returncode == 2
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in one_line(done.stderr)
    assert "not-the-right-token" not in done.stderr
    assert [c["status"] for c in server.control.calls("getMe")][-1] == 401


# An unreachable Bot API is waited for, not an exit: tests/e2e/test_faults.py.


def test_missing_reports_folder_is_a_message_and_exit_2(server: FakeBotAPI, tmp_path: Path) -> None:
    env = bot_env(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_BASE_URL=server.base_url,
        REPORTS_DIR=tmp_path / "no-such-folder",
        DATA_DIR=tmp_path,
        LOG_LEVEL="WARNING",
    )
    done = run_bot_to_exit(env)
    assert done.returncode == 2
    assert "no-such-folder" in one_line(done.stderr)


def test_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_bot_to_exit(bot_env(TELEGRAM_BOT_TOKEN="1:x", LOG_LEVEL="loud", DATA_DIR=tmp_path))
    assert done.returncode == 2
    assert "LOG_LEVEL" in one_line(done.stderr)


# -- running and stopping ----------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_bot_cleanly(
    server: FakeBotAPI, tmp_path: Path, sig: signal.Signals
) -> None:
    bot = start_bot(server, tmp_path, HEARTBEAT_INTERVAL_SECONDS="0.2")
    heartbeat = tmp_path / "heartbeat"
    first = heartbeat.read_text()
    wait_until(lambda: heartbeat.read_text() != first, "the job queue to rewrite the heartbeat")
    alive = health(tmp_path)
    assert alive.returncode == 0, alive.stderr
    assert alive.stdout.startswith("healthy")

    assert bot.stop(sig) == 0
    assert "bot stopped cleanly" in bot.log
    assert "Traceback" not in bot.log
    assert not heartbeat.exists()
    dead = health(tmp_path)
    assert dead.returncode == 1
    assert "no heartbeat file" in dead.stderr


def test_restart_in_the_middle_of_a_conversation(server: FakeBotAPI, tmp_path: Path) -> None:
    control = server.control
    user_id = 8_000_001
    first_bot = start_bot(server, tmp_path / "first")
    try:
        _, answer = ask(control, user_id, SEVERAL_ANSWERS)
        control.wait_until_acknowledged(TIMEOUT)
    finally:
        first_bot.stop(signal.SIGKILL)  # a crash: no goodbye, no state saved
    (button,) = buttons(answer)

    second_bot = start_bot(server, tmp_path / "second")
    try:
        query = control.press_button(
            user_id, user_id, answer["message_id"], button["callback_data"]
        )
        (edit,) = control.wait_for_edits(user_id, 1, TIMEOUT, answer["message_id"])
        assert control.wait_for_callback_answer(query["id"], TIMEOUT).get("text") is None
        assert quote_of(edit["message"]) not in (None, quote_of(answer))
        assert "Answer 2 of" in edit["message"]["text"]

        _, reply = ask(control, user_id, "Which districts of Damascus were recaptured?")
        assert "Mezzeh and Barzeh" in (quote_of(reply) or "")
    finally:
        assert second_bot.stop() == 0
    assert "Traceback" not in second_bot.log
