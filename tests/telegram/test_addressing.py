"""Which updates the bot answers, as pure decisions: what the rate limit counts and what
the access guard refuses aloud are the same updates, the ones the handlers reply to."""

from __future__ import annotations

from typing import Any

import pytest

from bot.telegram.access import Refusal, refusal_for
from bot.telegram.addressing import KNOWN_COMMANDS, command_of, is_answered
from bot.telegram.limits import spends_budget
from bot.telegram.wording import COMMANDS
from tests.telegram.updates import ANN, BOT_ID, BOT_NAME, GROUP, update
from tests.telegram.updates import message_dict as message

STICKER = {
    "file_id": "x",
    "file_unique_id": "y",
    "type": "regular",
    "width": 1,
    "height": 1,
    "is_animated": False,
    "is_video": False,
}


def answered(built: dict[str, Any]) -> bool:
    """The three views of one new message, which must agree."""
    new = update(message=built)
    assert new.message is not None
    verdict = is_answered(new.message, BOT_NAME, BOT_ID)
    assert spends_budget(new, BOT_NAME, BOT_ID) is verdict
    expected = Refusal.MESSAGE if verdict else Refusal.SILENT
    assert refusal_for(new, BOT_NAME, BOT_ID) is expected
    return verdict


def test_the_known_commands_are_the_menus() -> None:
    assert {c.name for c in COMMANDS} == KNOWN_COMMANDS


def test_a_command_is_what_telegram_marks_as_one() -> None:
    def first(text: str) -> str | None:
        made = update(message=message(ANN, text)).message
        assert made is not None
        return command_of(made)

    assert first("/latest 3 refugees") == "/latest"
    assert first(f"/help@{BOT_NAME} now") == f"/help@{BOT_NAME}"
    assert first("hey /help") is None  # not at the start: a text that mentions a command
    assert first("/") is None and first("/ölçü") is None


@pytest.mark.parametrize(
    "built",
    [
        message(ANN, "Who won?"),
        message(ANN, "/latest 20 refugees"),
        message(ANN, "/nope"),
        message(ANN, "/help@some_other_bot"),  # answered: "I don't know the command /help"
        message(ANN, "???"),
        message(ANN, sticker=STICKER),
        message(ANN, caption="look", photo=[]),
    ],
)
def test_in_a_private_chat_every_message_is_answered(built: dict[str, Any]) -> None:
    assert answered(built)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (message(GROUP, "/ask who won"), True),
        (message(GROUP, "/latest"), True),  # our command handlers answer bare commands
        (message(GROUP, "/LATEST 3"), True),
        (message(GROUP, f"/help@{BOT_NAME}"), True),
        (message(GROUP, f"/nope@{BOT_NAME}"), True),  # the unknown-command hint
        (message(GROUP, f"hey @{BOT_NAME} who won?"), True),
        (message(GROUP, "who won?", reply_to_bot=True), True),
        (message(GROUP, sticker=STICKER, reply_to_bot=True), True),  # the not-text hint
        (message(GROUP, "/help@some_other_bot"), False),
        (message(GROUP, "/nope"), False),  # another bot's, perhaps: we do not answer it
        (message(GROUP, "/nope", reply_to_bot=True), False),
        (message(GROUP, "who won?"), False),  # people talking among themselves
        (message(GROUP, sticker=STICKER), False),
        (message(GROUP, caption=f"@{BOT_NAME} look", photo=[]), False),
        (message(GROUP, "/"), False),
    ],
)
def test_in_a_group_only_what_is_addressed_to_the_bot_is_answered(
    built: dict[str, Any], expected: bool
) -> None:
    assert answered(built) is expected


def test_presses_spend_the_budget_inline_edits_and_service_messages_do_not() -> None:
    query = {
        "id": "q1",
        "from": {"id": ANN, "is_bot": False, "first_name": "U"},
        "chat_instance": "c",
        "data": "more:2",
        "message": message(ANN, "an answer"),
    }
    assert spends_budget(update(callback_query=query), BOT_NAME, BOT_ID)
    inline = {"id": "i1", "from": query["from"], "query": "who won", "offset": ""}
    assert not spends_budget(update(inline_query=inline), BOT_NAME, BOT_ID)  # its own budget
    edited = update(edited_message=message(ANN, "Who won?", edit_date=1))
    assert not spends_budget(edited, BOT_NAME, BOT_ID)
    joined = update(message=message(ANN, new_chat_members=[query["from"]]))
    assert not spends_budget(joined, BOT_NAME, BOT_ID)
    assert refusal_for(joined, BOT_NAME, BOT_ID) is Refusal.SILENT
