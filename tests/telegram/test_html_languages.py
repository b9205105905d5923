"""The reports' languages named in the reader's language (bot/telegram/html_languages.py):
the not-found reply for a question in a language no report is in, and /sources' languages
line; in Arabic, each name isolated inside the right-to-left sentence.  Checked with the
test server's own Telegram HTML parser."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from babel import Locale

from bot.live.sources import sources
from bot.telegram import html_admin, html_languages, wording
from bot.telegram.bidi import FSI, PDI, RLM, unshaped
from bot.telegram.html import Rendered, render_not_found
from bot.telegram.i18n import ENGLISH, words_for
from bot.telegram.questions import not_found
from retrieval.search import SearchEngine
from tests.botapi.html_check import parse_telegram_html
from tests.conftest import make_report

GERMAN, RUSSIAN, ARABIC = words_for("de"), words_for("ru"), words_for("ar")
GERMAN_QUESTION = "Wie viele Flüchtlinge sind in der Türkei angekommen?"


def shown(rendered: Rendered | str) -> str:
    """What Telegram shows; raises like Telegram when it would refuse the HTML."""
    return parse_telegram_html(rendered.text if isinstance(rendered, Rendered) else rendered)


# -- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ui", "code", "name"),
    [
        ("en", "de", "German"),
        ("de", "en", "Englisch"),
        ("de", "de", "Deutsch"),
        ("ru", "en", "английский"),
        ("es", "ru", "ruso"),
        ("ar", "de", "الألمانية"),
        ("de", "no", "Norwegisch"),
    ],
)
def test_a_language_is_named_in_the_readers_language(ui: str, code: str, name: str) -> None:
    assert words_for(ui).language_name(code) == name


def test_a_language_without_a_name_is_its_english_name_or_else_its_code() -> None:
    # CLDR names languages in English that it does not in every language.
    arabic = Locale.parse("ar").languages
    english_only = next(
        code for code, name in Locale.parse("en").languages.items() if code not in arabic
    )
    assert ARABIC.language_name(english_only) == ENGLISH.language_name(english_only)
    assert GERMAN.language_name("zz") == "zz"
    assert html_languages.language_name("<b>", GERMAN) == "&lt;b&gt;"


def test_a_list_of_languages_is_the_readers_list_most_reports_first() -> None:
    assert html_languages.language_list(["en", "ru"]) == "English and Russian"
    assert html_languages.language_list(["en", "de", "ru"], GERMAN) == (
        "Englisch, Deutsch und Russisch"
    )
    assert html_languages.language_list(["en", "ru"], RUSSIAN) == "английский и русский"


def test_a_long_list_names_five_and_counts_the_others() -> None:
    codes = ["en", "de", "ru", "ar", "es", "fr", "it"]
    assert html_languages.language_list(codes) == (
        "English, German, Russian, Arabic, Spanish, and 2 others"
    )
    assert html_languages.language_list(codes[:6], GERMAN).endswith("Spanisch und eine weitere")
    assert html_languages.language_list(codes, RUSSIAN).endswith("испанский и ещё 2")


# -- not found, because of the language ---------------------------------------------------


def test_without_a_missing_language_it_is_the_plain_not_found() -> None:
    assert html_languages.render_not_found_in(None, ["en"]) == render_not_found()
    assert html_languages.render_not_found_in(None, ["en"], words=GERMAN) == render_not_found(
        words=GERMAN
    )
    # No reports at all: no language to point to, so nothing about languages either.
    assert html_languages.render_not_found_in("de", []) == render_not_found()


def test_a_question_in_a_missing_language_is_told_which_languages_to_ask_in() -> None:
    assert shown(html_languages.render_not_found_in("de", ["en", "ru"])) == (
        "I have no reports in German, so I cannot answer questions in German.\n"
        "The reports are in English and Russian; ask in one of those."
    )
    assert shown(html_languages.render_not_found_in("de", ["en"])) == (
        "I have no reports in German, so I cannot answer questions in German.\n"
        "The reports are in English; ask in English."
    )


def test_the_note_is_in_the_readers_language() -> None:
    assert shown(html_languages.render_not_found_in("de", ["en"], words=GERMAN)) == (
        "Ich habe keine Berichte auf Deutsch, deshalb kann ich Fragen auf Deutsch nicht "
        "beantworten.\nDie Berichte sind auf Englisch; stell deine Frage bitte auf Englisch."
    )
    russian = shown(html_languages.render_not_found_in("de", ["en", "ru"], words=RUSSIAN))
    assert russian.startswith("Язык вопроса — немецкий, а материалов на этом языке у меня нет")
    assert "Языки моих материалов: английский и русский; задайте вопрос" in russian
    spanish = shown(html_languages.render_not_found_in("fr", ["en"], words=words_for("es")))
    assert spanish.startswith("No tengo noticias en francés")


def test_an_arabic_note_reads_right_to_left_with_each_language_isolated() -> None:
    text = shown(html_languages.render_not_found_in("de", ["en", "ru"], words=ARABIC))
    lines = text.split("\n")
    assert all(line.startswith(RLM) for line in lines)
    assert f"باللغة {FSI}الألمانية{PDI}،" in lines[0]
    # The list fills one placeholder, and each name in it is isolated too.
    assert f"{FSI}{FSI}الإنجليزية{PDI} و{FSI}الروسية{PDI}{PDI}" in lines[1]
    assert unshaped(text) == (
        "ليست لديّ تقارير باللغة الألمانية، لذا لا أستطيع الإجابة عن الأسئلة المطروحة بها.\n"
        "التقارير بهذه اللغات: الإنجليزية والروسية؛ فاطرح سؤالك بإحداها."
    )


def test_an_arabic_list_keeps_its_order_with_a_name_in_latin_letters() -> None:
    text = shown(html_languages.render_not_found_in("de", ["zz", "en"], words=ARABIC))
    # "zz" has no name: left to right inside its own isolate, so it cannot turn the list.
    assert f"{FSI}{FSI}zz{PDI} و{FSI}الإنجليزية{PDI}{PDI}" in text


def test_left_to_right_readers_get_no_direction_marks() -> None:
    for words in (ENGLISH, GERMAN, RUSSIAN):
        text = html_languages.render_not_found_in("ar", ["en", "de"], words=words).text
        assert not set(text) & {RLM, FSI, PDI}


def test_the_handler_says_so_for_a_german_question_over_english_reports(
    seeds_engine: SearchEngine,
) -> None:
    assert seeds_engine.search(GERMAN_QUESTION) == []
    reply = asyncio.run(not_found(seeds_engine, GERMAN_QUESTION, GERMAN))
    assert reply == html_languages.render_not_found_in("de", ["en"], words=GERMAN)
    assert "auf Englisch" in reply.text
    # A question in the reports' language that has no answer: the plain not-found.
    reply = asyncio.run(not_found(seeds_engine, "How do I bake sourdough bread?", GERMAN))
    assert reply == render_not_found(words=GERMAN)


# -- /sources -----------------------------------------------------------------------------

ROOT = Path("/data/reports")


def test_sources_list_the_languages_under_the_title() -> None:
    found = sources([make_report()], ROOT)
    counts = {"en": 812, "de": 40, "ru": 3}
    lines = html_admin.render_sources(found, None, counts).text.splitlines()
    assert lines[1] == "🌐 Languages: English 812, German 40, Russian 3"
    assert lines[0].startswith("<b>Sources</b>") and len(lines) == 3
    german = html_admin.render_sources(found, None, counts, words=GERMAN).text.splitlines()
    assert german[1] == "🌐 Sprachen: Englisch 812, Deutsch 40, Russisch 3"
    russian = html_admin.render_sources(found, None, counts, words=RUSSIAN).text.splitlines()
    assert russian[1] == "🌐 Языки: английский — 812, немецкий — 40, русский — 3"
    # Without the counts (or none to give), no line.
    assert len(html_admin.render_sources(found).text.splitlines()) == 2
    assert html_admin.render_sources(found, None, {}) == html_admin.render_sources(found)
    assert html_admin.render_sources([], None, counts).text == wording.NO_SOURCES


def test_sources_name_a_dozen_languages_and_count_the_rest() -> None:
    codes = ["en", "de", "ru", "ar", "es", "fr", "it", "nl", "pl", "pt", "sv", "tr", "fi", "da"]
    counts = {code: 100 - n for n, code in enumerate(codes)}
    line = html_languages.languages_line(counts)
    assert line.startswith("🌐 Languages: English 100, German 99, ")
    assert line.endswith("Turkish 89, 2 others")


def test_arabic_sources_isolate_each_language_name() -> None:
    line = shown(html_languages.languages_line({"en": 812, "de": 40}, ARABIC))
    assert line.startswith(f"{RLM}🌐 اللغات: {FSI}")
    assert f"{FSI}الإنجليزية{PDI} 812" in line and f"{FSI}الألمانية{PDI} 40" in line
    assert unshaped(line) == "🌐 اللغات: الإنجليزية 812، الألمانية 40"
