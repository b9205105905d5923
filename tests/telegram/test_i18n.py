"""The user's language: which catalogue a `language_code` gets, and what `Words` gives the
render modules (translations, plural forms, dates) in it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import html, html_live, i18n, limits, wording
from bot.telegram.bidi import unshaped
from bot.telegram.i18n import ENGLISH, language_of, words_for, words_of
from tests.botapi.html_check import parse_telegram_html
from tests.telegram.updates import ANN, message_dict, update

# -- which language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("de", "de"),
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("es-419", "es"),
        ("DE-at", "de"),
        ("ar_EG", "ar"),
        ("en", "en"),
        ("en-GB", "en"),
        ("pt-br", "en"),  # Portuguese has no catalogue: English
        ("xx", "en"),
        ("", "en"),
        (None, "en"),
        ("  ", "en"),
        ("-", "en"),
        ("de-", "de"),
    ],
)
def test_a_language_code_gets_its_language_or_english(code: str | None, language: str) -> None:
    assert language_of(code) == language
    assert words_for(code).language == language


def test_every_language_has_a_catalogue_and_english_comes_first() -> None:
    assert i18n.LANGUAGES[0] == i18n.ENGLISH_CODE
    assert {"en", "ru", "es", "de", "ar"} <= set(i18n.LANGUAGES)
    locales = Path(str(i18n.catalogue_path("de"))).parents[2]
    shipped = {path.name for path in locales.iterdir() if path.is_dir()}
    assert shipped == set(i18n.LANGUAGES) - {"en"}
    assert [words.language for words in i18n.every_language()] == list(i18n.LANGUAGES)


def _from(code: str | None) -> dict[str, Any]:
    """Message fields: sent by Ann, with `code` as her language_code."""
    user: dict[str, Any] = {"id": ANN, "is_bot": False, "first_name": "Ann"}
    if code is not None:
        user["language_code"] = code
    return {"from": user}


def test_the_language_is_the_senders() -> None:
    german = update(message=message_dict(ANN, "hallo", **_from("de-DE")))
    assert words_of(german).language == "de"
    unknown = update(message=message_dict(ANN, "hi", **_from(None)))
    assert words_of(unknown) is ENGLISH
    press = update(
        callback_query={
            "id": "1",
            **_from("ar"),
            "chat_instance": "c",
            "data": "more:2",
        }
    )
    assert words_of(press).language == "ar"


def test_a_channel_post_has_no_sender_and_gets_english() -> None:
    post = {
        "message_id": 3,
        "date": 0,
        "chat": {"id": -100_777, "type": "channel", "title": "News"},
        "text": "Breaking",
    }
    assert words_of(update(channel_post=post)) is ENGLISH


# -- what Words gives -------------------------------------------------------------------


def test_english_is_the_wording_itself() -> None:
    assert ENGLISH(wording.NOT_FOUND) == wording.NOT_FOUND
    assert ENGLISH.code is None and not ENGLISH.rtl
    assert html.render_not_found().text == wording.NOT_FOUND


def test_a_translation_is_used_and_an_unknown_sentence_stays_english() -> None:
    german = words_for("de")
    assert german(wording.NO_MORE) == "Auf diese Frage gibt es keine weiteren Antworten."
    assert german("A sentence no catalogue has.") == "A sentence no catalogue has."
    assert german.code == "de"


@pytest.mark.parametrize(
    ("code", "count", "expected"),
    [
        ("en", 1, "I know 1 report."),
        ("en", 2, "I know 2 reports."),
        ("ru", 1, "Я знаю 1 материал."),
        ("ru", 3, "Я знаю 3 материала."),
        ("ru", 5, "Я знаю 5 материалов."),
        ("ru", 21, "Я знаю 21 материал."),
        ("ru", 111, "Я знаю 111 материалов."),
        ("de", 1, "Ich kenne 1 Bericht."),
        ("de", 7, "Ich kenne 7 Berichte."),
        ("es", 2, "Conozco 2 noticias."),
        ("ar", 1, "أعرف تقريرًا واحدًا."),
        ("ar", 2, "أعرف تقريرين."),
        ("ar", 4, "أعرف 4 تقارير."),
        ("ar", 12, "أعرف 12 تقريرًا."),
        ("ar", 100, "أعرف 100 تقرير."),
    ],
)
def test_plurals_follow_each_languages_rule(code: str, count: int, expected: str) -> None:
    words = words_for(code)
    assert unshaped(words.plural(wording.KNOW_REPORTS, count).format(count=count)) == expected


def test_days_are_written_the_languages_way() -> None:
    moment = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert words_for("en").day(moment) == "25 Nov 2026"  # bot/text.py's, as before
    assert words_for("de").day(moment) == "25. Nov. 2026"
    assert words_for("es").day(moment) == "25 nov 2026"
    assert "нояб" in words_for("ru").day(moment)
    assert words_for("ar").day(moment) == "25 نوفمبر 2026"


def test_a_commands_arguments_are_translated_but_not_its_name() -> None:
    latest = next(c for c in wording.COMMANDS if c.name == "latest")
    assert ENGLISH.usage(latest) == latest.usage == "/latest [N] [TOPIC]"
    assert words_for("de").usage(latest) == "/latest [N] [THEMA]"
    start = next(c for c in wording.COMMANDS if c.name == "start")
    assert words_for("ru").usage(start) == "/start"


# -- rendering in a language ------------------------------------------------------------


def test_not_found_and_help_in_german() -> None:
    german = words_for("de")
    assert html.render_not_found(words=german).text.startswith(
        "Das habe ich in den Berichten nicht gefunden"
    )
    shown = parse_telegram_html(html.render_help("reports_bot", words=german).text)
    assert shown.startswith("So benutzt du mich\n")
    for command in wording.COMMANDS:
        assert f"/{command.name}" in shown
    assert "/subscribe THEMA — ich schicke dir jeden neuen Bericht dazu" in shown
    assert "@reports_bot FRAGE" in shown


def test_the_menu_is_translated_command_by_command() -> None:
    menu = html.command_menu(wording.COMMANDS, words_for("es"))
    assert [c.command for c in menu] == [c.name for c in wording.COMMANDS]
    assert menu[-1].description == "Cómo usarme"
    assert all(1 <= len(c.description) <= 256 for c in menu)


def test_the_slow_down_note_and_the_long_question_note_are_translated() -> None:
    russian = words_for("ru")
    note = limits.slow_down(20, 3.2, words=russian).text
    assert note == (
        "Помедленнее, пожалуйста: лимит сообщений от одного человека — 20 в минуту. "
        "Попробуйте снова через 3 секунды."
    )
    verdict = limits.check_question("x " * 600, words=russian)
    assert verdict.note == "Вопрос длинный, поэтому я прочитал только первые 1000 символов."
    refusal = limits.check_question("???", words=russian).refusal
    assert refusal == html.Rendered(russian(wording.NOTHING_TO_SEARCH))


def test_the_example_topic_stays_in_the_reports_language() -> None:
    shown = html_live.render_subscribe_usage([], words=words_for("de")).text
    assert f"<code>/subscribe {wording.EXAMPLE_TOPIC}</code>" in shown
    assert shown.startswith("Sag mir, was ich verfolgen soll")
