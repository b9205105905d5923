"""Faults in what the bot receives and where it keeps it, end to end against `python -m bot`:
an update python-telegram-bot cannot parse, and an update journal that cannot be written
(a real file-size limit on the running process, so SQLite's own writes fail).

Neither may stop the answering: the bad update is confirmed, given up and logged once; a
failing journal is logged once when it fails and once when it recovers, and `reports-bot
health` says what is wrong meanwhile.  Counts, not clocks: the bad update must be delivered
once, its log line written once.
"""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.reliability.journal import ABANDONED, DONE, JOURNAL_NAME
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import (
    REPO,
    SEEDS,
    TIMEOUT,
    BotProcess,
    ask,
    bot_env,
    health,
    quote_of,
    start_bot,
    wait_until,
)

QUESTION = "How many refugees have entered camps in Turkey?"
ANSWER = "Over 40,000 refugees"
# A poll without total_voter_count, is_closed, is_anonymous, type, allows_multiple_answers.
BAD_POLL: dict[str, Any] = {"poll": {"id": "5100000000000000001", "question": "Which way?"}}


def journal_state(data_dir: Path, update_id: int) -> str | None:
    with sqlite3.connect(data_dir / JOURNAL_NAME) as db:
        row = db.execute("SELECT state FROM updates WHERE update_id = ?", (update_id,)).fetchone()
    return None if row is None else str(row[0])


def gave_up(bot: BotProcess, update_id: int) -> int:
    """Lines saying the bot gave up on `update_id` because it cannot be parsed."""
    line = f"giving up on update {update_id}: python-telegram-bot cannot parse it"
    return bot.log.count(line)


def delivered(control: Control, update_id: int) -> int:
    (update,) = [u for u in control.updates() if u["update_id"] == update_id]
    return int(update["deliveries"])


# -- an update it cannot parse ------------------------------------------------------------


@pytest.fixture
def bot(server: FakeBotAPI, tmp_path: Path) -> Iterator[BotProcess]:
    process = start_bot(server, tmp_path)
    yield process
    assert process.stop() == 0, process.log[-3000:]


def test_an_update_it_cannot_parse_is_confirmed_given_up_once_and_the_next_answered(
    control: Control, bot: BotProcess, tmp_path: Path
) -> None:
    bad = control.inject_raw_update(BAD_POLL)  # alone, so the last of its batch

    _, reply = ask(control, 9_700_001, QUESTION)

    assert (quote_of(reply) or "").startswith(ANSWER)
    control.wait_until_acknowledged(TIMEOUT)
    assert delivered(control, bad["update_id"]) == 1  # confirmed at once: no spinning
    assert journal_state(tmp_path, bad["update_id"]) == ABANDONED
    assert gave_up(bot, bad["update_id"]) == 1
    assert "Error while parsing" not in bot.log
    assert "Traceback" not in bot.log


def test_an_unparseable_update_in_the_middle_of_a_batch_holds_up_neither_neighbour(
    control: Control, bot: BotProcess, tmp_path: Path
) -> None:
    world = control.world
    with world.cond:  # the waiting long poll wakes only after all three are queued
        before = control.send_message(9_700_002, 9_700_002, QUESTION)
        bad = control.inject_raw_update(BAD_POLL)
        after = control.send_message(9_700_003, 9_700_003, QUESTION)

    for question in (before, after):
        chat = question["chat"]["id"]
        (reply,) = control.wait_for_messages(chat, 1, TIMEOUT, question["message_id"])
        assert (quote_of(reply) or "").startswith(ANSWER)
    control.wait_until_acknowledged(TIMEOUT)
    assert delivered(control, bad["update_id"]) == 1
    assert journal_state(tmp_path, bad["update_id"]) == ABANDONED
    assert gave_up(bot, bad["update_id"]) == 1
    assert "Error while parsing" not in bot.log


# -- a journal that cannot be written -------------------------------------------------------


class PipedBot(BotProcess):
    """The bot with its output through a pipe: a file-size limit on the process must hit
    SQLite's files, not the log the test reads."""

    def start(self) -> PipedBot:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Past the limit a write fails with EFBIG instead of killing the process (an
            # ignored signal stays ignored across exec).
            preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN),
        )
        threading.Thread(target=self._copy_output, daemon=True).start()
        return self

    def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.log_path.open("ab") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()


def limit_file_size(pid: int, size: int) -> None:
    """The running process may write no file past `size` bytes: the disk is full, for it."""
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))


