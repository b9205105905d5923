"""Pushes in the subscriber's language, end to end: `python -m bot` watching a reports
folder, against the fake Bot API server; users subscribe with Telegram's
`language_code` set as their app sends it, a report arrives, and the push is read.

What each push should say is taken from the catalogues (the same `Words` the bot uses,
then Telegram's HTML parsing), and checked against a few words written out here, so a
catalogue that fell back to English would fail too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import wording
from bot.telegram.html import esc
from bot.telegram.i18n import Words, words_for
from tests.botapi.control import Control
from tests.botapi.html_check import parse_telegram_html
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import TIMEOUT, BotProcess, quote_of, start_bot
from tests.e2e.live_helpers import POLL_SECONDS, drop, seeded_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_folder(tmp_path_factory.mktemp("push-languages") / "reports")


@pytest.fixture(scope="module", autouse=True)
def live_bot(
    server: FakeBotAPI, folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    process = start_bot(
        server,
        tmp_path_factory.mktemp("push-languages-state"),
        REPORTS_DIR=folder,
        REPORTS_POLL_SECONDS=POLL_SECONDS,
        RATE_LIMIT_PER_MINUTE="0",
        WATCHFILES_FORCE_POLLING="",
    )
    yield process
    status = process.stop()
    assert status == 0, f"the bot exited with {status}; log:\n{process.log}"


def say(
    control: Control, chat_id: int, user_id: int, text: str, language_code: str | None
) -> dict[str, Any]:
    """`user_id`, their app in `language_code`, writes `text` in `chat_id` (their private
    chat, or a group); the bot's reply."""
    kind = "private" if chat_id == user_id else "supergroup"
    sent = control.send_message(chat_id, user_id, text, chat_type=kind, language_code=language_code)
    (reply,) = control.wait_for_messages(chat_id, 1, TIMEOUT, sent["message_id"])
    return reply


def subscribed(words: Words, topic: str, *, new: bool = True) -> str:
    """What Telegram shows of the bot's reply to /subscribe TOPIC, in `words`' language."""
    shown = words(wording.TOPIC).format(topic=esc(topic))
    if not new:
        return parse_telegram_html(words(wording.ALREADY_FOLLOWING).format(topic=shown))
    text = words(wording.SUBSCRIBED).format(topic=shown, command=esc(topic))
    return parse_telegram_html(text)


def push_header(words: Words, topic: str) -> str:
    """What Telegram shows of a push's first line, about one topic, in `words`' language."""
    topics = words(wording.TOPIC).format(topic=esc(topic))
    return parse_telegram_html(words(wording.PUSH_HEADER).format(topics=topics, more=""))


def wait_for_push(control: Control, chat_id: int, after: int) -> dict[str, Any]:
    (push,) = control.wait_for_messages(chat_id, 1, TIMEOUT, after)
    return push


def test_a_german_subscriber_is_pushed_in_german(
    control: Control, folder: Path, user_id: int
) -> None:
    german = words_for("de")
    topic = "puffin colony"
    reply = say(control, user_id, user_id, f"/subscribe {topic}", "de")
    assert reply["text"] == subscribed(german, topic)

    drop(folder, "puffins.txt", "Puffins Return\n\nThe puffin colony on Grimsey doubled.\n")
    push = wait_for_push(control, user_id, reply["message_id"])
    assert push["text"].startswith(push_header(german, topic) + "\n"), push["text"]
    assert push["text"].startswith("🔔 Neuer Bericht zu „puffin colony“\n")
    assert "Grimsey doubled" in (quote_of(push) or "")


def test_subscribing_again_changes_the_language_of_the_pushes(
    control: Control, folder: Path, user_id: int
) -> None:
    english, russian = words_for("en"), words_for("ru")
    topic = "tidal barrage"
    first = say(control, user_id, user_id, f"/subscribe {topic}", "en")
    assert first["text"] == subscribed(english, topic)
    # Their app now in Russian, the user follows the same topic again: nothing new, but
    # from now on their pushes are in Russian.
    again = say(control, user_id, user_id, f"/subscribe {topic}", "ru-RU")
    assert again["text"] == subscribed(russian, topic, new=False)

    drop(folder, "barrage.txt", "Barrage Opens\n\nThe tidal barrage at Rance lit a town.\n")
    push = wait_for_push(control, user_id, again["message_id"])
    assert push["text"].startswith(push_header(russian, topic) + "\n"), push["text"]
    assert push["text"].startswith("🔔 Новый материал по теме «tidal barrage»")


def test_a_group_is_pushed_in_the_language_of_its_last_subscriber(
    control: Control, folder: Path, user_id: int, group_id: int
) -> None:
    german, spanish = words_for("de"), words_for("es")
    hilde, pilar = user_id, user_id + 500_000
    reply = say(control, group_id, hilde, "/subscribe glacier cave", "de")
    assert reply["text"] == subscribed(german, "glacier cave")  # her reply is hers
    last = say(control, group_id, pilar, "/subscribe salt marsh", "es")
    assert last["text"] == subscribed(spanish, "salt marsh")

    # Hilde's topic, but the group's pushes are in the language of its last subscriber.
    drop(folder, "cave.txt", "Cave Found\n\nA glacier cave opened under Vatnajökull.\n")
    push = wait_for_push(control, group_id, last["message_id"])
    assert push["text"].startswith(push_header(spanish, "glacier cave") + "\n"), push["text"]
    assert "Vatnajökull" in (quote_of(push) or "")
