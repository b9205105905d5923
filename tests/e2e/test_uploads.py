"""Reports sent to the bot in Telegram, through the real bot (`python -m bot`) and the
local Bot API server: an admin's document is checked, downloaded, written into
REPORTS_DIR/uploads/ and answered from at once; everyone else is refused; bad input
(too big, hostile names, no name, other formats, failed downloads, unreadable files)
gets one clear line and leaves nothing behind.  Who sent each kept upload is recorded
in the store (DATA_DIR's SQLite file here) until it is forgotten.  The admin commands:
/sources, /problems, /forget, listed in the admins' command menu only."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.telegram import wording
from retrieval import listing
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import TIMEOUT, BotProcess, ask, quote_of, start_bot
from tests.e2e.live_helpers import POLL_SECONDS, ask_until, seeded_folder

ADMIN = 8_100_001
STRANGER = 8_100_002
LATE_ADMIN = 8_100_003  # writes to the bot only after it started
LIMIT = 4000
GLACIER = """Glacier Observatory Opens

The Kvitøya glacier observatory opened on Thursday with twelve seismometers on the ice.

"We will finally hear the ice shelf move," said chief glaciologist Ingrid Solberg.
"""
GLACIER_QUESTION = "How many seismometers does the glacier observatory have?"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_folder(tmp_path_factory.mktemp("uploads") / "reports")


@pytest.fixture(scope="module")
def upload_bot(
    server: FakeBotAPI, folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    # The admin has written to the bot before, so their command menu is set at start-up.
    hello = server.control.send_message(ADMIN, ADMIN, "hello")
    process = start_bot(
        server,
        tmp_path_factory.mktemp("uploads-state"),
        REPORTS_DIR=folder,
        REPORTS_POLL_SECONDS=POLL_SECONDS,
        RATE_LIMIT_PER_MINUTE="0",
        ADMIN_USER_IDS=f"{ADMIN},{LATE_ADMIN}",
        UPLOAD_MAX_BYTES=str(LIMIT),
    )
    server.control.wait_for_messages(ADMIN, 1, TIMEOUT, hello["message_id"])
    yield process
    status = process.stop()
    assert status == 0, f"the bot exited with {status}; log:\n{process.log}"


def send(control: Control, user_id: int, **document: Any) -> tuple[dict[str, Any], str]:
    """A user sends a document; (the message, the bot's one reply's text)."""
    sent = control.send_document(user_id, user_id, **document)
    (answer,) = control.wait_for_messages(user_id, 1, TIMEOUT, sent["message_id"])
    return sent, str(answer["text"])


def uploads(folder: Path) -> list[str]:
    place = folder / "uploads"
    return sorted(p.name for p in place.iterdir() if p.is_file()) if place.exists() else []


def upload_records(bot: BotProcess) -> dict[str, tuple[int, int, int, str]]:
    """The store's uploads table, read from the bot's state file as it runs: per name,
    (user id, chat id, size, sha256)."""
    path = Settings(data_dir=Path(bot.env["DATA_DIR"])).store_path
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT name, user_id, chat_id, size, sha256 FROM uploads").fetchall()
    return {name: (user_id, chat_id, size, sha256) for name, user_id, chat_id, size, sha256 in rows}


def incoming_left(folder: Path) -> list[Path]:
    place = folder / "uploads" / ".incoming"
    return [p for p in place.rglob("*") if p.is_file()] if place.exists() else []


def test_an_admins_document_is_answered_from_at_once(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    _, text = send(control, ADMIN, file_name="glacier.txt", text=GLACIER)
    assert "Added Glacier Observatory Opens" in text, text
    assert "passage" in text and "/forget glacier.txt" in text
    assert "glacier.txt" in uploads(folder) and not incoming_left(folder)
    example = text.split("Try: ", 1)[1].split("\n", 1)[0]
    _, answer = ask(control, ADMIN, example)
    assert "Glacier Observatory Opens" in answer["text"], (example, answer["text"])
    _, answer = ask(control, ADMIN, GLACIER_QUESTION)
    assert "twelve seismometers" in (quote_of(answer) or ""), answer["text"]


def test_the_same_name_again_replaces_the_report(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    send(control, ADMIN, file_name="harbour.txt", text="Harbour Opens\n\nThe harbour has 7 cranes.")
    _, text = send(
        control, ADMIN, file_name="harbour.txt", text="Harbour Opens\n\nThe harbour has 9 cranes."
    )
    assert "Replaced harbour.txt" in text, text
    assert uploads(folder).count("harbour.txt") == 1
    _, answer = ask(control, ADMIN, "How many cranes does the harbour have?")
    assert "9 cranes" in (quote_of(answer) or ""), answer["text"]
    _, sources = ask(control, ADMIN, "/sources")
    assert "uploaded here" in sources["text"]
    assert f"last upload from admin {ADMIN}, " in sources["text"], sources["text"]


def test_a_stranger_is_refused_and_nothing_is_downloaded(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    before = uploads(folder)
    sent, text = send(control, STRANGER, file_name="intruder.txt", text=GLACIER)
    assert text == wording.UPLOAD_ADMINS_ONLY
    assert control.file_downloads(sent["document"]["file_id"]) == {"served": False, "downloads": 0}
    assert uploads(folder) == before


def test_a_document_over_the_limit_is_refused_before_it_is_downloaded(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    sent, text = send(control, ADMIN, file_name="big.txt", text="x", declared_size=5_000_000)
    assert text == wording.UPLOAD_TOO_BIG.format(limit="4,000 bytes")
    assert control.file_downloads(sent["document"]["file_id"])["served"] is False


def test_a_document_that_turns_out_too_big_is_stopped_while_downloading(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    body = "Big Report\n\n" + "words " * 2000
    sent, text = send(control, ADMIN, file_name="sneaky.txt", text=body, omit_size=True)
    assert text == wording.UPLOAD_TOO_BIG.format(limit="4,000 bytes")
    assert control.file_downloads(sent["document"]["file_id"])["downloads"] == 1
    assert "sneaky.txt" not in uploads(folder) and not incoming_left(folder)


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../etc/passwd", None),
        ("..", None),
        (None, None),
        ("report.exe", None),
        ("../../../outside.txt", "outside.txt"),
        ("nul\x00byte.txt", "nul byte.txt"),
        ("line\nbreak.txt", "line break.txt"),
        (".hidden.txt", "hidden.txt"),
        ("\u202eevil.txt", "evil.txt"),
        ("y" * 500 + ".txt", "y" * 116 + ".txt"),
    ],
)
def test_hostile_names_are_made_safe_or_refused_in_one_line(
    upload_bot: BotProcess, control: Control, folder: Path, name: str | None, kept: str | None
) -> None:
    before = sorted(p.name for p in folder.parent.iterdir())
    _, text = send(control, ADMIN, file_name=name, text="Named Report\n\nA report about names.")
    assert sorted(p.name for p in folder.parent.iterdir()) == before  # nothing next to it
    assert not incoming_left(folder)
    if kept is None:
        assert "\n" not in text, text
        assert "Added" not in text and "Replaced" not in text
    else:
        assert kept in uploads(folder), (text, uploads(folder))
        ask(control, ADMIN, f"/forget {kept}")
        assert kept not in uploads(folder)


def test_a_failed_download_and_an_unreadable_file_are_not_kept(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    _, text = send(control, ADMIN, file_name="lost.txt", text=GLACIER, download_status=500)
    assert text.startswith("I couldn't download lost.txt from Telegram"), text
    _, text = send(control, ADMIN, file_name="broken.jsonl", text="{not json\n[1, 2\n")
    assert text.startswith("I couldn't read broken.jsonl:") and "\n" not in text, text
    _, text = send(control, ADMIN, file_name="empty.txt", text="")
    assert text.startswith("I couldn't read empty.txt:"), text
    for name in ("lost.txt", "broken.jsonl", "empty.txt"):
        assert name not in uploads(folder)
    assert not incoming_left(folder)


def test_a_broken_pdf_gets_one_line_naming_the_problem(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    if ".pdf" not in listing.REPORT_SUFFIXES:
        pytest.skip("PDF is not a report format yet")
    broken = base64.b64encode(b"%PDF-1.7\n1 0 obj << /Type /Catalog").decode()
    _, text = send(control, ADMIN, file_name="broken.pdf", content_base64=broken)
    assert text.startswith("I couldn't read broken.pdf: ") and "\n" not in text, text
    assert text.endswith("It was not added.") and "broken.pdf" not in uploads(folder)


def test_a_broken_file_does_not_replace_a_good_one(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    send(control, ADMIN, file_name="keep.jsonl", text='{"title": "Keep", "text": "Kept 5 owls."}')
    _, text = send(control, ADMIN, file_name="keep.jsonl", text="{broken")
    assert text.startswith("I couldn't read keep.jsonl:"), text
    assert (folder / "uploads" / "keep.jsonl").read_text(encoding="utf-8").startswith('{"title"')


def test_forget_removes_an_upload_and_refuses_a_folder_report(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    comet = "# Comet\n\nThe comet has a green tail."
    send(control, ADMIN, file_name="comet.md", text=comet)
    kept = (folder / "uploads" / "comet.md").read_bytes()
    assert kept == comet.encode("utf-8")
    sha256 = hashlib.sha256(kept).hexdigest()
    assert upload_records(upload_bot)["comet.md"] == (ADMIN, ADMIN, len(kept), sha256)
    _, answer = ask(control, ADMIN, "/forget comet.md")
    assert answer["text"] == wording.FORGOT_UPLOAD.format(name="comet.md")
    assert "comet.md" not in uploads(folder)
    assert "comet.md" not in upload_records(upload_bot)
    _, answer = ask(control, ADMIN, "What colour is the comet's tail?")
    assert "green tail" not in answer["text"]
    seed = next(folder.glob("*.txt")).name
    _, answer = ask(control, ADMIN, f"/forget {seed}")
    assert "is a file in the reports folder" in answer["text"], answer["text"]
    assert (folder / seed).exists()
    _, answer = ask(control, ADMIN, "/forget nothing-like-it.txt")
    assert "I have no uploaded report" in answer["text"]


def test_admin_commands_are_unknown_to_everyone_else(
    upload_bot: BotProcess, control: Control
) -> None:
    for command in ("/sources", "/problems", "/forget glacier.txt"):
        _, answer = ask(control, STRANGER, command)
        assert answer["text"] == wording.UNKNOWN_COMMAND.format(command=command.split()[0])


def test_problems_lists_what_could_not_be_read(
    upload_bot: BotProcess, control: Control, folder: Path
) -> None:
    _, answer = ask(control, ADMIN, "/problems")
    assert answer["text"] == wording.NO_PROBLEMS
    (folder / "bad.jsonl").write_text("{oops\n", encoding="utf-8")
    answer = ask_until(control, ADMIN, "/problems", lambda a: "bad.jsonl" in a["text"])
    assert "1 file could not be read" in answer["text"] and "invalid JSON" in answer["text"]
    (folder / "bad.jsonl").unlink()
    ask_until(control, ADMIN, "/problems", lambda a: a["text"] == wording.NO_PROBLEMS)


def test_the_admin_menu_is_listed_to_admins_only(upload_bot: BotProcess, control: Control) -> None:
    default = [c["command"] for c in control.my_commands()]
    admin = [c["command"] for c in control.my_commands({"type": "chat", "chat_id": ADMIN})]
    assert "sources" not in default and "start" in default
    assert {"sources", "problems", "forget", "start"} <= set(admin)
    ask(control, STRANGER, "/start")
    stranger = control.my_commands({"type": "chat", "chat_id": STRANGER})
    assert stranger == []
    # Telegram refused the late admin's chat scope at start-up (no chat yet): set on /start.
    assert control.my_commands({"type": "chat", "chat_id": LATE_ADMIN}) == []
    ask(control, LATE_ADMIN, "/start")
    late = [c["command"] for c in control.my_commands({"type": "chat", "chat_id": LATE_ADMIN})]
    assert late == admin
    _, help_text = ask(control, ADMIN, "/help")
    assert "/forget NAME or LINK" in help_text["text"]
    _, help_text = ask(control, STRANGER, "/help")
    assert "/forget" not in help_text["text"]