def test_a_journal_that_cannot_be_written_degrades_answering_never_stops(
    server: FakeBotAPI, tmp_path: Path
) -> None:
    control = server.control
    data_dir = tmp_path / "state"
    data_dir.mkdir()
    journal = data_dir / JOURNAL_NAME
    env = bot_env(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_BASE_URL=server.base_url,
        REPORTS_DIR=SEEDS,
        DATA_DIR=data_dir,
        LOG_LEVEL="INFO",
        HEARTBEAT_INTERVAL_SECONDS="0.2",
    )
    first_update = max((u["update_id"] for u in control.updates()), default=0) + 1
    bot = PipedBot(env, tmp_path / "bot.log").start()
    assert bot.process is not None
    pid = bot.process.pid
    failing = f"the update journal {journal} cannot be written"
    try:
        control.wait_for_polling(TIMEOUT)
        ask(control, 9_710_001, QUESTION)
        wait_until(lambda: health(data_dir).returncode == 0, "a healthy start")
        wal = Path(f"{journal}-wal")

        limit_file_size(pid, wal.stat().st_size)  # the next journal write fails
        for user in range(9_710_002, 9_710_005):
            _, reply = ask(control, user, QUESTION)
            assert (quote_of(reply) or "").startswith(ANSWER), user
        assert bot.log.count(failing) == 1, bot.log[-3000:]  # once, not once per update
        (line,) = [line for line in bot.log.splitlines() if failing in line]
        # EFBIG is SQLite's "disk I/O error"; a full disk (ENOSPC) is "database or disk is full".
        assert " ERROR " in line and "disk I/O error" in line, line
        assert "network trouble" not in bot.log
        wait_until(lambda: health(data_dir).returncode == 1, "health to turn unhealthy")
        sick = health(data_dir)
        assert sick.stderr.startswith(f"unhealthy: {failing}: disk I/O error"), sick.stderr

        limit_file_size(pid, resource.RLIM_INFINITY)  # space again
        ask(control, 9_710_006, QUESTION)
        wait_until(lambda: health(data_dir).returncode == 0, "health to recover")
        assert bot.log.count(f"the update journal {journal} can be written again") == 1
        assert bot.log.count(failing) == 1
        assert "Traceback" not in bot.log
    finally:
        limit_file_size(pid, resource.RLIM_INFINITY)
        assert bot.stop() == 0, bot.log[-3000:]
    with sqlite3.connect(journal) as db:
        states = dict(db.execute("SELECT update_id, state FROM updates").fetchall())
    # Those answered while it failed were written once it worked: a restart repeats none.
    assert states == dict.fromkeys(range(first_update, first_update + 5), DONE)


def test_a_damaged_journal_at_start_is_moved_aside_and_the_bot_answers(
    server: FakeBotAPI, tmp_path: Path
) -> None:
    (tmp_path / JOURNAL_NAME).write_bytes(b"\x13 damaged by a crash \x00" * 1000)
    bot = start_bot(server, tmp_path)
    try:
        _, reply = ask(server.control, 9_720_001, QUESTION)
        assert (quote_of(reply) or "").startswith(ANSWER)
    finally:
        assert bot.stop() == 0, bot.log[-3000:]
    assert f"the update journal {tmp_path / JOURNAL_NAME} is damaged" in bot.log
    (aside,) = tmp_path.glob(f"{JOURNAL_NAME}.damaged-*")
    assert aside.read_bytes().startswith(b"\x13 damaged by a crash")


# -- health follows the fetching and the answering ------------------------------------------


@pytest.fixture
def watched(server: FakeBotAPI, tmp_path: Path) -> Iterator[BotProcess]:
    """A bot whose health limit is one second, with a heartbeat five times a second."""
    process = start_bot(
        server, tmp_path, HEALTH_MAX_AGE_SECONDS="1", HEARTBEAT_INTERVAL_SECONDS="0.2"
    )
    yield process
    server.control.clear_faults()
    assert process.stop() == 0, process.log[-3000:]


def unhealthy_because(data_dir: Path, reason: str) -> Callable[[], bool]:
    def check() -> bool:
        done = health(data_dir)
        return done.returncode == 1 and reason in done.stderr

    return check


def test_health_fails_while_updates_cannot_be_fetched(
    control: Control, watched: BotProcess, tmp_path: Path
) -> None:
    wait_until(lambda: health(tmp_path).returncode == 0, "a healthy start")
    control.inject("getUpdates", "server_error", count=10_000)
    ask(control, 9_730_001, QUESTION)  # ends the long poll that was waiting

    wait_until(unhealthy_because(tmp_path, "(last error: HTTP 500)"), "health to fail")
    control.clear_faults()
    wait_until(lambda: health(tmp_path).returncode == 0, "health to recover", 3 * TIMEOUT)
    ask(control, 9_730_001, QUESTION)


def test_health_fails_while_answering_is_stuck(
    control: Control, watched: BotProcess, tmp_path: Path
) -> None:
    wait_until(lambda: health(tmp_path).returncode == 0, "a healthy start")
    # Every sendMessage hangs until the bot's read timeout, again and again.
    control.inject("sendMessage", "timeout", count=10_000, seconds=30)
    question = control.send_message(9_740_001, 9_740_001, QUESTION)

    wait_until(unhealthy_because(tmp_path, "answering is stuck"), "health to fail", 3 * TIMEOUT)
    control.clear_faults()
    (reply,) = control.wait_for_messages(9_740_001, 1, 3 * TIMEOUT, question["message_id"])
    assert (quote_of(reply) or "").startswith(ANSWER)
    wait_until(lambda: health(tmp_path).returncode == 0, "health to recover")
