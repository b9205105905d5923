"""Arbitrary Unicode through the real handlers of `python -m bot` into the strict Bot API
server: control characters, right-to-left marks, emoji joined with ZWJ, lone surrogates,
`<` and `&`, HTML and Markdown fragments, 10,000-character strings; as a private message,
after /ask, /latest or a slash, as a mention in a group, and as an inline query.

For every input: exactly one reply, which the server accepted (so valid Telegram HTML of
at most 4096 characters), and the process stays up.  "Exactly one" is checked with a
second, plain question in the same chat: chats are handled in order, so when its answer
is there, everything the hostile message caused is there too.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bot.telegram.html import render_error, visible_text
from tests.botapi.control import MAX_INLINE_QUERY_CHARS, Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import BOT_USERNAME, TIMEOUT, BotProcess, ask, quote_of, start_bot
from tests.e2e.live_helpers import seeded_folder
from tests.hostile_text import hostile_text, utf8_clean

EXAMPLES = 150
SENTINEL = "What did Faiz Amr say about the border crossings?"
APOLOGY = visible_text(render_error().text)
SHAPES = ("private", "ask", "latest", "slash", "group", "inline")
RAN: Counter[str] = Counter()
_users = itertools.count(9_100_001)
_groups = itertools.count(-100_910_001, -1)


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    process = start_bot(server, tmp_path_factory.mktemp("hostile-input"))
    yield process
    print(f"\nhostile input through the bot: {sum(RAN.values())} generated inputs {dict(RAN)}")
    assert process.stop() == 0, process.log


def replies_up_to_sentinel(
    control: Control, chat_id: int, first_id: int, sentinel_id: int
) -> list[dict[str, Any]]:
    """The bot's messages in the chat after `first_id`, once the sentinel is answered."""
    world = control.world

    def answered() -> bool:
        return any(
            m.get("reply_to_message", {}).get("message_id") == sentinel_id
            for m in world.bot_messages(chat_id)
        )

    with world.cond:
        world.wait(
            answered,
            TIMEOUT,
            lambda: f"no answer to the sentinel in chat {chat_id}: {world.failed_calls(chat_id)}",
        )
        messages = [m for m in world.bot_messages(chat_id) if m["message_id"] > first_id]
    cut = next(
        i
        for i, m in enumerate(messages)
        if m.get("reply_to_message", {}).get("message_id") == sentinel_id
    )
    return messages[:cut]


def refused_calls(control: Control, chat_id: int) -> list[dict[str, Any]]:
    return [
        c
        for c in control.calls()
        if c["status"] not in (200, None) and str(c["params"].get("chat_id")) == str(chat_id)
    ]


def in_a_chat(control: Control, shape: str, text: str) -> None:
    if shape == "group":
        chat_id, user_id = next(_groups), next(_users)
        kind = "supergroup"
        message = f"@{BOT_USERNAME} {text}"
        sentinel = f"/ask {SENTINEL}"
    else:
        chat_id = user_id = next(_users)
        kind = "private"
        prefix = {"private": "", "ask": "/ask ", "latest": "/latest ", "slash": "/"}[shape]
        message = prefix + text
        sentinel = SENTINEL
    assume(message.strip())  # Telegram delivers no empty messages
    hostile = control.send_message(chat_id, user_id, message, chat_type=kind)
    check = control.send_message(chat_id, user_id, sentinel, chat_type=kind)

    replies = replies_up_to_sentinel(control, chat_id, hostile["message_id"], check["message_id"])

    assert len(replies) == 1, replies
    (reply,) = replies
    assert reply["text"] != APOLOGY
    assert 0 < len(reply["text"]) <= 4096 and utf8_clean(reply["text"])
    assert refused_calls(control, chat_id) == []


def inline(control: Control, text: str) -> None:
    query = control.inline_query(next(_users), text[:MAX_INLINE_QUERY_CHARS])
    answer = control.wait_for_inline_answer(query["id"], TIMEOUT)
    for result in answer["results"]:
        assert len(result["input_message_content"]["message_text"]) <= 4096
    refused = [
        c
        for c in control.calls("answerInlineQuery")
        if c["params"].get("inline_query_id") == query["id"] and c["status"] != 200
    ]
    assert refused == []


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(shape=st.sampled_from(SHAPES), text=hostile_text)
# Cases the bot echoes back or that are easy to get wrong, always tried first.
@example(shape="latest", text="\ud83d half an emoji")
@example(shape="slash", text="x\udfff")
@example(shape="latest", text="<b>" * 3000)
@example(shape="private", text="\x00\u202e<b>&nbsp;</blockquote> *bold* [x](http://y)")
@example(shape="group", text="\U0001f469\u200d\U0001f469\u200d\U0001f467 & <i>")
@example(shape="ask", text="a" * 10_000)
@example(shape="private", text="\u200f" * 10_000)
@example(shape="inline", text="\ud800<&>")
def test_every_hostile_input_gets_exactly_one_valid_reply(
    control: Control, bot: BotProcess, shape: str, text: str
) -> None:
    if shape == "inline":
        inline(control, text)
    else:
        in_a_chat(control, shape, text)
    RAN[shape] += 1
    assert bot.process is not None and bot.process.poll() is None, bot.log[-3000:]


def test_nothing_went_wrong_inside(bot: BotProcess) -> None:
    assert sum(RAN.values()) >= EXAMPLES // 2, RAN  # the property test above really ran
    assert "error while handling update" not in bot.log
    assert "Traceback" not in bot.log


# C0 and C1 control characters and DEL, except newline and tab.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strings(value: object) -> Iterator[str]:
    """Every string inside a call's parameters, however deeply nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_nul_characters_in_a_jsonl_report_never_reach_telegram(tmp_path: Path) -> None:
    """A JSON Lines export may hold "\\u0000" escapes; no message the bot sends holds one."""
    dirty = {
        "id": "port-1",
        "title": "Port\u0000 of Azmar reopens\u001b[2J",
        "text": (
            "The port of Azmar\u0000 reopened on Monday\u0000 after the storm.\u0007\n\n"
            "Ferries to the island\u0000 leave again\u007f at seven\u0085every morning."
        ),
        "source": "Coast\u0000 News",
        "url": "https://example.org/port",
    }
    reports = seeded_folder(tmp_path / "reports")  # more than one report, for the idf
    (reports / "export.jsonl").write_text(json.dumps(dirty) + "\n", encoding="utf-8")
    user = 9_300_001
    with FakeBotAPI() as server:
        control = server.control
        bot = start_bot(server, tmp_path / "state", REPORTS_DIR=reports)
        try:
            _, answer = ask(control, user, "When did the port of Azmar reopen?")
            _, latest = ask(control, user, "/latest")
            _, start = ask(control, user, "/start")
            inline = control.inline_query(user, "port of Azmar")
            found = control.wait_for_inline_answer(inline["id"], TIMEOUT)
        finally:
            assert bot.stop() == 0, bot.log

    assert "reopened on Monday after the storm." in (quote_of(answer) or "")
    assert "Port of Azmar reopens" in latest["text"] and "Coast News" in latest["text"]
    assert start["text"].startswith("👋")
    assert found["results"]
    sent = [
        c
        for c in control.calls()
        if c["method"] in ("sendMessage", "editMessageText", "answerInlineQuery")
    ]
    assert len(sent) >= 4
    dirty_calls = [c for c in sent if any(CONTROL.search(text) for text in strings(c["params"]))]
    assert dirty_calls == []
    assert all(c["status"] == 200 for c in sent)
