"""The fake Telegram Bot API, driven over HTTP the way a bot drives Telegram."""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.botapi import (
    BOT_USER,
    BotAPIClient,
    Control,
    ControlRequestError,
    FakeBotAPI,
    TelegramHTMLError,
    find_free_port,
    parse_telegram_html,
    parse_telegram_html_entities,
)
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.html_check import BadRequest, message_text

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory

REPO = Path(__file__).resolve().parent.parent
USER = 4242
GROUP = -100777


class BotHTTP:
    """A minimal bot-side caller: POST ``{base_url}{token}/{method}``, give status and JSON."""

    def __init__(self, api: FakeBotAPI, token: str | None = None) -> None:
        self.prefix = f"{api.base_url}{token or api.token}"
        self.http = httpx.Client(timeout=10)

    def call(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        response = self.http.post(f"{self.prefix}/{method}", json=params)
        return response.status_code, response.json()

    def form(self, method: str, **params: str) -> tuple[int, dict[str, Any]]:
        """Post like python-telegram-bot: form fields, nested objects as JSON text."""
        response = self.http.post(f"{self.prefix}/{method}", data=params)
        return response.status_code, response.json()

    def ok(self, method: str, **params: Any) -> Any:
        status, payload = self.call(method, **params)
        assert (status, payload["ok"]) == (200, True), payload
        return payload["result"]

    def refused(self, method: str, **params: Any) -> str:
        status, payload = self.call(method, **params)
        assert status == payload["error_code"] != 200, payload
        description: str = payload["description"]
        return description


@pytest.fixture
def bot(botapi: FakeBotAPI) -> Iterator[BotHTTP]:
    caller = BotHTTP(botapi)
    yield caller
    caller.http.close()


def keyboard(*data: str) -> dict[str, Any]:
    return {
        "inline_keyboard": [[{"text": f"b{i}", "callback_data": d} for i, d in enumerate(data)]]
    }


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# --- Telegram HTML ---------------------------------------------------------------------------


def test_html_gives_plain_text_and_entities_with_utf16_offsets() -> None:
    parsed = parse_telegram_html_entities(
        '🙂 <b>bold <i>both</i></b> &lt;x&gt; &amp; &quot;q&quot; &#65;&#x42; <a href="https://e.org/?a=1&amp;b=2">link</a>'
    )
    assert parsed.text == '🙂 bold both <x> & "q" AB link'
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "text_link", "offset": 26, "length": 4, "url": "https://e.org/?a=1&b=2"},
    ]


def test_every_documented_tag_is_accepted() -> None:
    markup = (
        "<b>a</b><strong>a</strong><i>a</i><em>a</em><u>a</u><ins>a</ins><s>a</s>"
        '<strike>a</strike><del>a</del><span class="tg-spoiler">a</span><tg-spoiler>a</tg-spoiler>'
        '<a href="tg://user?id=1">a</a><tg-emoji emoji-id="5368324170671202286">a</tg-emoji>'
        '<code>a</code><pre>a</pre><pre><code class="language-python">a</code></pre>'
        "<blockquote>a</blockquote><blockquote expandable>a</blockquote>"
    )
    parsed = parse_telegram_html_entities(markup)
    assert parsed.text == "a" * 18
    types = [e["type"] for e in parsed.entities]
    assert types == [
        "bold", "bold", "italic", "italic", "underline", "underline", "strikethrough",
        "strikethrough", "strikethrough", "spoiler", "spoiler", "text_link", "custom_emoji",
        "code", "pre", "pre", "blockquote", "expandable_blockquote",
    ]  # fmt: skip
    assert parsed.entities[15]["language"] == "python"


def test_named_entities_need_no_semicolon_and_tag_names_ignore_case() -> None:
    assert parse_telegram_html("<B>x&lt</b>&gt&amp&quot") == 'x<>&"'


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("é <br/>", 'Unsupported start tag "br/" at byte offset 3'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</i>", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b =x>y</b>", 'Empty attribute name in the tag "b" at byte offset 0'),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        ("<a href=", 'Unclosed start tag "a" at byte offset 0'),
        ("<a href=x,y>z</a>", "Unexpected end of name token at byte offset 8"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<tg-emoji>y</tg-emoji>", "Invalid custom emoji identifier specified"),
        (
            "&#xD800;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
        ("a &nbsp; b", 'Unsupported entity "&nbsp;" at byte offset 2'),
        ("AT&T", 'Character "&" at byte offset 2 must be escaped as "&amp;"'),
        ("&#0;", 'Unsupported entity "&#0;" at byte offset 0'),
    ],
)
def test_html_errors_carry_telegram_text_and_byte_offsets(markup: str, detail: str) -> None:
    with pytest.raises(TelegramHTMLError) as caught:
        parse_telegram_html(markup)
    assert caught.value.detail == detail
    assert caught.value.description == f"Bad Request: can't parse entities: {detail}"


