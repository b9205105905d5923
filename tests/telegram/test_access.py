"""Who may use the bot: the settings, the policy, what a refused update gets, the throttle."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.telegram.access import (
    Refusal,
    refusal_for,
    refusal_html,
)
from bot.telegram.policy import Access, AccessPolicy, RefusalThrottle
from tests.botapi.html_check import parse_telegram_html
from tests.telegram.updates import ANN, BOT_ID, BOT_NAME, GROUP
from tests.telegram.updates import message_dict as _message
from tests.telegram.updates import update as _update
from tests.telegram.updates import user_dict as _user

BOB = 222


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


def test_a_listed_user_is_answered_in_private_and_inline_a_listed_chat_for_everyone() -> None:
    policy = AccessPolicy(frozenset({ANN}), frozenset({GROUP}))
    assert policy.allows(ANN, ANN)  # their private chat
    assert policy.allows(ANN, None)  # inline: no chat, so the user counts
    assert policy.allows(ANN, GROUP)
    assert policy.allows(BOB, GROUP)  # a listed group lets every member ask there
    assert not policy.allows(BOB, BOB)  # but not in private
    assert not policy.allows(BOB, None)  # nor inline
    assert not policy.allows(None, None)


def test_in_a_group_that_is_not_listed_nobody_is_answered() -> None:
    """An answer in a group is read by all its members, so the group must be allowed."""
    policy = AccessPolicy(frozenset({ANN}), frozenset({GROUP}))
    assert policy.check(ANN, -1) is Access.GROUP_NOT_ALLOWED
    assert policy.check(BOB, -1) is Access.STRANGER
    assert policy.check(None, -1) is Access.STRANGER
    assert not policy.allows(ANN, -1)
    only_users = AccessPolicy(frozenset({ANN}))
    assert only_users.check(ANN, -1) is Access.GROUP_NOT_ALLOWED
    assert only_users.check(ANN, ANN) is Access.ALLOWED
    assert AccessPolicy().check(BOB, -1) is Access.ALLOWED  # open: everyone, everywhere


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


def test_an_allowed_user_in_a_group_is_told_to_ask_in_private() -> None:
    text = parse_telegram_html(refusal_html(ANN, GROUP, Access.GROUP_NOT_ALLOWED))
    assert "only answer in the groups my owner has allowed" in text
    assert "Ask me in a private chat" in text
    assert f"this chat's id is {GROUP}" in text
    assert "your user id" not in text  # they are allowed: their id is not the problem


def test_the_throttle_refuses_once_per_chat_per_interval() -> None:
    throttle = RefusalThrottle(interval=600.0)
    assert throttle.should_refuse(BOB, now=1000.0)
    assert not throttle.should_refuse(BOB, now=1001.0)
    assert not throttle.should_refuse(BOB, now=1599.0)
    assert throttle.should_refuse(GROUP, now=1001.0)  # chats are counted apart
    assert throttle.should_refuse(BOB, now=1600.0)
    assert not throttle.should_refuse(BOB, now=1600.5)
