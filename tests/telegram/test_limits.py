"""Abuse limits as pure logic: the sliding window, the verdict on a question, the cut."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.telegram import html as render
from bot.telegram.limits import (
    MAX_QUESTION_CHARS,
    NOTHING_TO_SEARCH,
    TOO_LONG_NOTE,
    check_question,
    cut_question,
    has_words,
    slow_down,
    with_note,
)
from bot.telegram.rates import WINDOW_SECONDS, QuestionLimits, SlidingWindowLimiter, Throttle
from tests.botapi.html_check import parse_telegram_html


class Clock:
    """Time the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- settings --------------------------------------------------------------------------------


def test_rate_limit_defaults_to_20_and_0_turns_it_off() -> None:
    assert Settings.from_env({}).rate_limit_per_minute == 20
    assert Settings.from_env({"RATE_LIMIT_PER_MINUTE": " 5 "}).rate_limit_per_minute == 5
    assert Settings.from_env({"RATE_LIMIT_PER_MINUTE": "0"}).rate_limit_per_minute == 0


@pytest.mark.parametrize("value", ["fast", "-1", "2.5", "1e3", "٣"])
def test_a_bad_rate_limit_says_how_to_fix_it(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"RATE_LIMIT_PER_MINUTE": value})
    assert "RATE_LIMIT_PER_MINUTE" in str(raised.value)
    assert "whole number of questions per minute" in str(raised.value)


# -- the sliding window ------------------------------------------------------------------------


def test_the_window_allows_the_limit_then_refuses_until_a_request_leaves_it() -> None:
    limiter = SlidingWindowLimiter(3, window=60.0)
    assert [limiter.check("ann", t).allowed for t in (0.0, 1.0, 2.0)] == [True] * 3
    refused = limiter.check("ann", 10.0)
    assert not refused.allowed
    assert refused.retry_in == pytest.approx(50.0)  # the request at 0.0 leaves at 60
    assert limiter.check("bob", 11.0).allowed  # users are counted apart


def test_refused_requests_do_not_count_and_the_window_slides() -> None:
    limiter = SlidingWindowLimiter(2, window=60.0)
    limiter.check("ann", 0.0)
    limiter.check("ann", 30.0)
    for t in range(31, 59):
        assert not limiter.check("ann", float(t)).allowed
    assert limiter.check("ann", 60.0).allowed  # the 0.0 request left the window
    assert not limiter.check("ann", 61.0).allowed
    assert limiter.check("ann", 90.0).allowed  # 30.0 left too


def test_zero_means_no_limit() -> None:
    limiter = SlidingWindowLimiter(0)
    assert all(limiter.check("ann", 0.0).allowed for _ in range(1000))


def test_the_throttle_says_yes_once_per_key_per_interval() -> None:
    throttle = Throttle(60.0)
    assert throttle.allow(-100, 0.0)
    assert not throttle.allow(-100, 1.0) and not throttle.allow(-100, 59.9)
    assert throttle.allow(42, 1.0)  # keys are counted apart
    assert throttle.allow(-100, 60.0)


def test_slow_down_notes_are_throttled_per_chat_not_per_user() -> None:
    limits = QuestionLimits(1, Clock())
    assert limits.notes.interval == WINDOW_SECONDS
    # Two users over budget in one group: one note for the group...
    assert limits.notes.allow(-100, 0.0) and not limits.notes.allow(-100, 5.0)
    # ...and the first of them, over budget in their private chat too, is told there.
    assert limits.notes.allow(7, 5.0)


def test_the_slow_down_note_says_when_to_try_again() -> None:
    text = parse_telegram_html(slow_down(20, 44.6).text)
    assert "I answer up to 20 messages a minute" in text and "Try again in 45 seconds" in text
    assert "Try again in 1 second." in parse_telegram_html(slow_down(20, 0.2).text)


# -- the verdict on a chat question --------------------------------------------------------------


@pytest.mark.parametrize("question", ["???", "…!", "\u200f\u200d", "🙂🙂", "- - -", "\x00\x07"])
def test_nothing_to_search_gets_a_hint(question: str) -> None:
    verdict = check_question(question)
    assert verdict.question is None and verdict.refusal == NOTHING_TO_SEARCH
    assert "/help" in parse_telegram_html(NOTHING_TO_SEARCH.text)


@pytest.mark.parametrize("question", ["Who?", "2024", "ماذا حدث", "谁赢了", "x"])
def test_any_letter_or_digit_is_something_to_search(question: str) -> None:
    assert has_words(question)
    assert check_question(question).question == question


def test_a_long_question_is_cut_and_the_answer_says_so() -> None:
    words = " ".join(f"word{n}" for n in range(400))
    verdict = check_question(words)
    assert verdict.question is not None and verdict.note == TOO_LONG_NOTE
    assert len(verdict.question) <= MAX_QUESTION_CHARS
    assert words.startswith(verdict.question)
    assert words[len(verdict.question)] == " "  # cut between words
    assert check_question(words[:MAX_QUESTION_CHARS]).note == ""


def test_cut_question_without_spaces_cuts_at_the_limit() -> None:
    assert cut_question("x" * 5000) == "x" * MAX_QUESTION_CHARS
    assert cut_question("short") == "short"
    assert cut_question("a" * 999 + " " + "b" * 50) == "a" * 999


def test_the_note_goes_below_the_answer_in_italics() -> None:
    answer = render.render_not_found()
    noted = with_note(answer, TOO_LONG_NOTE)
    assert noted.text.startswith(answer.text)
    assert parse_telegram_html(noted.text).endswith(TOO_LONG_NOTE)
    assert noted.text.endswith(f"<i>{TOO_LONG_NOTE}</i>")
    assert with_note(answer, "") is answer


def test_a_note_that_would_overflow_the_message_is_left_out() -> None:
    full = render.Rendered("x" * (render.MESSAGE_MAX_CHARS - 10))
    assert with_note(full, TOO_LONG_NOTE) == full
