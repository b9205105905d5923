"""Helpers for the live-reports end-to-end tests: dropping report files into the watched
folder, asking until the bot knows something, and reading pushes."""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.botapi.control import Control
from tests.e2e.harness import SEEDS, TIMEOUT, ask

# Short, so a new file is picked up in about a second (it must first be a second old).
POLL_SECONDS = "0.3"
# Between two attempts of a question whose answer should change soon.
RETRY_PAUSE = 0.3


def seeded_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS.iterdir():
        shutil.copy2(seed, root / seed.name)
    return root


def drop(folder: Path, name: str, text: str) -> Path:
    """A report file appears in the folder, written the ordinary way (mtime: now)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ask_until(
    control: Control,
    user_id: int,
    question: str,
    accept: Callable[[dict[str, Any]], bool],
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """Ask `question` again and again until a reply passes `accept`; return that reply."""
    deadline = time.monotonic() + timeout
    replies: list[str] = []
    while True:
        _, reply = ask(control, user_id, question)
        if accept(reply):
            return reply
        replies.append(reply["text"][:80])
        if time.monotonic() > deadline:
            raise AssertionError(f"no acceptable reply to {question!r}; got: {replies[-3:]}")
        time.sleep(RETRY_PAUSE)


def bot_messages_after(control: Control, chat_id: int, message_id: int) -> list[dict[str, Any]]:
    return [m for m in control.sent_messages(chat_id) if m["message_id"] > message_id]


def big_jsonl(reports: int, paragraphs: int, seed: int = 7) -> str:
    """Many English-like reports in one JSON Lines file: slow enough to index that
    questions asked meanwhile meet a reload in progress."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ner", "sto", "vel", "dra", "pin", "shu", "tor", "ble", "gan"]
    words = ["".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(3000)]
    lines = []
    for number in range(reports):
        text = "\n\n".join(
            " ".join(rng.choices(words, k=45)).capitalize() + "." for _ in range(paragraphs)
        )
        record = {"id": f"bulk-{number}", "title": f"Bulk report {number}", "text": text}
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def subscribe(control: Control, user_id: int, topic: str) -> dict[str, Any]:
    _, reply = ask(control, user_id, f"/subscribe {topic}")
    assert reply["text"].startswith(f"🔔 Subscribed to “{topic}”."), reply["text"]
    return reply


def wait_for_push(control: Control, chat_id: int, after: int) -> dict[str, Any]:
    (push,) = control.wait_for_messages(chat_id, 1, TIMEOUT, after)
    assert push["text"].startswith("🔔 New report on "), push["text"]
    return push
