"""The Telegram-free text shaping both surfaces share: what /latest's words ask for, and
one-line fields cut between words."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.text import LATEST_DEFAULT, LATEST_MAX, LatestRequest, parse_count, parse_latest, shorten


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
