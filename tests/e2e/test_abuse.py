"""Abuse limits end to end: the per-user rate (set to 3 a minute here) over everything the
bot answers, long and empty questions, and a group flood that must not starve private
chats."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.telegram.html import render_ask_usage, visible_text
from bot.telegram.limits import MAX_QUESTION_CHARS, NOTHING_TO_SEARCH, TOO_LONG_NOTE
from bot.telegram.wording import SLOW_DOWN_PRESS
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import (
    SEVERAL_ANSWERS,
    TIMEOUT,
    BotProcess,
    ask,
    buttons,
    group_says,
    quote_of,
    start_bot,
)

pytestmark = pytest.mark.usefixtures("bot")

RATE = 3
QUESTION = "What did Faiz Amr say about the border crossings?"
OTHER_QUESTIONS = (
    "How many refugees have entered camps in Turkey?",
    "Which districts of Damascus were recaptured?",
)


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    process = start_bot(server, tmp_path_factory.mktemp("abuse"), RATE_LIMIT_PER_MINUTE=str(RATE))
    yield process
    assert process.stop() == 0, process.log


def wait_for_log(bot: BotProcess, ready: Callable[[str], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready(bot.log):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; log:\n{bot.log[-3000:]}")
        time.sleep(0.05)


def searches_in(bot: BotProcess, chat_id: int) -> int:
    return bot.log.count(f"chat {chat_id} asked ")


# -- rate ----------------------------------------------------------------------------------------


def test_over_the_rate_one_slow_down_note_and_no_search(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    questions = [QUESTION, *OTHER_QUESTIONS, "Who is Bashar al-Assad?", "Where is Azaz?"]
    sent = [control.send_message(user_id, user_id, q) for q in questions]

    replies = control.wait_for_messages(user_id, RATE + 1, TIMEOUT, sent[0]["message_id"])
    wait_for_log(
        bot,
        lambda log: f"user {user_id} is over the rate limit: ignored" in log,
        "the fifth question to be ignored",
    )
    replies = control.sent_messages(user_id)
    assert len(replies) == RATE + 1
    answered = [r["reply_to_message"]["message_id"] for r in replies]
    assert answered == [m["message_id"] for m in sent[: RATE + 1]]  # in the order asked
    assert all(quote_of(r) or "couldn't find" in r["text"] for r in replies[:RATE])
    slow_down = replies[RATE]["text"]
    assert slow_down.startswith(f"Slow down, please: I answer up to {RATE} messages a minute")
    assert "Try again in " in slow_down
    assert quote_of(replies[RATE]) is None
    assert searches_in(bot, user_id) == RATE  # the excess was never searched


def ignored_in(bot: BotProcess, user_id: int) -> int:
    return bot.log.count(f"user {user_id} is over the rate limit: ignored")


def test_latest_on_a_topic_spends_the_budget(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    """/latest 20 TOPIC searches: two hundred of them would be two hundred searches."""
    flood = 12
    for _ in range(flood):
        control.send_message(user_id, user_id, "/latest 20 refugees")

    wait_for_log(
        bot,
        lambda _: (
            ignored_in(bot, user_id) == flood - RATE - 1
            or len(control.sent_messages(user_id)) > RATE + 1
        ),  # answered past the budget
        "the rest to be ignored",
    )
    replies = control.sent_messages(user_id)
    assert len(replies) == RATE + 1
    assert all(r["text"].startswith("Newest reports") for r in replies[:RATE]), replies
    assert replies[RATE]["text"].startswith("Slow down, please")


def test_commands_hints_and_stickers_spend_the_budget_too(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    control.send_message(user_id, user_id, "/start")
    control.send_message(user_id, user_id, "/help")
    control.send_sticker(user_id, user_id)
    control.send_message(user_id, user_id, "/nope")  # over: the note
    control.send_photo(user_id, user_id)
    control.send_message(user_id, user_id, "???")
    control.send_message(user_id, user_id, "/subscriptions")
    control.send_sticker(user_id, user_id)

    wait_for_log(
        bot,
        lambda _: ignored_in(bot, user_id) == 4 or len(control.sent_messages(user_id)) > RATE + 1,
        "the last four to be ignored",
    )
    replies = [r["text"] for r in control.sent_messages(user_id)]
    assert len(replies) == RATE + 1, replies
    assert replies[0].startswith("👋 Hello") and replies[1].startswith("How to use me")
    assert replies[2].startswith("I can only read text")
    assert replies[3].startswith("Slow down, please")


def test_one_slow_down_note_per_chat_however_many_users_flood_it(
    control: Control, bot: BotProcess, group_id: int, user_id: int
) -> None:
    ann, bob = user_id, user_id + 500_000
    for user in (ann, bob):
        for _ in range(RATE + 2):
            group_says(control, group_id, user, f"/ask {QUESTION}")

    wait_for_log(
        bot,
        lambda _: (
            (ignored_in(bot, ann) == 1 and ignored_in(bot, bob) == 2)
            or len(control.sent_messages(group_id)) > 2 * RATE + 1
        ),
        "the group's excess to be ignored",
    )
    texts = [r["text"] for r in control.sent_messages(group_id)]
    assert len(texts) == 2 * RATE + 1, texts
    assert sum(text.startswith("Slow down, please") for text in texts) == 1
    # The note is per chat: Ann, over budget, is still told in her private chat.
    _, private = ask(control, ann, QUESTION)
    assert private["text"].startswith("Slow down, please")


def test_group_chatter_the_bot_does_not_answer_costs_nothing(
    control: Control, bot: BotProcess, group_id: int, user_id: int
) -> None:
    for n in range(2 * RATE):
        group_says(control, group_id, user_id, f"did anyone see the news? {n}")
        group_says(control, group_id, user_id, "/help@some_other_bot")
        control.send_sticker(group_id, user_id, chat_type="supergroup")
    asked = [group_says(control, group_id, user_id, f"/ask {q}") for q in OTHER_QUESTIONS]
    asked.append(group_says(control, group_id, user_id, f"/ask {QUESTION}"))

    replies = control.wait_for_messages(group_id, len(asked), TIMEOUT)
    assert [r["reply_to_message"]["message_id"] for r in replies] == [
        m["message_id"] for m in asked
    ]
    assert all(quote_of(r) for r in replies)
    assert ignored_in(bot, user_id) == 0


def test_more_presses_share_the_budget_and_are_refused_with_a_notification(
    control: Control, user_id: int
) -> None:
    _, answer = ask(control, user_id, SEVERAL_ANSWERS)
    (more,) = buttons(answer)
    for question in OTHER_QUESTIONS:
        ask(control, user_id, question)

    press = control.press_button(user_id, user_id, answer["message_id"], more["callback_data"])
    assert control.wait_for_callback_answer(press["id"], TIMEOUT)["text"] == SLOW_DOWN_PRESS
    assert control.edits(user_id) == []


def test_inline_queries_have_their_own_budget(control: Control, user_id: int) -> None:
    answers = []
    for text in ("border crossings", "refugees in Turkey", "Faiz Amr", "Damascus districts"):
        query = control.inline_query(user_id, text)
        answers.append(control.wait_for_inline_answer(query["id"], TIMEOUT))
    assert all(a["results"] for a in answers[:RATE])
    assert answers[RATE]["results"] == [] and int(answers[RATE]["cache_time"]) == 0
    # Chat questions are counted apart from inline queries.
    _, reply = ask(control, user_id, QUESTION)
    assert "Seizing the border crossings" in (quote_of(reply) or "")


# -- length and emptiness ------------------------------------------------------------------------


def test_a_long_question_is_cut_and_the_answer_says_so(
    control: Control, bot: BotProcess, user_id: int
) -> None:
    question = " ".join([QUESTION] * 150)
    assert len(question) > 5 * MAX_QUESTION_CHARS

    _, reply = ask(control, user_id, question)

    assert "Seizing the border crossings" in (quote_of(reply) or "")
    assert reply["text"].endswith(TOO_LONG_NOTE)
    italic = [e for e in reply.get("entities", []) if e["type"] == "italic"]
    assert italic, reply
    assert len(reply["text"]) <= 4096


def test_a_question_of_exactly_the_limit_is_not_cut(control: Control, user_id: int) -> None:
    question = (QUESTION + " ") * (MAX_QUESTION_CHARS // (len(QUESTION) + 1))
    question = question[:MAX_QUESTION_CHARS]
    _, reply = ask(control, user_id, question)
    assert TOO_LONG_NOTE not in reply["text"]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("   ", render_ask_usage().text),
        ("\u3000\t\u2003", render_ask_usage().text),  # Unicode spaces
        ("/ask", render_ask_usage().text),
        ("???", NOTHING_TO_SEARCH.text),
        ("\u200f\u200d\u2063", NOTHING_TO_SEARCH.text),  # RTL mark, joiner, invisible separator
        ("🙂 ✨ …", NOTHING_TO_SEARCH.text),
    ],
)
def test_nothing_to_search_gets_a_hint(
    control: Control, bot: BotProcess, user_id: int, text: str, hint: str
) -> None:
    _, reply = ask(control, user_id, text)
    assert reply["text"] == visible_text(hint)
    assert searches_in(bot, user_id) == 0


# -- group flood ---------------------------------------------------------------------------------


FLOOD = 300  # more than python-telegram-bot's 256 concurrent updates


def test_a_group_flood_does_not_starve_private_chats(tmp_path: Path) -> None:
    """Telegram lets a bot make 20 calls a minute in one group, so a flood of 300
    questions there takes half an hour to answer.  A private question sent after all of
    them is answered at once: it does not queue behind the group."""
    group, private_user = -100_880_001, 8_800_001
    with FakeBotAPI() as server:
        control = server.control
        bot = start_bot(server, tmp_path / "state")
        try:
            for n in range(FLOOD):
                group_says(control, group, 8_810_000 + n, f"/ask {QUESTION}")
            control.wait_until_acknowledged(TIMEOUT)  # the bot holds the whole flood

            # Behind the flood (python-telegram-bot's 256 handlers all waiting on the
            # group's limit) this answer would take minutes and time out here.
            _, private = ask(control, private_user, QUESTION)

            assert "Seizing the border crossings" in (quote_of(private) or "")
            assert len(control.sent_messages(group)) < FLOOD // 10  # the flood is still on
            assert "Traceback" not in bot.log
        finally:
            bot.stop(signal.SIGKILL)  # the group's backlog would take half an hour to drain