def test_lenient_ampersand_keeps_unknown_references_literally_like_telegram() -> None:
    text = "AT&T &nbsp; &#0; &copy;"
    assert parse_telegram_html(text, strict_ampersand=False) == text


def test_empty_tags_give_no_entity_and_links_without_href_are_dropped() -> None:
    parsed = parse_telegram_html_entities("<b></b>x<a>y</a>")
    assert (parsed.text, parsed.entities) == ("xy", [])


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_escaped_text_always_parses_back_to_itself(text: str) -> None:
    assert parse_telegram_html(html.escape(text)) == text
    assert parse_telegram_html(f"<b>{html.escape(text)}</b>") == text


def test_message_text_trims_like_telegram_and_moves_entities() -> None:
    formatted = message_text("\n  <b> hi</b> there \n", "HTML")
    assert formatted.text == "hi there"
    assert formatted.entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_message_length_counts_code_points_after_parsing() -> None:
    assert len(message_text("😀" * 4096, None).text) == 4096
    assert message_text("<b>" + "x" * 4096 + "</b>", "HTML").text == "x" * 4096
    with pytest.raises(BadRequest, match=r"^Bad Request: message is too long$"):
        message_text("😀" * 4097, None)
    with pytest.raises(BadRequest, match=r"^Bad Request: message text is empty$"):
        message_text("<b> </b>", "HTML")


# --- tokens, methods, getUpdates --------------------------------------------------------------


def test_get_me_answers_the_bot_user(bot: BotHTTP) -> None:
    me = bot.ok("getMe")
    assert me["id"] == BOT_USER["id"] == 1000001
    assert me["is_bot"] is True
    assert me["username"] == "reports_test_bot"
    assert me["supports_inline_queries"] is True


def test_wrong_token_is_unauthorized(botapi: FakeBotAPI) -> None:
    status, payload = BotHTTP(botapi, token="1000001:WRONG").call("getMe")
    assert (status, payload) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )


def test_unknown_method_and_path_are_not_found(bot: BotHTTP, botapi: FakeBotAPI) -> None:
    not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
    assert bot.call("sendTelepathy", chat_id=1) == (404, not_found)
    response = httpx.get(f"{botapi.control_url}/nothing/here")
    assert (response.status_code, response.json()) == (404, not_found)


def test_method_names_are_case_insensitive(bot: BotHTTP) -> None:
    assert bot.ok("GETME")["id"] == 1000001


