"""The Telegram-free text shaping both surfaces share: what /latest's words ask for,
one-line fields cut between words, and the names of languages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.text import (
    LATEST_DEFAULT,
    LATEST_MAX,
    SHORT_QUOTE_CHARS,
    LatestRequest,
    language_name,
    parse_count,
    parse_latest,
    shorten,
    split_quote,
)
from retrieval.sentences import split_sentences


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        ([], LatestRequest(LATEST_DEFAULT)),
        (["2"], LatestRequest(2)),
        (["20"], LatestRequest(20)),
        (["500"], LatestRequest(LATEST_MAX, capped=True)),
        (["0"], None),
        (["-3"], LatestRequest(LATEST_DEFAULT, "-3")),  # not a count, so a topic
        (["٣"], LatestRequest(LATEST_DEFAULT, "٣")),  # Arabic-Indic digit: int() takes it
        (["9" * 50], LatestRequest(LATEST_DEFAULT, "9" * 50)),  # too long to be a count
        (["refugees", "Turkey"], LatestRequest(LATEST_DEFAULT, "refugees Turkey")),
        (["3", "refugees"], LatestRequest(3, "refugees")),
        (["500", "refugees"], LatestRequest(LATEST_MAX, "refugees", capped=True)),
        (["0", "refugees"], None),
        (["2", "3"], LatestRequest(2, "3")),
        (["2024", "wheat"], LatestRequest(LATEST_MAX, "wheat", capped=True)),
    ],
)
def test_parse_latest(args: list[str], parsed: LatestRequest | None) -> None:
    assert parse_latest(args) == parsed


def test_a_count_is_ascii_digits_and_short() -> None:
    assert parse_count("42") == 42
    assert parse_count("٣") is None
    assert parse_count("1" * 7) is None
    assert parse_count("+1") is None


def test_shorten_cuts_between_words() -> None:
    assert shorten("alpha beta gamma delta", 12) == "alpha beta…"
    assert shorten("  spaced\n out  ", 50) == "spaced out"
    assert len(shorten("x" * 500, 10)) == 10


def test_the_text_module_and_the_terminal_never_import_telegram() -> None:
    code = (
        "import sys, bot.text, bot.terminal; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'telegram'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- the short quote and its context ---------------------------------------------------


def quote_parts(text: str, best: str, limit: int = 700) -> tuple[str, str, str]:
    quote = split_quote(text, best, limit, split_sentences(text))
    short = quote.short
    return quote.before, short.before + short.best + short.after, quote.after


def test_the_short_quote_is_the_best_sentence_and_the_one_after() -> None:
    text = "It rained in the morning. The ferry left at noon. It docked at six. Then calm."
    assert quote_parts(text, "The ferry left at noon.") == (
        "It rained in the morning.",
        "The ferry left at noon. It docked at six.",
        "Then calm.",
    )


def test_a_sentence_that_closes_a_quotation_brings_the_one_that_opened_it() -> None:
    opened = '"Seizing the crossings has no strategic importance.'
    closing = 'It is a show of progress," staff brigadier Faiz Amr told Reuters.'
    text = f"Rebels took the posts. {opened} {closing} Fighting went on."

    before, short, after = quote_parts(text, closing)

    assert short == f"{opened} {closing} Fighting went on."
    assert before == "Rebels took the posts." and after == ""


def test_a_sentence_that_points_back_brings_the_one_before() -> None:
    text = "The council met. The mayor resigned on Friday. She gave no reason. Talks follow."
    assert quote_parts(text, "She gave no reason.")[1] == (
        "The mayor resigned on Friday. She gave no reason. Talks follow."
    )


def test_the_short_quote_and_the_context_stay_within_their_limits() -> None:
    sentence = "The river rose another metre overnight near the old bridge."
    text = " ".join([sentence.replace("river", f"river {n}") for n in range(40)])
    best = sentence.replace("river", "river 20")

    before, short, after = quote_parts(text, best)

    assert len(short) <= SHORT_QUOTE_CHARS and short.startswith(best)
    assert len(before) + len(short) + len(after) <= 700
    assert text.index(before) + len(before) + 1 == text.index(best)  # cut at a word
    assert not text.startswith(before) and after in text  # both sides cut to fit


def test_a_language_is_named_in_english_or_in_the_language_asked_for() -> None:
    assert language_name("de") == "German" and language_name("ar") == "Arabic"
    assert language_name("en", "de") == "Englisch"
    assert language_name("de", "ru") == "немецкий"
    # A code CLDR has no name for in a language is named in English, else shown as it is.
    assert language_name("zz") == language_name("zz", "de") == "zz"
