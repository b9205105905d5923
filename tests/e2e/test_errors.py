"""When Telegram fails a call, the error handler logs it and apologises without detail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.telegram.html import render_error, visible_text
from bot.telegram.wording import NO_MORE
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import (
    SEVERAL_ANSWERS,
    TIMEOUT,
    BotProcess,
    ask,
    buttons,
    quote_of,
    start_bot,
    wait_until,
)
from tests.e2e.live_helpers import POLL_SECONDS, ask_until, seeded_folder

pytestmark = pytest.mark.usefixtures("bot")


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """No retries, so one injected failure is a failed call (tests/e2e/test_faults.py
    covers the retries)."""
    process = start_bot(server, tmp_path_factory.mktemp("bot-state"), TELEGRAM_RETRIES="0")
    yield process
    assert process.stop() == 0, process.log


APOLOGY = visible_text(render_error().text)


def test_a_failed_answer_is_logged_and_the_user_gets_an_apology(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    control.inject("sendMessage", "server_error", count=1)

    _, reply = ask(control, user_id, "How many refugees have entered camps in Turkey?")

    assert reply["text"] == APOLOGY
    assert "Traceback" not in reply["text"]
    assert "error while handling update" in bot.log
    assert "Internal Server Error" in bot.log
    # The bot carries on: the same question now gets its answer.
    _, again = ask(control, user_id, "How many refugees have entered camps in Turkey?")
    assert (quote_of(again) or "").startswith("Over 40,000 refugees")


def test_a_failed_more_press_is_answered_with_an_apology(control: Control, user_id: int) -> None:
    _, answer = ask(control, user_id, SEVERAL_ANSWERS)
    (button,) = buttons(answer)
    control.inject("editMessageText", "server_error", count=1)

    failed = control.press_button(user_id, user_id, answer["message_id"], button["callback_data"])

    assert control.wait_for_callback_answer(failed["id"], TIMEOUT)["text"] == APOLOGY
    assert control.message(user_id, answer["message_id"])["text"] == answer["text"]
    retried = control.press_button(user_id, user_id, answer["message_id"], button["callback_data"])
    assert control.wait_for_callback_answer(retried["id"], TIMEOUT).get("text") is None
    (edit,) = control.wait_for_edits(user_id, 1, TIMEOUT, answer["message_id"])
    assert quote_of(edit["message"]) != quote_of(answer)


def test_a_failed_poll_is_a_warning_and_the_bot_carries_on(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    control.inject("getUpdates", "server_error", count=1)

    _, reply = ask(control, user_id, "Which districts of Damascus were recaptured?")

    assert "Mezzeh and Barzeh" in (quote_of(reply) or "")
    # The fault may fall on the poll after the one that fetched the question, so the
    # warning can follow the answer: wait for it rather than read the log at once.
    warning = "WARNING bot.telegram.errors: network trouble while polling, retrying"
    wait_until(lambda: warning in bot.log, "the polling warning")
    assert [f["method"] for f in control.fired_faults()][-1] == "getUpdates"


def test_more_on_an_answer_whose_report_is_gone_is_answered_once(tmp_path: Path) -> None:
    """The report went away, so the button leads nowhere: the press is told so and the
    button removed.  When removing it fails too, the press is still answered once, with
    that note, not a second time with an apology Telegram would refuse."""
    user = 9_200_001
    question = SEVERAL_ANSWERS
    reports = seeded_folder(tmp_path / "reports")
    with FakeBotAPI() as server:
        control = server.control
        bot = start_bot(
            server,
            tmp_path / "state",
            REPORTS_DIR=reports,
            REPORTS_POLL_SECONDS=POLL_SECONDS,
            TELEGRAM_RETRIES="0",
        )
        try:
            _, answer = ask(control, user, question)
            (button,) = buttons(answer)
            for seed in reports.iterdir():
                seed.unlink()
            ask_until(control, user, question, lambda r: "couldn't find" in r["text"])

            control.inject("editMessageReplyMarkup", "server_error", count=1)
            failed = control.press_button(user, user, answer["message_id"], button["callback_data"])
            pressed = control.press_button(
                user, user, answer["message_id"], button["callback_data"]
            )
            # Each chat is handled in order: once this is answered, so are the presses.
            ask(control, user, "/help")

            for query in (failed, pressed):
                answers = [
                    c
                    for c in control.calls("answerCallbackQuery")
                    if c["params"].get("callback_query_id") == query["id"]
                ]
                assert [(c["status"], c["params"].get("text")) for c in answers] == [(200, NO_MORE)]
            assert "reply_markup" not in control.message(user, answer["message_id"])
            assert control.edits(user) == []  # the answer's text stays as it was
            assert "error while handling update" not in bot.log
        finally:
            assert bot.stop() == 0, bot.log
