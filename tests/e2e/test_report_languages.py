"""Questions in the reports' languages, end to end: `python -m bot` against the fake Bot
API server.  Over English reports only, a German question is not looked for (retrieval
has no cross-language stage) and its asker is told so in German, with the reports'
language named in German; once the folder holds German reports (tests/fixtures/languages:
one names its language in front matter, the other is detected when indexed), the same
question is answered from them.  /sources counts the reports in each language.

What each user should read is rendered by the bot's own code with the catalogue's
`Words`, and checked against a few words written out here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import html_languages
from bot.telegram.bidi import FSI, PDI, RLM
from bot.telegram.i18n import words_for
from tests.botapi.control import Control
from tests.botapi.html_check import parse_telegram_html
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import SEEDS, TIMEOUT, BotProcess, quote_of, start_bot

ADMIN = 8_300_001
GERMAN_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"
GERMAN_QUESTION = "Wie viele Flüchtlinge sind in der Türkei angekommen?"
ENGLISH_QUESTION = "How many refugees have entered camps in Turkey?"
RUSSIAN_QUESTION = "Сколько беженцев прибыло в Турцию?"


def ask_in(control: Control, user_id: int, text: str, language_code: str) -> dict[str, Any]:
    """A user whose Telegram app is in `language_code` writes `text`; the bot's reply."""
    question = control.send_message(user_id, user_id, text, language_code=language_code)
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, question["message_id"])
    return reply


def run_bot(server: FakeBotAPI, state: Path, reports: Path) -> Iterator[BotProcess]:
    process = start_bot(
        server, state, REPORTS_DIR=reports, RATE_LIMIT_PER_MINUTE="0", ADMIN_USER_IDS=str(ADMIN)
    )
    yield process
    status = process.stop()
    assert status == 0, f"the bot exited with {status} on SIGTERM; log:\n{process.log}"


@pytest.fixture
def english_bot(server: FakeBotAPI, tmp_path: Path) -> Iterator[BotProcess]:
    """A bot over the seed report alone: English."""
    yield from run_bot(server, tmp_path / "state", SEEDS)


@pytest.fixture
def mixed_bot(server: FakeBotAPI, tmp_path: Path) -> Iterator[BotProcess]:
    """A bot over the seed report and two German ones."""
    folder = tmp_path / "reports"
    shutil.copytree(SEEDS, folder)
    for report in GERMAN_FIXTURES.iterdir():
        shutil.copy(report, folder / report.name)
    yield from run_bot(server, tmp_path / "state", folder)


@pytest.mark.usefixtures("english_bot")
def test_over_english_reports_a_german_question_is_told_so_in_german(
    control: Control, user_id: int
) -> None:
    german = words_for("de")
    reply = ask_in(control, user_id, GERMAN_QUESTION, "de")
    expected = html_languages.render_not_found_in("de", ["en"], words=german)
    assert reply["text"] == parse_telegram_html(expected.text)
    assert reply["text"] == (
        "Ich habe keine Berichte auf Deutsch, deshalb kann ich Fragen auf Deutsch nicht "
        "beantworten.\nDie Berichte sind auf Englisch; stell deine Frage bitte auf Englisch."
    )
    # /ask takes the same path.
    reply = ask_in(control, user_id, f"/ask {GERMAN_QUESTION}", "de")
    assert reply["text"] == parse_telegram_html(expected.text)
    # An English user is told in English which language the question was in.
    reply = ask_in(control, user_id, GERMAN_QUESTION, "en")
    assert reply["text"].startswith("I have no reports in German, so I cannot answer")
    assert reply["text"].endswith("The reports are in English; ask in English.")
    # An Arabic user reads it right to left, the languages named in Arabic and isolated.
    reply = ask_in(control, user_id, GERMAN_QUESTION, "ar")
    assert all(line.startswith(RLM) for line in reply["text"].split("\n"))
    assert f"{FSI}الألمانية{PDI}" in reply["text"] and f"{FSI}الإنجليزية{PDI}" in reply["text"]
    # An English question the reports hold no answer to is the plain not-found.
    reply = ask_in(control, user_id, "How do I bake sourdough bread?", "de")
    assert reply["text"].startswith("Das habe ich in den Berichten nicht gefunden")

    reply = ask_in(control, ADMIN, "/sources", "en")
    assert reply["text"].split("\n")[1] == "🌐 Languages: English 1"


@pytest.mark.usefixtures("mixed_bot")
def test_german_reports_answer_a_german_question_and_are_counted_in_sources(
    control: Control, user_id: int
) -> None:
    reply = ask_in(control, user_id, GERMAN_QUESTION, "de")
    quote = quote_of(reply) or ""
    assert "mehr als 12.000 Flüchtlinge aus Syrien in der Türkei angekommen" in quote, reply
    assert "Grenzbote" in reply["text"]
    # The English question is still answered from the English report.
    reply = ask_in(control, user_id, ENGLISH_QUESTION, "de")
    assert "Over 40,000 refugees" in (quote_of(reply) or ""), reply
    # The report whose language was detected answers too.
    reply = ask_in(control, user_id, "Wie hoch war der Pegel der Elbe in Dresden?", "de")
    assert "7,4 Meter" in (quote_of(reply) or ""), reply
    # A Russian question is told which two languages there are, most reports first.
    reply = ask_in(control, user_id, RUSSIAN_QUESTION, "ru")
    assert reply["text"].startswith("Язык вопроса — русский, а материалов на этом языке")
    assert "Языки моих материалов: немецкий и английский; задайте вопрос" in reply["text"]

    reply = ask_in(control, ADMIN, "/sources", "de")
    lines = reply["text"].split("\n")
    assert lines[0] == "Quellen (3 Berichte)"
    assert lines[1] == "🌐 Sprachen: Deutsch 2, Englisch 1"
