"""Channel posts as reports, through the real bot (`python -m bot`) and the local Bot API
server: a post of a channel in CHANNEL_IDS is answered from, with the channel as source
and the post's t.me link; an edit replaces it; other channels are ignored; the posts
survive a restart; /forget removes one (for good) and /sources counts them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.telegram import wording
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import BotProcess, ask, quote_of, start_bot, wait_until
from tests.e2e.live_helpers import POLL_SECONDS, ask_until

ADMIN = 8_200_001
PUBLIC, PRIVATE, UNLISTED = -1_001_111_000_001, -1_002_222_000_002, -1_003_333_000_003
DAM = "Dam Opens\nThe new river dam holds 3 billion cubic metres of water."
DAM_QUESTION = "How much water does the new river dam hold?"
OWLS = "The owl sanctuary in the valley now shelters 41 snowy owls."
OWL_QUESTION = "How many snowy owls does the sanctuary shelter?"


def start(server: FakeBotAPI, data_dir: Path) -> BotProcess:
    return start_bot(
        server,
        data_dir,
        REPORTS_POLL_SECONDS=POLL_SECONDS,
        RATE_LIMIT_PER_MINUTE="0",
        ADMIN_USER_IDS=str(ADMIN),
        # Restricted: channel posts must still reach the channel handler.
        ALLOWED_USER_IDS=str(ADMIN),
        CHANNEL_IDS=f"{PUBLIC},{PRIVATE}",
    )


def links(message: dict[str, Any]) -> list[str]:
    return [e["url"] for e in message.get("entities", []) if e["type"] == "text_link"]


def test_channel_posts_become_reports_that_survive_a_restart(
    server: FakeBotAPI, control: Control, tmp_path: Path
) -> None:
    bot = start(server, tmp_path / "state")
    try:
        post = control.channel_post(PUBLIC, DAM, title="Newsroom Daily", username="newsroom")
        answer = ask_until(control, ADMIN, DAM_QUESTION, lambda a: "3 billion" in a["text"])
        assert "3 billion cubic metres" in (quote_of(answer) or "")
        assert "Newsroom Daily" in answer["text"] and "Dam Opens" in answer["text"]
        assert links(answer) == [f"https://t.me/newsroom/{post['message_id']}"]

        control.edit_channel_post(PUBLIC, post["message_id"], DAM.replace("3 billion", "5 billion"))
        answer = ask_until(control, ADMIN, DAM_QUESTION, lambda a: "5 billion" in a["text"])
        assert "3 billion" not in answer["text"]

        photo = control.channel_post(PRIVATE, caption=OWLS, title="Valley Notes")
        answer = ask_until(control, ADMIN, OWL_QUESTION, lambda a: "41 snowy owls" in a["text"])
        internal = str(PRIVATE).removeprefix("-100")
        assert links(answer) == [f"https://t.me/c/{internal}/{photo['message_id']}"]

        control.channel_post(UNLISTED, "The lighthouse keeper counted 77 ships.", title="Other")
        wait_until(lambda: f"ignored a post in channel {UNLISTED}" in bot.log, "the ignore line")
        _, answer = ask(control, ADMIN, "How many ships did the lighthouse keeper count?")
        assert "77 ships" not in answer["text"]

        _, sources = ask(control, ADMIN, "/sources")
        assert "Newsroom Daily</b>: 1" in sources["text"] or "Newsroom Daily: 1" in sources["text"]
        assert "Valley Notes" in sources["text"] and "Other" not in sources["text"]
    finally:
        assert bot.stop() == 0, bot.log

    bot = start(server, tmp_path / "state")
    try:
        # Kept in DATA_DIR: answered from at once, as edited.
        _, answer = ask(control, ADMIN, DAM_QUESTION)
        assert "5 billion" in (quote_of(answer) or ""), answer["text"]
        link = f"https://t.me/newsroom/{post['message_id']}"
        _, answer = ask(control, ADMIN, f"/forget {link.replace('https://', '')}")
        assert answer["text"] == wording.FORGOT_POST.format(link=link)
        _, answer = ask(control, ADMIN, DAM_QUESTION)
        assert "billion" not in answer["text"], answer["text"]
    finally:
        assert bot.stop() == 0, bot.log

    bot = start(server, tmp_path / "state")
    try:
        _, answer = ask(control, ADMIN, DAM_QUESTION)
        assert "billion" not in answer["text"], "a forgotten post came back after a restart"
        _, answer = ask(control, ADMIN, OWL_QUESTION)
        assert "41 snowy owls" in (quote_of(answer) or "")
    finally:
        assert bot.stop() == 0, bot.log


def test_a_post_without_text_is_no_report(
    server: FakeBotAPI, control: Control, tmp_path: Path
) -> None:
    bot = start(server, tmp_path / "state")
    try:
        control.channel_post(PUBLIC, caption="", title="Newsroom Daily", username="newsroom")
        wait_until(lambda: "has no text: not a report" in bot.log, "the no-text line")
        _, sources = ask(control, ADMIN, "/sources")
        assert "Newsroom" not in sources["text"]
    finally:
        assert bot.stop() == 0, bot.log
