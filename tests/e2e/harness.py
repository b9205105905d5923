"""End-to-end helpers: the real bot (`python -m bot`) as a subprocess pointed at the fake
Bot API server, and small ways to talk to it as a user.

Every wait is on a server condition with a generous timeout that only matters when
something is broken; nothing sleeps a fixed time.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
# Only matters when something is broken: a healthy run takes a fraction of it.
TIMEOUT = 20.0
BOT_USERNAME = "reports_test_bot"
# A seed question with several answers, for what needs the **More** button ("What did
# Faiz Amr say…?" has one: only one passage lets him speak).
SEVERAL_ANSWERS = "What happened at the border crossings?"

# Settings the developer's shell may hold that must not leak into the bot under test.
_BOT_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "REPORTS_DIR",
    "DATA_DIR",
    "LOG_LEVEL",
    "HEALTH_MAX_AGE_SECONDS",
    "HEARTBEAT_INTERVAL_SECONDS",
    "REPORTS_POLL_SECONDS",
    "FEEDS",
    "FEED_POLL_SECONDS",
    "FEED_KEEP_ENTRIES",
    "FEEDS_ALLOW_PRIVATE_ADDRESSES",
    "REPORTS_FOLLOW_OUTSIDE_LINKS",
    "ALLOWED_USER_IDS",
    "ALLOWED_CHAT_IDS",
    "RATE_LIMIT_PER_MINUTE",
    "TELEGRAM_RETRIES",
    "ADMIN_USER_IDS",
    "UPLOAD_MAX_BYTES",
    "CHANNEL_IDS",
    "WEBHOOK_URL",
    "WEBHOOK_LISTEN",
    "WEBHOOK_PORT",
    "WEBHOOK_SECRET",
    "METRICS_PORT",
    "METRICS_LISTEN",
    "DATABASE_URL",
    "SEMANTIC_SEARCH",
    "SEMANTIC_MODEL_DIR",
)


def bot_env(**settings: str | Path | None) -> dict[str, str]:
    """The environment for a bot process: ours, minus any bot setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in _BOT_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    # A native crash (numba, onnxruntime) prints every thread's stack into the log.
    env["PYTHONFAULTHANDLER"] = "1"
    # Off unless a test asks for it (tests/e2e/test_semantic.py): the semantic stage comes
    # on a moment after start-up, and an answer must not change under a test.
    env["SEMANTIC_SEARCH"] = "off"
    for name, value in settings.items():
        if value is not None:
            env[name] = str(value)
    return env


@dataclass
class BotProcess:
    """`python -m bot` running in the background; its stderr goes to a file we can read."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> BotProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def send(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = TIMEOUT) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop with `sig` and return the exit status (kills it if it will not go)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(TIMEOUT)
                raise AssertionError(f"the bot ignored {sig.name}; log:\n{self.log}") from None
        return self.process.returncode


def wait_until(ready: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """For what the server cannot signal: the bot's log, its files, its process."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def health(data_dir: Path, **settings: str | Path | None) -> subprocess.CompletedProcess[str]:
    """`reports-bot health` over `data_dir` (and `settings`), as an operator's probe runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "health"],
        cwd=REPO,
        env=bot_env(DATA_DIR=data_dir, **settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_bot_to_exit(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` expecting it to end on its own."""
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_bot(server: FakeBotAPI, data_dir: Path, **settings: str | Path | None) -> BotProcess:
    """Start the bot against `server` and wait until it is polling for updates."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = bot_env(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_BASE_URL=server.base_url,
        REPORTS_DIR=settings.pop("REPORTS_DIR", SEEDS),
        DATA_DIR=data_dir,
        LOG_LEVEL="DEBUG",
        **settings,
    )
    bot = BotProcess(env, data_dir / "bot.log").start()
    try:
        server.control.wait_for_polling(TIMEOUT)
    except TimeoutError:
        bot.stop(signal.SIGKILL)
        raise AssertionError(f"the bot did not start polling; log:\n{bot.log}") from None
    return bot


# -- talking to the bot ------------------------------------------------------------------


def ask(control: Control, user_id: int, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A user writes `text` in a private chat; returns (their message, the bot's reply)."""
    question = control.send_message(user_id, user_id, text)
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, question["message_id"])
    return question, reply


def group_says(
    control: Control, group_id: int, user_id: int, text: str, reply_to: int | None = None
) -> dict[str, Any]:
    return control.send_message(
        group_id, user_id, text, chat_type="supergroup", reply_to_message_id=reply_to
    )


def entity_texts(message: dict[str, Any], kind: str) -> list[str]:
    """The text under each entity of `kind` (offsets are UTF-16 code units)."""
    encoded = message["text"].encode("utf-16-le")
    return [
        encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


def quote_of(message: dict[str, Any]) -> str | None:
    quotes = entity_texts(message, "blockquote")
    assert len(quotes) <= 1, message
    return quotes[0] if quotes else None


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


# -- the METRICS_PORT endpoints -----------------------------------------------------------

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def metrics_get(port: int, path: str, timeout: float = 30.0) -> tuple[int, str]:
    """GET `path` (/metrics, /healthz, /readyz) of a bot's METRICS_PORT: status and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def scrape(port: int) -> tuple[Samples, str]:
    """One Prometheus scrape: every sample by (name, sorted labels), and the text."""
    status, text = metrics_get(port, "/metrics")
    assert status == 200, text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, text


def metric_value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; one never exported counts as 0 (a labelled counter not yet moved)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
