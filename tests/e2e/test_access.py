"""ALLOWED_USER_IDS and ALLOWED_CHAT_IDS, end to end: every path a user can take, for an
allowed and a refused user, against `python -m bot` over the seed report.

Refused users are fresh ids from the `user_id` fixture; allowed ones come from ALLOWED.
A refused update never reaches the handlers, so the refusals below are the whole story:
no quote, no title, no report text.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram.access import INLINE_START_PARAMETER, refusal_html
from bot.telegram.html import visible_text
from bot.telegram.policy import Access
from bot.telegram.wording import GROUP_NOT_ALLOWED_PRESS, PRIVATE_BOT_PRESS
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import (
    BOT_USERNAME,
    SEVERAL_ANSWERS,
    TIMEOUT,
    BotProcess,
    ask,
    bot_env,
    buttons,
    group_says,
    quote_of,
    run_bot_to_exit,
    start_bot,
)

pytestmark = pytest.mark.usefixtures("bot")

ALLOWED = (7_500_001, 7_500_002, 7_500_003, 7_500_004, 7_500_005, 7_500_006)
ALLOWED_GROUP = -100_750_001
QUESTION = "What did Faiz Amr say about the border crossings?"
# Words of the seed report: none may appear in anything a refused user gets.
REPORT_WORDS = ("Syria", "Faiz", "Amr", "refugees", "Aleppo", "border")
_allowed = itertools.cycle(ALLOWED)


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    process = start_bot(
        server,
        tmp_path_factory.mktemp("restricted"),
        ALLOWED_USER_IDS=",".join(map(str, ALLOWED)),
        ALLOWED_CHAT_IDS=str(ALLOWED_GROUP),
    )
    yield process
    assert process.stop() == 0, process.log


@pytest.fixture
def allowed() -> int:
    return next(_allowed)


def refusal(user_id: int, chat_id: int) -> str:
    return visible_text(refusal_html(user_id, chat_id))


def assert_no_report_content(text: str) -> None:
    leaked = [word for word in REPORT_WORDS if word in text]
    assert not leaked, f"report content reached a refused user: {text!r}"


def wait_for_log(bot: BotProcess, ready: Callable[[str], bool], what: str) -> None:
    """The bot's log is the only witness of an update handled in silence."""
    deadline = time.monotonic() + TIMEOUT
    while not ready(bot.log):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; log:\n{bot.log[-3000:]}")
        time.sleep(0.05)


def test_startup_logs_the_access_mode(bot: BotProcess) -> None:
    assert "access: restricted to 6 users and 1 chat" in bot.log


@pytest.mark.parametrize(
    ("name", "value"), [("ALLOWED_USER_IDS", "@ann"), ("ALLOWED_CHAT_IDS", "x")]
)
def test_a_bad_id_list_is_one_line_and_exit_2(tmp_path: Path, name: str, value: str) -> None:
    done = run_bot_to_exit(bot_env(TELEGRAM_BOT_TOKEN="1:x", DATA_DIR=tmp_path, **{name: value}))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert name in line and "separated by commas" in line


# -- plain messages and every command ---------------------------------------------------------


@pytest.mark.parametrize(
    "text", [QUESTION, "/start", "/help", "/latest", "/latest 3", f"/ask {QUESTION}", "/nope"]
)
def test_a_refused_user_gets_one_polite_refusal_on_every_message_path(
    control: Control, user_id: int, text: str
) -> None:
    _, reply = ask(control, user_id, text)

    assert reply["text"] == refusal(user_id, user_id)
    assert f"your user id is {user_id}" in reply["text"]
    assert_no_report_content(reply["text"])
    assert not buttons(reply)


def test_a_refused_sticker_gets_the_refusal_too(control: Control, user_id: int) -> None:
    sticker = control.send_sticker(user_id, user_id)
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, sticker["message_id"])
    assert reply["text"] == refusal(user_id, user_id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (QUESTION, None),  # a question: the quote is checked
        ("/start", "👋 Hello, Tester!"),
        ("/help", "How to use me"),
        ("/latest", "Newest reports (1 of 1)"),
        (f"/ask {QUESTION}", None),
        ("/nope", "I don't know the command /nope"),
    ],
)
def test_an_allowed_user_gets_the_normal_answers(
    control: Control, allowed: int, text: str, expected: str | None
) -> None:
    _, reply = ask(control, allowed, text)
    if expected is None:
        assert "Seizing the border crossings" in (quote_of(reply) or "")
    else:
        assert reply["text"].startswith(expected)
    assert "this bot is private" not in reply["text"]


