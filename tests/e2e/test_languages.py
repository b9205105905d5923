"""The bot in the user's language, end to end: `python -m bot` against the fake Bot API
server, users writing with Telegram's `language_code` set as their app sends it.

What each user should read is taken from the catalogues themselves (through the same
`Words` the bot uses, then Telegram's HTML parsing), and checked against a few words
written out here, so a catalogue that fell back to English would fail too."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from bot.telegram import i18n, wording
from bot.telegram.bidi import LRI, PDI, RLM, unshaped
from bot.telegram.html import visible_text
from bot.telegram.i18n import Words, words_for
from bot.text import LATEST_DEFAULT, LATEST_MAX
from tests.botapi.control import Control
from tests.botapi.html_check import parse_telegram_html
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import SEVERAL_ANSWERS, TIMEOUT, buttons

pytestmark = pytest.mark.usefixtures("bot")

NOT_FOUND_QUESTION = "How do I bake sourdough bread?"


def ask_in(control: Control, user_id: int, text: str, language_code: str) -> dict[str, Any]:
    """A user whose Telegram app is in `language_code` writes `text`; the bot's reply."""
    question = control.send_message(user_id, user_id, text, language_code=language_code)
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, question["message_id"])
    return reply


def shown(words: Words, sentence: str) -> str:
    """What Telegram shows of a sentence of the bot's in `words`' language."""
    return parse_telegram_html(words(sentence))


def help_line(words: Words, command: wording.Command) -> str:
    does = words(command.does).format(default=LATEST_DEFAULT, limit=LATEST_MAX)
    return parse_telegram_html(
        words(wording.HELP_LINE).format(usage=words.usage(command), does=does)
    )


# -- answers ------------------------------------------------------------------------------


def test_a_german_user_gets_not_found_and_help_in_german(control: Control, user_id: int) -> None:
    german = words_for("de")
    reply = ask_in(control, user_id, NOT_FOUND_QUESTION, "de")
    assert reply["text"] == shown(german, wording.NOT_FOUND)
    assert reply["text"].startswith("Das habe ich in den Berichten nicht gefunden")

    reply = ask_in(control, user_id, "/help", "de")
    assert reply["text"].startswith("So benutzt du mich\n")
    for command in wording.COMMANDS:
        assert help_line(german, command) in reply["text"]
    assert "/subscribe THEMA — ich schicke dir jeden neuen Bericht dazu" in reply["text"]


def test_a_german_answer_has_german_buttons_and_counts(control: Control, user_id: int) -> None:
    answer = ask_in(control, user_id, SEVERAL_ANSWERS, "de")
    (button,) = buttons(answer)
    assert button["text"].startswith("Mehr (2/")
    assert "Antwort 1 von " in answer["text"]
    query = control.press_button(user_id, user_id, answer["message_id"], text=button["text"])
    assert control.wait_for_callback_answer(query["id"], TIMEOUT)
    (edit,) = control.wait_for_edits(user_id, 1, TIMEOUT, answer["message_id"])
    assert "Antwort 2 von " in edit["message"]["text"]


def test_an_arabic_user_gets_not_found_and_help_right_to_left(
    control: Control, user_id: int
) -> None:
    arabic = words_for("ar")
    reply = ask_in(control, user_id, NOT_FOUND_QUESTION, "ar-EG")
    assert reply["text"] == shown(arabic, wording.NOT_FOUND)
    assert unshaped(reply["text"]).startswith("لم أجد ذلك في التقارير، لذا لن أخمّن.")
    # Every line laid out right to left, the command read left to right within it.
    assert all(line.startswith(RLM) for line in reply["text"].split("\n"))
    assert f"{LRI}/latest{PDI}" in reply["text"]

    reply = ask_in(control, user_id, "/help", "ar")
    assert unshaped(reply["text"]).startswith("طريقة استخدامي\n")
    for command in wording.COMMANDS:
        assert help_line(arabic, command) in reply["text"]


def test_a_language_without_a_catalogue_gets_english(control: Control, user_id: int) -> None:
    reply = ask_in(control, user_id, NOT_FOUND_QUESTION, "xx")
    assert reply["text"] == parse_telegram_html(wording.NOT_FOUND)
    reply = ask_in(control, user_id, "/help", "pt-br")
    assert reply["text"].startswith("How to use me\n")


def test_the_start_greeting_counts_in_russian(control: Control, user_id: int) -> None:
    reply = ask_in(control, user_id, "/start", "ru")
    assert reply["text"].startswith("👋 Здравствуйте, Tester!")
    assert "Я знаю 1 материал; самый свежий — от " in reply["text"]


# -- what Telegram shows before anyone writes ---------------------------------------------


def test_the_menu_is_set_in_every_language(control: Control) -> None:
    for words in i18n.every_language():
        menu = control.my_commands(language_code=words.code or "")
        assert menu == [
            {"command": c.name, "description": words(c.menu)} for c in wording.COMMANDS
        ], words
    assert control.my_commands(language_code="de")[-1]["description"] == "So benutzt du mich"
    codes = [c["params"].get("language_code") for c in control.calls("setMyCommands")]
    assert {"ru", "es", "de", "ar"} <= set(codes) and None in codes


def test_the_descriptions_are_set_in_every_language(control: Control) -> None:
    for words in i18n.every_language():
        code = words.code or ""
        assert control.my_description(code) == visible_text(words(wording.DESCRIPTION))
        short = visible_text(words(wording.SHORT_DESCRIPTION))
        assert control.my_description(code, short=True) == short
    assert control.my_description("de").startswith("Ich beantworte Fragen")
    # A language without a text of its own is shown the English one.
    assert control.my_description("xx") == wording.DESCRIPTION


def test_the_fake_refuses_a_language_code_telegram_would(server: FakeBotAPI) -> None:
    def call(method: str, **params: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{server.base_url}{server.token}/{method}",
            data=json.dumps(params).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return dict(json.loads(error.read()))

    menu = [{"command": "help", "description": "Hilfe"}]
    for code in ("de-DE", "DE", "deu", "d"):
        refused = call("setMyCommands", commands=menu, language_code=code)
        assert refused["description"] == "Bad Request: invalid language code specified", code
        refused = call("setMyDescription", description="x", language_code=code)
        assert refused["error_code"] == 400, code
    too_long = call("setMyShortDescription", short_description="x" * 121, language_code="de")
    assert too_long["error_code"] == 400
    assert call("getMyShortDescription", language_code="fr")["result"] == {"short_description": ""}