def test_long_poll_waits_and_returns_the_update_sent_meanwhile(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    result: list[Any] = []
    poll = threading.Thread(target=lambda: result.append(bot.ok("getUpdates", timeout=10)))
    poll.start()
    botapi.control.wait_for_polling(timeout=5)
    sent = botapi.client.send_message(USER, USER, "hello")
    poll.join(10)
    [updates] = result
    assert [u["message"] for u in updates] == [sent]
    assert sent["chat"] == {"id": USER, "first_name": "Tester", "type": "private"}
    assert sent["from"]["is_bot"] is False


def test_long_poll_without_updates_returns_empty_after_timeout(bot: BotHTTP) -> None:
    assert bot.ok("getUpdates", timeout=0.2) == []


def test_offset_acknowledges_earlier_updates(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    for text in ("one", "two", "three"):
        botapi.control.send_message(USER, USER, text)
    first = bot.ok("getUpdates")
    assert [u["message"]["text"] for u in first] == ["one", "two", "three"]
    # Without a new offset, nothing is confirmed: the same updates come again.
    assert bot.ok("getUpdates") == first
    rest = bot.ok("getUpdates", offset=first[1]["update_id"])
    assert [u["message"]["text"] for u in rest] == ["two", "three"]
    assert bot.ok("getUpdates", offset=first[2]["update_id"] + 1, timeout=0) == []
    states = {
        u["update_id"]: (u["acknowledged"], u["deliveries"]) for u in botapi.control.updates()
    }
    assert states == {
        first[0]["update_id"]: (True, 2),
        first[1]["update_id"]: (True, 3),
        first[2]["update_id"]: (True, 3),
    }
    botapi.control.wait_until_acknowledged(timeout=1)


def test_limit_and_negative_offset(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    for n in range(5):
        botapi.control.send_message(USER, USER, f"m{n}")
    assert [u["message"]["text"] for u in bot.ok("getUpdates", limit=2)] == ["m0", "m1"]
    assert [u["message"]["text"] for u in bot.ok("getUpdates", offset=-2)] == ["m3", "m4"]
    assert [u["message"]["text"] for u in bot.ok("getUpdates")] == ["m3", "m4"]


def test_allowed_updates_filters_updates_created_afterwards(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    bot.ok("getUpdates", allowed_updates=["callback_query"], timeout=0)
    botapi.control.send_message(USER, USER, "filtered out")
    assert bot.ok("getUpdates", timeout=0) == []
    bot.ok("getUpdates", allowed_updates=[], timeout=0)
    botapi.control.send_message(USER, USER, "back to defaults")
    assert [u["message"]["text"] for u in bot.ok("getUpdates")] == ["back to defaults"]


def test_a_second_poller_terminates_the_first_with_conflict(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    outcome: list[tuple[int, dict[str, Any]]] = []
    first = threading.Thread(target=lambda: outcome.append(bot.call("getUpdates", timeout=10)))
    first.start()
    botapi.control.wait_for_polling(timeout=5)
    assert BotHTTP(botapi).ok("getUpdates", timeout=0) == []
    first.join(10)
    assert outcome == [
        (
            409,
            {
                "ok": False,
                "error_code": 409,
                "description": "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            },
        )
    ]


def test_delete_webhook_can_drop_pending_updates(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "old")
    assert bot.ok("deleteWebhook") is True
    assert bot.ok("getWebhookInfo")["pending_update_count"] == 1
    assert bot.ok("deleteWebhook", drop_pending_updates=True) is True
    assert bot.ok("getUpdates") == []


# --- sendMessage ----------------------------------------------------------------------------


def test_send_message_returns_a_realistic_message(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    question = botapi.control.send_message(USER, USER, "what happened?")
    sent = bot.ok(
        "sendMessage",
        chat_id=USER,
        text="<blockquote>It <b>rained</b>.</blockquote>\n— <i>Daily</i>",
        parse_mode="HTML",
        reply_parameters={"message_id": question["message_id"]},
        reply_markup=keyboard("more:1"),
        link_preview_options={"is_disabled": True},
    )
    assert sent["message_id"] == question["message_id"] + 1
    assert sent["from"] == {
        "id": 1000001,
        "is_bot": True,
        "first_name": "Reports",
        "username": "reports_test_bot",
    }
    assert sent["chat"] == question["chat"]
    assert isinstance(sent["date"], int)
    assert sent["text"] == "It rained.\n— Daily"
    assert sent["entities"] == [
        {"type": "blockquote", "offset": 0, "length": 10},
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "italic", "offset": 13, "length": 5},
    ]
    assert sent["reply_markup"] == keyboard("more:1")
    assert sent["reply_to_message"] == question
    assert botapi.control.sent_messages(USER) == [sent]


def test_form_encoded_requests_with_json_text_fields_work_like_json(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    question = botapi.control.send_message(USER, USER, "q")
    sent = bot.form(
        "sendMessage",
        chat_id=str(USER),
        text="<b>x</b>",
        parse_mode="HTML",
        reply_parameters=json.dumps({"message_id": question["message_id"]}),
        reply_markup=json.dumps(keyboard("d")),
        disable_notification="true",
    )[1]["result"]
    assert (sent["text"], sent["reply_markup"], sent["reply_to_message"]["text"]) == (
        "x",
        keyboard("d"),
        "q",
    )
    logged = botapi.control.calls("sendMessage")[-1]["params"]
    assert logged["reply_markup"] == keyboard("d")


def test_multipart_requests_work(botapi: FakeBotAPI) -> None:
    botapi.control.send_message(USER, USER, "q")
    response = httpx.post(
        f"{botapi.base_url}{botapi.token}/sendMessage",
        data={"chat_id": str(USER), "text": "multi"},
        files={"unused": ("a.txt", b"abc")},
    )
    assert response.json()["result"]["text"] == "multi"


def test_message_ids_increase_per_chat(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "q")
    botapi.control.send_message(GROUP, USER, "/ask x", chat_type="group")
    ids = [bot.ok("sendMessage", chat_id=USER, text=f"{n}")["message_id"] for n in range(3)]
    group_id = bot.ok("sendMessage", chat_id=GROUP, text="g")["message_id"]
    assert (ids, group_id) == ([2, 3, 4], 2)


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": ""}, "Bad Request: message text is empty"),
        ({"text": " \n "}, "Bad Request: message text is empty"),
        ({"text": "<b></b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"),
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        (
            {"text": "<b>" + "&lt;" * 4097 + "</b>", "parse_mode": "HTML"},
            "Bad Request: message is too long",
        ),
        (
            {"text": "<foo>x</foo>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0',
        ),
        (
            {"text": "<b>x", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        (
            {"text": "x</b>", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: Unexpected end tag at byte offset 1",
        ),
        (
            {"text": "&nbsp;", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported entity "&nbsp;" at byte offset 0',
        ),
        ({"text": "x", "parse_mode": "HTML5"}, "Bad Request: unsupported parse_mode"),
        ({"text": "x", "reply_markup": keyboard("d" * 65)}, "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "x", "reply_markup": keyboard("")}, "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "x", "reply_markup": keyboard("é" * 33)}, "Bad Request: BUTTON_DATA_INVALID"),
        (
            {"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "plain"}]]}},
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"text": "x", "reply_parameters": {"message_id": 999}},
            "Bad Request: message to be replied not found",
        ),
        ({"text": "x", "chat_id": 31337}, "Bad Request: chat not found"),
    ],
)
def test_send_message_refusals_use_telegram_text(
    botapi: FakeBotAPI,
    bot: BotHTTP,
    params: dict[str, Any],
    description: str,
) -> None:
    botapi.control.send_message(USER, USER, "hi")
    assert bot.refused("sendMessage", **{"chat_id": USER, **params}) == description
    assert botapi.control.sent_messages(USER) == []


def test_limits_accept_their_maximum(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "hi")
    assert bot.ok("sendMessage", chat_id=USER, text="x" * 4096)["text"] == "x" * 4096
    data = "é" * 32  # 64 bytes
    assert bot.ok("sendMessage", chat_id=USER, text="x", reply_markup=keyboard(data))
    sent = bot.ok(
        "sendMessage",
        chat_id=USER,
        text="x",
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
    )
    assert "reply_to_message" not in sent


def test_strings_that_are_not_utf8_are_refused(botapi: FakeBotAPI) -> None:
    botapi.control.send_message(USER, USER, "hi")
    body = b'{"chat_id": 4242, "text": "bad \\ud800 surrogate"}'
    response = httpx.post(
        f"{botapi.base_url}{botapi.token}/sendMessage",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.json()["description"] == "Bad Request: strings must be encoded in UTF-8"


# --- editMessageText, callbacks, inline -------------------------------------------------------


def test_edit_changes_the_message_and_keeps_its_reply(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    question = botapi.control.send_message(USER, USER, "q")
    sent = bot.ok(
        "sendMessage",
        chat_id=USER,
        text="first",
        reply_to_message_id=question["message_id"],
        reply_markup=keyboard("more:1"),
    )
    edited = bot.ok(
        "editMessageText",
        chat_id=USER,
        message_id=sent["message_id"],
        text="<b>second</b>",
        parse_mode="HTML",
        reply_markup=keyboard("more:2"),
    )
    assert (edited["text"], edited["reply_markup"]) == ("second", keyboard("more:2"))
    assert edited["reply_to_message"] == question
    assert "edit_date" in edited
    # Editing without reply_markup removes the keyboard, as in Telegram.
    last = bot.ok("editMessageText", chat_id=USER, message_id=sent["message_id"], text="third")
    assert "reply_markup" not in last
    assert botapi.control.message(USER, sent["message_id"]) == last
    assert [e["message"]["text"] for e in botapi.control.wait_for_edits(USER, 2, timeout=1)] == [
        "second",
        "third",
    ]


def test_edit_refusals(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    question = botapi.control.send_message(USER, USER, "q")
    sent = bot.ok(
        "sendMessage",
        chat_id=USER,
        text="<b>same</b>",
        parse_mode="HTML",
        reply_markup=keyboard("a"),
    )
    same = {
        "chat_id": USER,
        "message_id": sent["message_id"],
        "text": "<b>same</b>",
        "parse_mode": "HTML",
        "reply_markup": keyboard("a"),
    }
    assert bot.refused("editMessageText", **same) == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    # Same text, other formatting: that is a change.
    assert bot.ok("editMessageText", **{**same, "parse_mode": None, "text": "same"})
    assert (
        bot.refused("editMessageText", chat_id=USER, message_id=99, text="x")
        == "Bad Request: message to edit not found"
    )
    assert (
        bot.refused("editMessageText", chat_id=USER, message_id=question["message_id"], text="x")
        == "Bad Request: message can't be edited"
    )
    assert (
        bot.refused("editMessageText", inline_message_id="AgAAA", text="x")
        == "Bad Request: MESSAGE_ID_INVALID"
    )
    assert (
        bot.refused(
            "editMessageText",
            chat_id=USER,
            message_id=sent["message_id"],
            text="<i>x",
            parse_mode="HTML",
        ).startswith("Bad Request: can't parse entities: ")
    )  # fmt: skip


def test_press_button_sends_the_full_message_and_answers_are_recorded(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    question = botapi.control.send_message(USER, USER, "who said it?")
    sent = bot.ok(
        "sendMessage",
        chat_id=USER,
        text="answer",
        reply_parameters={"message_id": question["message_id"]},
        reply_markup={"inline_keyboard": [[{"text": "More", "callback_data": "more:1"}]]},
    )
    pressed = botapi.client.press_button(USER, USER, sent["message_id"], text="More")
    *_, update = bot.ok("getUpdates")
    assert update["callback_query"] == pressed
    assert pressed["data"] == "more:1"
    assert pressed["message"]["reply_to_message"] == question
    assert bot.ok("answerCallbackQuery", callback_query_id=pressed["id"], text="ok") is True
    assert botapi.client.wait_for_callback_answer(pressed["id"], timeout=1)["text"] == "ok"
    invalid = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert bot.refused("answerCallbackQuery", callback_query_id=pressed["id"]) == invalid
    assert bot.refused("answerCallbackQuery", callback_query_id="123") == invalid


def test_press_button_refuses_buttons_that_are_not_there(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    botapi.control.send_message(USER, USER, "q")
    sent = bot.ok("sendMessage", chat_id=USER, text="no buttons")
    with pytest.raises(ControlRequestError, match="no such button"):
        botapi.client.press_button(USER, USER, sent["message_id"], data="more:1")


def inline_result(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "article",
        "id": f"r{n}",
        "title": f"Result {n}",
        "input_message_content": {"message_text": f"<b>{n}</b>", "parse_mode": "HTML"},
        **extra,
    }


def test_inline_query_answer_is_recorded(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    query = botapi.client.inline_query(USER, "rain in paris")
    [update] = bot.ok("getUpdates")
    assert update["inline_query"] == query
    assert query["query"] == "rain in paris"
    results = [inline_result(n) for n in range(50)]
    assert bot.ok("answerInlineQuery", inline_query_id=query["id"], results=results) is True
    answer = botapi.client.wait_for_inline_answer(query["id"], timeout=1)
    assert answer["results"] == results


@pytest.mark.parametrize(
    ("results", "description"),
    [
        ([inline_result(n) for n in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
        ([inline_result(1), inline_result(1)], "Bad Request: RESULT_ID_DUPLICATE"),
        ([{**inline_result(1), "id": "x" * 65}], "Bad Request: RESULT_ID_INVALID"),
        ([{**inline_result(1), "id": ""}], "Bad Request: RESULT_ID_INVALID"),
        (
            [inline_result(1, reply_markup=keyboard("d" * 65))],
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            [
                {
                    **inline_result(1),
                    "input_message_content": {"message_text": "<x>", "parse_mode": "HTML"},
                }
            ],
            'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
        ),
        (
            [{**inline_result(1), "input_message_content": {"message_text": "y" * 4097}}],
            "Bad Request: message is too long",
        ),
    ],
)
def test_inline_answer_refusals(
    botapi: FakeBotAPI,
    bot: BotHTTP,
    results: list[dict[str, Any]],
    description: str,
) -> None:
    query = botapi.control.inline_query(USER, "q")
    assert bot.refused("answerInlineQuery", inline_query_id=query["id"], results=results) == (
        description
    )
    assert botapi.control.inline_answers() == {}


def test_chat_actions_and_commands(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "q")
    assert bot.ok("sendChatAction", chat_id=USER, action="typing") is True
    assert [a["action"] for a in botapi.control.chat_actions(USER)] == ["typing"]
    assert (
        bot.refused("sendChatAction", chat_id=USER, action="dancing")
        == "Bad Request: wrong parameter action in request"
    )
    commands = [
        {"command": "start", "description": "Welcome"},
        {"command": "latest", "description": "Newest"},
    ]
    assert bot.ok("setMyCommands", commands=commands) is True
    assert bot.ok("getMyCommands") == commands == botapi.client.my_commands()
    assert (
        bot.refused("setMyCommands", commands=[{"command": "Bad-Name", "description": "x"}])
        == "Bad Request: BOT_COMMAND_INVALID"
    )


# --- acting as users --------------------------------------------------------------------------


def test_group_messages_get_command_and_mention_entities_in_utf16(botapi: FakeBotAPI) -> None:
    message = botapi.client.send_message(
        GROUP, USER, "/ask@reports_test_bot 😀 @reports_test_bot why?", chat_type="supergroup"
    )
    assert message["chat"] == {"id": GROUP, "title": "Test supergroup 100777", "type": "supergroup"}
    assert message["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 21},
        {"type": "mention", "offset": 25, "length": 17},
    ]


def test_user_replies_carry_the_bot_message(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(GROUP, USER, "/ask x", chat_type="group")
    sent = bot.ok("sendMessage", chat_id=GROUP, text="answer")
    reply = botapi.control.send_message(
        GROUP, USER + 1, "and then?", chat_type="group", reply_to_message_id=sent["message_id"]
    )
    assert reply["reply_to_message"] == sent


def test_stickers_and_photos_are_messages_without_text(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    sticker = botapi.client.send_sticker(USER, USER)
    photo = botapi.client.send_photo(USER, USER, caption="look")
    updates = bot.ok("getUpdates")
    assert [u["message"] for u in updates] == [sticker, photo]
    assert "text" not in sticker and sticker["sticker"]["emoji"] == "👍"
    assert "text" not in photo and photo["caption"] == "look" and len(photo["photo"]) == 3


def test_control_refuses_what_telegram_clients_cannot_do(botapi: FakeBotAPI) -> None:
    client = botapi.client
    with pytest.raises(ControlRequestError, match="private chat"):
        client.send_message(USER + 1, USER, "x")
    with pytest.raises(ControlRequestError, match="negative"):
        client.send_message(5, USER, "x", chat_type="group")
    with pytest.raises(ControlRequestError, match="256"):
        client.inline_query(USER, "q" * 257)
    with pytest.raises(ControlRequestError, match="unknown control"):
        client._call("fly")


def test_waits_time_out_with_the_reason(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "q")
    bot.refused("sendMessage", chat_id=USER, text="<oops>", parse_mode="HTML")
    with pytest.raises(TimeoutError, match=r'Unsupported start tag \\?"oops'):
        botapi.client.wait_for_messages(USER, 1, timeout=0.1)


def test_reset_forgets_everything_but_update_ids_go_on(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "q")
    [before] = bot.ok("getUpdates")
    botapi.client.reset()
    assert botapi.control.calls() == []
    assert bot.refused("sendMessage", chat_id=USER, text="x") == "Bad Request: chat not found"
    botapi.control.send_message(USER, USER, "again")
    [after] = bot.ok("getUpdates", offset=before["update_id"] + 1)
    assert after["update_id"] > before["update_id"]


def test_client_mirrors_every_control_method() -> None:
    for name, method in inspect.getmembers(Control, inspect.isfunction):
        if name.startswith("_"):
            continue
        mirrored = getattr(BotAPIClient, name)
        expected = list(inspect.signature(method).parameters)
        assert list(inspect.signature(mirrored).parameters) == expected, name


# --- faults -----------------------------------------------------------------------------------


def test_flood_fault_answers_429_with_retry_after_then_recovers(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    botapi.control.send_message(USER, USER, "q")
    botapi.client.inject("sendMessage", "flood", count=2, retry_after=7)
    flood = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert bot.call("sendMessage", chat_id=USER, text="a") == (429, flood)
    assert bot.call("sendMessage", chat_id=USER, text="a") == (429, flood)
    assert bot.ok("sendMessage", chat_id=USER, text="a")["text"] == "a"
    assert [m["text"] for m in botapi.control.sent_messages(USER)] == ["a"]
    assert [(f["method"], f["kind"]) for f in botapi.client.fired_faults()] == [
        ("sendMessage", "flood"),
        ("sendMessage", "flood"),
    ]


def test_server_error_and_bad_gateway(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.send_message(USER, USER, "q")
    botapi.control.inject("sendMessage", "server_error")
    botapi.control.inject("sendMessage", "bad_gateway")
    assert bot.call("sendMessage", chat_id=USER, text="a") == (
        500,
        {"ok": False, "error_code": 500, "description": "Internal Server Error"},
    )
    response = bot.http.post(f"{bot.prefix}/sendMessage", json={"chat_id": USER, "text": "a"})
    assert response.status_code == 502
    assert "502 Bad Gateway" in response.text
    assert botapi.control.sent_messages(USER) == []


def test_timeout_fault_closes_the_connection_without_an_answer(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    botapi.control.send_message(USER, USER, "q")
    botapi.control.inject("sendMessage", "timeout", seconds=0.1)
    with pytest.raises(httpx.RemoteProtocolError):
        bot.call("sendMessage", chat_id=USER, text="lost")
    assert botapi.control.sent_messages(USER) == []
    # With process=True the message is sent; only the answer is lost.
    botapi.control.inject("sendMessage", "timeout", seconds=0.1, process=True)
    with pytest.raises(httpx.RemoteProtocolError):
        bot.call("sendMessage", chat_id=USER, text="sent, answer lost")
    assert [m["text"] for m in botapi.control.sent_messages(USER)] == ["sent, answer lost"]
    [call] = [c for c in botapi.control.calls("sendMessage") if c["fault"]][-1:]
    assert (call["status"], call["fault"]) == (None, "timeout")


def test_a_client_read_timeout_sees_a_timeout(botapi: FakeBotAPI) -> None:
    botapi.control.inject("getMe", "timeout", seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{botapi.base_url}{botapi.token}/getMe", timeout=0.2)


def test_faults_on_any_method_spare_the_control_endpoints(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    botapi.client.inject("*", "server_error", count=3)
    assert botapi.client.send_message(USER, USER, "control still works")["text"]
    statuses = [bot.call("getMe")[0] for _ in range(4)]
    assert statuses == [500, 500, 500, 200]


def test_random_faults_are_reproducible_from_the_seed(
    botapi_factory: Callable[..., FakeBotAPI],
) -> None:
    def run() -> list[int]:
        api = botapi_factory()
        api.client.inject_random("getMe", 0.5, ["flood", "server_error"], seed=11)
        caller = BotHTTP(api)
        return [caller.call("getMe")[0] for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {200, 429, 500} == set(first)


def test_fault_requests_that_make_no_sense_are_refused(botapi: FakeBotAPI) -> None:
    with pytest.raises(ControlRequestError, match="unknown fault kind"):
        botapi.client.inject("sendMessage", "meteor")
    with pytest.raises(ControlRequestError, match="does not implement"):
        botapi.client.inject("sendPigeon", "flood")
    with pytest.raises(ControlRequestError, match="probability"):
        botapi.client.inject_random("getMe", 2.0, ["flood"])


def test_clear_faults_stops_random_faults(botapi: FakeBotAPI, bot: BotHTTP) -> None:
    botapi.control.inject_random("getMe", 1.0, ["server_error"])
    assert bot.call("getMe")[0] == 500
    botapi.control.clear_faults()
    assert bot.call("getMe")[0] == 200


# --- the listener -----------------------------------------------------------------------------


def test_listener_stops_and_starts_on_the_same_port_keeping_state(
    botapi: FakeBotAPI,
    bot: BotHTTP,
) -> None:
    port = botapi.port
    botapi.control.send_message(USER, USER, "kept")
    outcome: list[Any] = []

    def poll() -> None:
        try:
            outcome.append(BotHTTP(botapi).call("getUpdates", offset=10**6, timeout=10))
        except httpx.HTTPError as error:
            outcome.append(error)

    held = threading.Thread(target=poll)
    held.start()
    botapi.control.wait_for_polling(timeout=5)
    botapi.stop_listening()
    held.join(5)
    assert isinstance(outcome[0], httpx.RemoteProtocolError | httpx.ReadError)
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{botapi.base_url}{botapi.token}/getMe")
    botapi.start_listening()
    assert botapi.port == port
    assert bot.ok("sendMessage", chat_id=USER, text="after restart")["text"] == "after restart"


def test_a_server_can_come_up_after_its_port_was_chosen() -> None:
    api = FakeBotAPI(port=find_free_port())
    url = f"{api.base_url}{api.token}/getMe"
    with pytest.raises(httpx.ConnectError):
        httpx.post(url)
    with api:
        assert httpx.post(url).json()["ok"] is True


def test_outage_over_http_makes_the_server_unreachable_then_back(botapi: FakeBotAPI) -> None:
    botapi.client.outage(0.3)
    wait_until(lambda: not botapi.listening)
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{botapi.base_url}{botapi.token}/getMe")
    wait_until(lambda: botapi.listening)
    assert httpx.post(f"{botapi.base_url}{botapi.token}/getMe").json()["ok"] is True


def test_standalone_server_prints_its_address_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.botapi", "--port", "0", "--token", "9:T"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["base_url"] == f"http://127.0.0.1:{info['port']}/bot"
        assert info["token"] == "9:T"
        assert httpx.post(f"{info['base_url']}9:T/getMe").json()["result"]["id"] == 1000001
        client = BotAPIClient(info["control_url"])
        assert client.send_message(1, 1, "hi")["text"] == "hi"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


# --- python-telegram-bot talks to it ----------------------------------------------------------


async def test_python_telegram_bot_talks_to_the_server(botapi: FakeBotAPI) -> None:
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
    from telegram.error import BadRequest as PTBBadRequest
    from telegram.error import RetryAfter

    async with Bot(botapi.token, base_url=botapi.base_url) as ptb:
        me = await ptb.get_me()
        assert (me.id, me.username) == (1000001, "reports_test_bot")
        question = botapi.control.send_message(USER, USER, "is it raining?")
        [update] = await ptb.get_updates(timeout=1)
        assert update.message is not None and update.message.text == "is it raining?"
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
        sent = await ptb.send_message(
            USER,
            "<blockquote>Yes, <b>heavily</b>.</blockquote>",
            parse_mode="HTML",
            reply_markup=markup,
            reply_parameters=ReplyParameters(question["message_id"]),
        )
        assert sent.text == "Yes, heavily."
        assert sent.reply_markup == markup
        assert sent.reply_to_message is not None
        assert sent.reply_to_message.message_id == question["message_id"]
        pressed = botapi.control.press_button(USER, USER, sent.message_id, data="more:1")
        [click] = await ptb.get_updates(offset=update.update_id + 1, timeout=1)
        assert click.callback_query is not None and click.callback_query.id == pressed["id"]
        assert isinstance(click.callback_query.message, Message)
        assert click.callback_query.message.reply_to_message is not None
        with pytest.raises(PTBBadRequest, match="find end tag corresponding to start tag"):
            await ptb.send_message(USER, "<b>open", parse_mode="HTML")
        botapi.control.inject("sendMessage", "flood", retry_after=3)
        with pytest.raises(RetryAfter) as flood:
            await ptb.send_message(USER, "x")
        assert flood.value.retry_after == 3
        await asyncio.to_thread(botapi.client.wait_for_calls, "sendMessage", 3, 1)


def test_a_lone_surrogate_in_user_text_reaches_the_bot_as_valid_json(
    botapi: FakeBotAPI, bot: BotHTTP
) -> None:
    botapi.control.send_message(USER, USER, "broken \ud800 text")
    [update] = bot.ok("getUpdates")
    assert update["message"]["text"] == "broken \ud800 text"
