"""The script that prints one answer per UI language (tests/telegram/show_languages.py)
keeps working, and shows each language's own words."""

from __future__ import annotations

import pytest

from bot.telegram import i18n, wording
from bot.telegram.bidi import unshaped
from retrieval.search import SearchEngine
from tests.telegram import show_languages


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_each_language_is_shown_in_its_own_words(seeds_engine: SearchEngine, language: str) -> None:
    shown = [show_languages.as_text(r) for _, r in show_languages.replies(seeds_engine, language)]
    answer, quoted, not_found, start, other_language = shown
    words = i18n.words_for(language)
    assert answer.startswith("┃ **Over 40,000 refugees")
    more = words(wording.MORE_BUTTON).format(position=2, total=4)
    assert answer.endswith(f"[ {unshaped(more)} ]")
    assert "Faiz Amr" in quoted
    assert not_found.split("\n")[0] == unshaped(words(wording.NOT_FOUND)).split("\n")[0]
    assert start.startswith("👋 **")
    named = unshaped(words.language_name("de"))
    assert other_language.split("\n")[0] == unshaped(
        words(wording.NO_REPORTS_IN_LANGUAGE).format(language=named)
    )


def test_english_is_shown_as_telegram_shows_it(seeds_engine: SearchEngine) -> None:
    replies = show_languages.replies(seeds_engine, "en")
    assert show_languages.as_text(replies[2][1]) == wording.NOT_FOUND
    assert "_Answer 1 of 4_" in show_languages.as_text(replies[0][1])