def test_one_refusal_per_chat_however_many_messages(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    first = control.send_message(user_id, user_id, QUESTION)
    control.send_message(user_id, user_id, "/latest")
    control.send_message(user_id, user_id, "hello?")

    wait_for_log(
        bot,
        lambda log: log.count(f"refused again, quietly: user {user_id} ") == 2,
        "the second and third message to be refused quietly",
    )
    (reply,) = control.sent_messages(user_id)
    assert reply["text"] == refusal(user_id, user_id)
    assert reply["message_id"] > first["message_id"]


# -- groups -------------------------------------------------------------------------------------


def test_everyone_in_an_allowed_group_may_ask(control: Control, user_id: int) -> None:
    question = group_says(control, ALLOWED_GROUP, user_id, f"/ask {QUESTION}")
    (reply,) = control.wait_for_messages(ALLOWED_GROUP, 1, TIMEOUT, question["message_id"])
    assert "Seizing the border crossings" in (quote_of(reply) or "")
    # ...but the group does not open the member's private chat.
    _, private = ask(control, user_id, QUESTION)
    assert private["text"] == refusal(user_id, user_id)


def test_an_allowed_user_in_a_group_that_is_not_allowed_gets_no_answer_there(
    control: Control, bot: BotProcess, group_id: int, allowed: int
) -> None:
    """Everyone in a group reads the answers given there, so the group must be allowed.
    The allowed user is told once where to ask instead; the rest is silence."""
    question = group_says(control, group_id, allowed, f"/ask {QUESTION}")
    group_says(control, group_id, allowed, f"@{BOT_USERNAME} {QUESTION}")
    group_says(control, group_id, allowed, "/latest 3")

    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT)
    assert reply["text"] == visible_text(refusal_html(allowed, group_id, Access.GROUP_NOT_ALLOWED))
    assert "Ask me in a private chat" in reply["text"]
    assert f"this chat's id is {group_id}" in reply["text"]
    assert reply["reply_to_message"]["message_id"] == question["message_id"]
    assert_no_report_content(reply["text"])
    wait_for_log(
        bot,
        lambda log: log.count(f"refused again, quietly: user {allowed} in chat {group_id}") == 2,
        "the other two to be refused quietly",
    )
    assert len(control.sent_messages(group_id)) == 1
    # In their private chat, and inline, they are still answered.
    _, private = ask(control, allowed, QUESTION)
    assert "Seizing the border crossings" in (quote_of(private) or "")
    inline = control.inline_query(allowed, "border crossings")
    assert control.wait_for_inline_answer(inline["id"], TIMEOUT)["results"]


def test_in_a_refused_group_only_what_is_addressed_to_the_bot_is_refused(
    control: Control, group_id: int, user_id: int
) -> None:
    group_says(control, group_id, user_id, "did anyone see the news?")
    group_says(control, group_id, user_id, "/help@some_other_bot")
    mention = group_says(control, group_id, user_id, f"@{BOT_USERNAME} {QUESTION}")

    # Each chat is handled in order, so once the mention is answered the chatter before
    # it has been handled too: in silence.
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT)
    assert reply["text"] == refusal(user_id, group_id)
    assert f"this chat's id is {group_id}" in reply["text"]
    assert reply["reply_to_message"]["message_id"] == mention["message_id"]


# -- inline mode ------------------------------------------------------------------------------


def test_a_refused_inline_query_is_answered_with_nothing(control: Control, user_id: int) -> None:
    query = control.inline_query(user_id, "border crossings")
    answer = control.wait_for_inline_answer(query["id"], TIMEOUT)

    assert answer["results"] == []
    assert answer["is_personal"] in (True, "true", "True")
    assert int(answer["cache_time"]) == 0
    assert answer["button"]["start_parameter"] == INLINE_START_PARAMETER
    assert_no_report_content(str(answer))


def test_an_allowed_inline_query_gets_answers_that_telegram_must_not_share(
    control: Control, allowed: int
) -> None:
    query = control.inline_query(allowed, "border crossings")
    answer = control.wait_for_inline_answer(query["id"], TIMEOUT)

    assert answer["results"]
    assert answer["is_personal"] in (True, "true", "True")  # no cached leak to others


# -- buttons on old messages ------------------------------------------------------------------


def test_a_button_from_before_access_was_restricted(tmp_path: Path) -> None:
    """An answer sent while the bot was open; then the owner restricts it."""
    with FakeBotAPI() as server:
        control = server.control
        stranger = 7_600_001
        group = -100_760_001
        open_bot = start_bot(server, tmp_path / "open")
        try:
            assert "access: open to everyone" in open_bot.log
            _, answer = ask(control, stranger, SEVERAL_ANSWERS)
            asked = group_says(control, group, stranger, f"/ask {SEVERAL_ANSWERS}")
            (in_group,) = control.wait_for_messages(group, 1, TIMEOUT, asked["message_id"])
            control.wait_until_acknowledged(TIMEOUT)
        finally:
            assert open_bot.stop() == 0
        (more,) = buttons(answer)
        (group_more,) = buttons(in_group)

        restricted = start_bot(server, tmp_path / "restricted", ALLOWED_USER_IDS=str(ALLOWED[0]))
        try:
            query = control.press_button(
                stranger, stranger, answer["message_id"], more["callback_data"]
            )
            answered: dict[str, Any] = control.wait_for_callback_answer(query["id"], TIMEOUT)
            assert answered["text"] == PRIVATE_BOT_PRESS
            assert control.edits(stranger) == []
            # In a group that is not allowed, even the allowed user's press is refused:
            # the next answer would be shown to the whole group.
            for user in (ALLOWED[0], stranger):
                pressed = control.press_button(
                    group, user, in_group["message_id"], group_more["callback_data"]
                )
                answered = control.wait_for_callback_answer(pressed["id"], TIMEOUT)
                expected = GROUP_NOT_ALLOWED_PRESS if user == ALLOWED[0] else PRIVATE_BOT_PRESS
                assert answered["text"] == expected
            assert control.edits(group) == []
        finally:
            assert restricted.stop(signal.SIGTERM) == 0
        assert "access: restricted to 1 user and 0 chats" in restricted.log
