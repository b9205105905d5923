"""A reports folder where good files sit among bad ones, end to end: `python -m bot` starts,
answers from every good report, names every bad file in its log, and does not crash.

(tests/retrieval/test_loader.py checks each kind of bad file and its reason one by one; this checks
the running bot as an operator sees it.  tests/e2e/test_hostile_reports.py covers good
files with hostile content.)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import SEEDS, BotProcess, ask, quote_of, start_bot

pytestmark = pytest.mark.usefixtures("bot")

FIFTY_MB = 50 * 1024 * 1024
GOOD = {
    # question -> the passage that answers it, one per good file (or good JSONL line)
    "How many refugees have entered camps in Turkey?": "Over 40,000 refugees",
    "When did the Kelmarsh ferry resume crossings?": "The Kelmarsh ferry resumed crossings",
    "How much did the Norbury wheat harvest reach?": "The Norbury wheat harvest reached",
    "Which lighthouse at Dunmere was repainted?": "The Dunmere lighthouse was repainted",
    "What did the Palmer bakery donate to the shelter?": "The Palmer bakery donated",
    "Where did the Osric choir perform its first concert?": "The Osric choir performed",
}
# name in the reports folder -> a piece of the reason the log must give
BAD = {
    "binary.txt": "binary data",
    "latin1.md": "invalid UTF-8",
    "empty.txt": "empty file",
    "blank.md": "empty file",
    "broken.md": "broken front matter",
    "mixed.jsonl:2": "invalid JSON",
    "mixed.jsonl:3": "text",
    "huge.txt": "file too big (50.0 MiB",
    "self.md": "symlink loop",
    "gone.txt": "dangling symlink",
    "more/loop": "symlink loop",
}


def write_reports(folder: Path) -> None:
    shutil.copytree(SEEDS, folder)
    (folder / "ferry.txt").write_text(
        "Ferry back\n\nThe Kelmarsh ferry resumed crossings on Monday after the storm.\n",
        encoding="utf-8",
    )
    (folder / "harvest.md").write_text(
        "---\ntitle: Harvest\nsource: Farm Weekly\npublished: 2024-05-01\n---\n\n"
        "The Norbury wheat harvest reached 12 million tonnes this year.\n",
        encoding="utf-8",
    )
    nested = folder / "more" / "deeper"
    nested.mkdir(parents=True)
    (nested / "lighthouse.txt").write_text(
        "Lighthouse\n\nThe Dunmere lighthouse was repainted red and white in June.\n",
        encoding="utf-8",
    )
    lines = [
        {"id": "bakery", "title": "Bakery", "text": "The Palmer bakery donated 300 loaves."},
        '{"id": "broken", "text": "no closing brace"',
        {"id": "no-text", "title": "A title and nothing else"},
        {
            "id": "choir",
            "title": "Choir \ud83d",  # a lone surrogate, as a broken exporter writes it
            "text": "The Osric choir performed its first concert in the old mill.",
        },
    ]
    (folder / "mixed.jsonl").write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )

    (folder / "binary.txt").write_bytes(b"Title\n\n\x00\x01\x02\xff binary\n")
    (folder / "latin1.md").write_bytes(
        "Caf\u00e9 closes\n\nThe caf\u00e9 closed.\n".encode("latin-1")
    )
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text("  \n\n\t\n", encoding="utf-8")
    (folder / "broken.md").write_text(
        '---\ntitle: "Unclosed quote\nsource: [Gazette\n---\n\nSome text.\n', encoding="utf-8"
    )
    with (folder / "huge.txt").open("wb") as huge:  # sparse: costs no disk
        huge.truncate(FIFTY_MB)
    os.symlink("self.md", folder / "self.md")
    os.symlink("nowhere.txt", folder / "gone.txt")
    os.symlink("..", folder / "more" / "loop")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-reports") / "reports"
    write_reports(folder)
    return folder


@pytest.fixture(scope="module")
def bot(
    server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory, reports: Path
) -> Iterator[BotProcess]:
    process = start_bot(server, tmp_path_factory.mktemp("state"), REPORTS_DIR=reports)
    yield process
    assert process.stop() == 0, process.log


@pytest.mark.parametrize("question", list(GOOD))
def test_every_good_report_is_answered(control: Control, user_id: int, question: str) -> None:
    _, reply = ask(control, user_id, question)
    assert (quote_of(reply) or "").startswith(GOOD[question]), reply["text"]


def test_the_report_with_a_lone_surrogate_in_its_title_is_shown_whole(
    control: Control, user_id: int
) -> None:
    _, reply = ask(control, user_id, "Where did the Osric choir perform its first concert?")
    assert "Choir \ufffd" in reply["text"]


def test_the_log_names_every_bad_file_and_why(bot: BotProcess, reports: Path) -> None:
    skipped = [line for line in bot.log.splitlines() if "skipped" in line]
    for name, reason in BAD.items():
        path = f"{reports}/{name}"
        assert any(path in line and reason in line for line in skipped), (
            f"{name}: no log line naming it with {reason!r}; skipped lines:\n" + "\n".join(skipped)
        )
    assert f"loaded {1 + 5} reports" in bot.log


def test_the_bot_is_up_and_never_crashed(bot: BotProcess) -> None:
    assert bot.process is not None and bot.process.poll() is None
    assert "Traceback" not in bot.log
