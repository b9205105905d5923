"""Who may use the bot: the settings, the policy, what a refused update gets, the throttle."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.config import ConfigError, Settings
from bot.telegram.access import (
    Refusal,
    refusal_for,
    refusal_html,
)
from bot.telegram.policy import AccessPolicy, RefusalThrottle
from tests.botapi.html_check import parse_telegram_html

BOT_ID = 1000001
BOT_NAME = "reports_test_bot"
ANN = 111
BOB = 222
GROUP = -100_555


# -- settings --------------------------------------------------------------------------


def test_ids_are_read_from_commas_and_spaces() -> None:
    settings = Settings.from_env(
        {"ALLOWED_USER_IDS": " 111, 222 333,,", "ALLOWED_CHAT_IDS": "-1001234567890 ,42"}
    )
    assert settings.allowed_user_ids == {111, 222, 333}
    assert settings.allowed_chat_ids == {-1001234567890, 42}


def test_no_ids_means_open() -> None:
    settings = Settings.from_env({"ALLOWED_USER_IDS": "  ", "ALLOWED_CHAT_IDS": ""})
    assert settings.allowed_user_ids == frozenset() == settings.allowed_chat_ids
    assert not AccessPolicy.from_settings(settings).restricted


@pytest.mark.parametrize(
    ("name", "value", "bad"),
    [
        ("ALLOWED_USER_IDS", "111,@ann", "'@ann'"),
        ("ALLOWED_USER_IDS", "111;222", "'111;222'"),
        ("ALLOWED_USER_IDS", "-5", "'-5'"),  # user ids are positive
        ("ALLOWED_USER_IDS", "0", "'0'"),
        ("ALLOWED_CHAT_IDS", "-100abc", "'-100abc'"),
        ("ALLOWED_CHAT_IDS", "1.5", "'1.5'"),
    ],
)
def test_a_bad_id_says_which_and_how_to_fix_it(name: str, value: str, bad: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    message = str(raised.value)
    assert name in message and bad in message
    assert "separated by commas" in message and "e.g." in message


# -- the policy --------------------------------------------------------------------------


def test_open_policy_allows_everyone_and_says_so() -> None:
    policy = AccessPolicy()
    assert policy.allows(ANN, ANN) and policy.allows(None, None)
    assert policy.describe().startswith("open to everyone")


def test_listed_user_is_allowed_anywhere_others_only_in_listed_chats() -> None:
    policy = AccessPolicy(frozenset({ANN}), frozenset({GROUP}))
    assert policy.allows(ANN, ANN)  # private chat
    assert policy.allows(ANN, -1)  # any group
    assert policy.allows(ANN, None)  # inline: no chat
    assert policy.allows(BOB, GROUP)  # a listed group lets every member ask there
    assert not policy.allows(BOB, BOB)  # but not in private
    assert not policy.allows(BOB, None)  # nor inline
    assert not policy.allows(None, None)


@pytest.mark.parametrize(
    ("users", "chats", "described"),
    [
        ({ANN}, set(), "restricted to 1 user and 0 chats"),
        ({ANN, BOB}, {GROUP}, "restricted to 2 users and 1 chat"),
        (set(), {GROUP, -2}, "restricted to 0 users and 2 chats"),
    ],
)
def test_describe_counts_users_and_chats(users: set[int], chats: set[int], described: str) -> None:
    assert AccessPolicy(frozenset(users), frozenset(chats)).describe() == described


# -- what a refused update gets ------------------------------------------------------------


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "U"}


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "U"}
    return {"id": chat_id, "type": "supergroup", "title": "G"}


def _message(
    chat_id: int, text: str | None = None, reply_to_bot: bool = False, **extra: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 7,
        "date": 0,
        "chat": _chat(chat_id),
        "from": _user(ANN),
        **extra,
    }
    if text is not None:
        message["text"] = text
    if reply_to_bot:
        message["reply_to_message"] = {
            "message_id": 6,
            "date": 0,
            "chat": _chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Reports"},
            "text": "an answer",
        }
    return message


def _update(**fields: Any) -> Update:
    update = Update.de_json({"update_id": 1, **fields}, None)
    assert update is not None
    return update


def _refusal(**fields: Any) -> Refusal:
    return refusal_for(_update(**fields), BOT_NAME, BOT_ID)


def test_private_messages_of_every_kind_get_the_message_refusal() -> None:
    assert _refusal(message=_message(ANN, "Who won?")) is Refusal.MESSAGE
    assert _refusal(message=_message(ANN, "/latest 3")) is Refusal.MESSAGE
    sticker = {
        "file_id": "x",
        "file_unique_id": "y",
        "type": "regular",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
    }
    assert _refusal(message=_message(ANN, sticker=sticker)) is Refusal.MESSAGE


@pytest.mark.parametrize(
    ("text", "reply_to_bot", "expected"),
    [
        ("/ask who won", False, Refusal.MESSAGE),
        ("/latest", False, Refusal.MESSAGE),  # our command handlers answer bare commands
        (f"/help@{BOT_NAME}", False, Refusal.MESSAGE),
        ("/help@some_other_bot", False, Refusal.SILENT),
        (f"hey @{BOT_NAME} who won?", False, Refusal.MESSAGE),
        ("who won?", True, Refusal.MESSAGE),
        ("who won?", False, Refusal.SILENT),  # people talking among themselves
        ("/", False, Refusal.SILENT),
        ("   ", False, Refusal.SILENT),
    ],
)
def test_in_groups_only_what_is_addressed_to_the_bot_is_refused_aloud(
    text: str, reply_to_bot: bool, expected: Refusal
) -> None:
    assert _refusal(message=_message(GROUP, text, reply_to_bot=reply_to_bot)) is expected


def test_button_presses_inline_queries_and_edits() -> None:
    query = {
        "id": "q1",
        "from": _user(BOB),
        "chat_instance": "c",
        "data": "more:2",
        "message": _message(GROUP, "an answer"),
    }
    assert _refusal(callback_query=query) is Refusal.CALLBACK
    inline = {"id": "i1", "from": _user(BOB), "query": "who won", "offset": ""}
    assert _refusal(inline_query=inline) is Refusal.INLINE
    assert _refusal(edited_message=_message(ANN, "Who won?", edit_date=1)) is Refusal.SILENT


def test_the_refusal_names_the_ids_and_is_valid_telegram_html() -> None:
    private = parse_telegram_html(refusal_html(BOB, BOB))
    assert "this bot is private" in private
    assert f"your user id is {BOB}" in private
    assert "chat's id" not in private  # the same number twice says nothing
    group = parse_telegram_html(refusal_html(BOB, GROUP))
    assert f"your user id is {BOB}" in group and f"this chat's id is {GROUP}" in group


def test_the_throttle_refuses_once_per_chat_per_interval() -> None:
    throttle = RefusalThrottle(interval=600.0)
    assert throttle.should_refuse(BOB, now=1000.0)
    assert not throttle.should_refuse(BOB, now=1001.0)
    assert not throttle.should_refuse(BOB, now=1599.0)
    assert throttle.should_refuse(GROUP, now=1001.0)  # chats are counted apart
    assert throttle.should_refuse(BOB, now=1600.0)
    assert not throttle.should_refuse(BOB, now=1600.5)
