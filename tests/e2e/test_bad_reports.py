"""A reports folder where good files sit among bad ones, end to end: `python -m bot` starts,
answers from every good report, names every bad file in its log, and does not crash.
Symlinks that lead out of the folder are skipped: what they point at is never quoted or
listed (issue 12).

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
    # beside a line nested 100,000 deep
    "What did the Hollin tide gauge record?": "The Hollin tide gauge recorded",
    # its JSON holds "\u0000" escapes
    "When did the Brackley mill reopen its gates?": "The Brackley mill reopened",
}
# What the links that lead out of the reports folder point at: never to be served.
SECRET = "The Quillon vault code is 4471, and the spare key is under the mat."
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
    "deep.jsonl:1": "nested too deeply",
    "future.md": '"published": 9999-12-31 23:59:59-05:00 is out of range',
    "vault.txt": "outside the reports folder",
    "private": "outside the reports folder",
    "scan.pdf": "truncated PDF",
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

    (folder / "deep.jsonl").write_text(
        "[" * 100_000
        + "]" * 100_000
        + "\n"
        + json.dumps({"id": "tide", "text": "The Hollin tide gauge recorded a record surge."})
        + "\n",
        encoding="utf-8",
    )
    (folder / "future.md").write_text(
        "---\ntitle: Future\npublished: 9999-12-31T23:59:59-05:00\n---\n\n"
        "The Amberley bridge will open in the year 9999.\n",
        encoding="utf-8",
    )
    mill = {"id": "mill", "title": "Mill\0 news", "text": "The Brackley mill\0 reopened its gates."}
    (folder / "nul.jsonl").write_text(json.dumps(mill) + "\n", encoding="utf-8")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4")
    (folder / "table.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    outside = folder.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"Vault\n\n{SECRET}\n", encoding="utf-8")
    (outside / "notes.md").write_text(f"# Vault notes\n\n{SECRET}\n", encoding="utf-8")
    (outside / ".env").write_text("TELEGRAM_BOT_TOKEN=123456:outside-secret\n", encoding="utf-8")
    os.symlink(outside / "secret.txt", folder / "vault.txt")
    os.symlink(outside, folder / "private", target_is_directory=True)


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
    assert "\x00" not in reply["text"]


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
    assert f"loaded {1 + 7} reports" in bot.log
    assert "skipped 2 files of types .csv, .xlsx: not a report format" in bot.log


def test_what_a_link_out_of_the_folder_points_at_is_never_quoted_or_listed(
    control: Control, user_id: int
) -> None:
    _, answer = ask(control, user_id, "What is the Quillon vault code?")
    _, latest = ask(control, user_id, "/latest 20")
    _, on_topic = ask(control, user_id, "/latest 20 vault")
    for reply in (answer, latest, on_topic):
        assert "4471" not in reply["text"] and "Vault" not in reply["text"], reply["text"]
    assert quote_of(answer) is None
    assert "Brackley" in latest["text"]  # the listing itself works


def test_the_bot_is_up_and_never_crashed(bot: BotProcess) -> None:
    assert bot.process is not None and bot.process.poll() is None
    assert "Traceback" not in bot.log
