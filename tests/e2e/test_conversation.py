"""The bot in conversation, end to end: `python -m bot` over the seed report, against the
fake Bot API server, with tests acting as users in private chats, groups and inline mode."""

from __future__ import annotations

import pytest

from bot.telegram.wording import COMMANDS
from tests.botapi.control import Control
from tests.e2e.harness import (
    BOT_USERNAME,
    SEVERAL_ANSWERS,
    TIMEOUT,
    BotProcess,
    ask,
    buttons,
    entity_texts,
    group_says,
    quote_of,
)

pytestmark = pytest.mark.usefixtures("bot")

NOT_FOUND_START = "I couldn't find that in the reports"


# -- start-up ------------------------------------------------------------------------------


def test_commands_menu_is_registered_at_start(control: Control) -> None:
    menu = control.my_commands()
    assert [c["command"] for c in menu] == [command.name for command in COMMANDS]
    assert all(c["description"] for c in menu)


# -- commands ------------------------------------------------------------------------------


def test_start_welcomes_and_says_what_the_bot_knows(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/start")

    text = reply["text"]
    assert text.startswith("👋 Hello, Tester!")
    assert "I know 1 report; the newest is from " in text
    examples = [line.removeprefix("• ") for line in text.splitlines() if line.startswith("• ")]
    assert len(examples) == 2
    # The examples come from the reports, and they are answerable there.
    for example in examples:
        _, answer = ask(control, user_id, example)
        assert quote_of(answer), f"example {example!r} got no quote: {answer['text']}"


def test_help_explains_every_command(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/help")
    for command in COMMANDS:
        assert f"/{command.name}" in reply["text"]
    assert f"@{BOT_USERNAME} QUESTION" in reply["text"]


def test_latest_lists_the_newest_reports(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/latest")

    lines = reply["text"].splitlines()
    assert lines[0] == "Newest reports (1 of 1)"
    assert lines[2].startswith("1. Syria Battle · ")
    assert lines[3].startswith("Reports claim that troops loyal to Syria's President")
    assert entity_texts(reply, "bold")[1] == "Syria Battle"


def test_latest_with_a_count(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/latest 2")
    assert reply["text"].startswith("Newest reports (1 of 1)")  # only one report exists


def test_latest_with_too_big_a_count_is_capped(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/latest 500")
    assert "At most 20 at a time." in reply["text"]


def test_latest_with_a_bad_count_gets_a_hint(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/latest 0")
    assert reply["text"].startswith("“0” is not a number of reports.")
    assert "/latest N" in reply["text"]


def test_latest_with_a_topic_lists_the_reports_on_it(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/latest refugees camps Turkey")
    assert reply["text"].startswith("Newest reports (1 of 1)")
    assert "Syria Battle" in reply["text"]
    _, reply = ask(control, user_id, "/latest sourdough bread")
    assert reply["text"].startswith("No reports on “sourdough bread” yet.")


def test_unknown_command_gets_a_hint(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/frobnicate now")
    assert reply["text"].startswith("I don't know the command /frobnicate.")
    assert "/help" in reply["text"]


def test_ask_without_a_question_shows_how(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/ask")
    assert reply["text"] == "Ask me like this: /ask Who commands the rebels?"


# -- questions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "quote_start", "must_contain"),
    [
        ("How many refugees have entered camps in Turkey?", "Over 40,000 refugees", ""),
        (
            "Who commands the rebels in Aleppo province?",
            "The commander of Syrian rebels",
            "Col. Abdul-Jabbar Mohammed Aqidi",
        ),
        (
            "Which districts of Damascus were recaptured?",
            "In Damascus, Assad's forces",
            "Mezzeh and Barzeh",
        ),
        (
            "What did Faiz Amr say about the border crossings?",
            '"Seizing the border crossings',
            "Faiz Amr",
        ),
    ],
)
def test_seed_questions_are_answered_with_the_right_passage(
    control: Control, user_id: int, question: str, quote_start: str, must_contain: str
) -> None:
    asked, reply = ask(control, user_id, question)

    quote = quote_of(reply)
    assert quote is not None and quote.startswith(quote_start), reply["text"]
    assert must_contain in quote
    (bold_sentence, *_) = entity_texts(reply, "bold")
    assert bold_sentence in quote  # the best sentence is bold inside the quote
    assert reply["reply_to_message"]["message_id"] == asked["message_id"]
    assert any(line.startswith("Syria Battle · ") for line in reply["text"].splitlines())
    assert "typing" in [a["action"] for a in control.chat_actions(user_id)]


def test_a_quoted_person_is_named_as_speaker(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "What did Faiz Amr say about the border crossings?")
    speaker_lines = [line for line in reply["text"].splitlines() if line.startswith("Quoted: ")]
    assert len(speaker_lines) == 1 and "Faiz Amr" in speaker_lines[0]


def test_not_found_quotes_nothing(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "How do I bake sourdough bread?")

    assert reply["text"].startswith(NOT_FOUND_START)
    assert "/latest" in reply["text"]
    assert quote_of(reply) is None and not buttons(reply)


def test_more_walks_through_every_hit_then_the_button_goes(control: Control, user_id: int) -> None:
    _, answer = ask(control, user_id, SEVERAL_ANSWERS)
    seen = [quote_of(answer)]
    message_id = answer["message_id"]
    presses = 0
    while buttons(answer):
        (button,) = buttons(answer)
        assert len(button["callback_data"].encode()) <= 64
        query = control.press_button(user_id, user_id, message_id, data=button["callback_data"])
        assert control.wait_for_callback_answer(query["id"], TIMEOUT)
        presses += 1
        edits = control.wait_for_edits(user_id, presses, TIMEOUT, message_id)
        answer = edits[-1]["message"]
        seen.append(quote_of(answer))

    assert 2 <= len(seen) <= 5
    assert all(seen) and len(set(seen)) == len(seen), "every press shows a new passage"
    assert f"Answer {len(seen)} of {len(seen)}" in answer["text"]
    assert not buttons(control.message(user_id, message_id))


def test_a_hostile_message_is_handled_and_nothing_is_echoed_unescaped(
    control: Control, user_id: int
) -> None:
    hostile = "<b>refugees</b> & <script>camps</script> > Turkey <a href='x'>&amp;"
    _, reply = ask(control, user_id, hostile)
    # Either an answer or not-found; the server accepted the HTML either way.
    assert quote_of(reply) is not None or reply["text"].startswith(NOT_FOUND_START)
    _, echoed = ask(control, user_id, "/latest <&>")
    assert echoed["text"].startswith("“<&>” is not a number of reports.")


def test_a_4000_character_question_is_answered(control: Control, user_id: int) -> None:
    question = ("How many refugees have entered camps in Turkey? " * 90)[:4000]
    assert len(question) == 4000
    _, reply = ask(control, user_id, question)
    quote = quote_of(reply)
    assert quote is not None and quote.startswith("Over 40,000 refugees")


def test_a_sticker_gets_a_hint(control: Control, user_id: int) -> None:
    sticker = control.send_sticker(user_id, user_id)
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, sticker["message_id"])
    assert reply["text"].startswith("I can only read text.")


def test_a_photo_gets_a_hint(control: Control, user_id: int) -> None:
    photo = control.send_photo(user_id, user_id, caption="What is this?")
    (reply,) = control.wait_for_messages(user_id, 1, TIMEOUT, photo["message_id"])
    assert reply["text"].startswith("I can only read text.")


# -- groups --------------------------------------------------------------------------------


def test_group_ask_is_answered(control: Control, group_id: int, user_id: int) -> None:
    asked = group_says(
        control, group_id, user_id, "/ask Which districts of Damascus were recaptured?"
    )
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, asked["message_id"])
    quote = quote_of(reply)
    assert quote is not None and "Mezzeh and Barzeh" in quote


def test_group_ask_addressed_to_the_bot_by_name(
    control: Control, group_id: int, user_id: int
) -> None:
    asked = group_says(
        control, group_id, user_id, f"/ask@{BOT_USERNAME} How many refugees entered Turkey?"
    )
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, asked["message_id"])
    assert (quote_of(reply) or "").startswith("Over 40,000 refugees")


def test_group_mention_is_answered_and_more_works_there(
    control: Control, group_id: int, user_id: int
) -> None:
    asked = group_says(
        control, group_id, user_id, f"@{BOT_USERNAME} who commands the rebels in Aleppo?"
    )
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, asked["message_id"])
    assert "Abdul-Jabbar Mohammed Aqidi" in (quote_of(reply) or "")

    (button,) = buttons(reply)
    query = control.press_button(
        group_id, user_id + 1, reply["message_id"], button["callback_data"]
    )
    assert control.wait_for_callback_answer(query["id"], TIMEOUT).get("text") is None
    (edit,) = control.wait_for_edits(group_id, 1, TIMEOUT, reply["message_id"])
    assert quote_of(edit["message"]) not in (None, quote_of(reply))


def test_group_reply_to_the_bot_is_a_question(
    control: Control, group_id: int, user_id: int
) -> None:
    asked = group_says(control, group_id, user_id, "/ask How many refugees entered Turkey?")
    (answer,) = control.wait_for_messages(group_id, 1, TIMEOUT, asked["message_id"])
    follow_up = group_says(
        control, group_id, user_id, "Which districts of Damascus were recaptured?",
        reply_to=answer["message_id"],
    )  # fmt: skip
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, follow_up["message_id"])
    assert "Mezzeh and Barzeh" in (quote_of(reply) or "")


def test_group_chatter_is_ignored(control: Control, group_id: int, user_id: int) -> None:
    chatter = group_says(control, group_id, user_id, "Who commands the rebels in Aleppo?")
    control.send_sticker(group_id, user_id, chat_type="supergroup")
    group_says(control, group_id, user_id, "/frobnicate")
    group_says(control, group_id, user_id, "/frobnicate@some_other_bot")
    group_says(control, group_id, user_id, "mail me at someone@reports_test_bot.example")
    # Something addressed to the bot last: once it is answered, the chatter was handled too.
    addressed = group_says(control, group_id, user_id, f"/help@{BOT_USERNAME}")
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, addressed["message_id"])
    control.wait_until_acknowledged(TIMEOUT)

    sent = control.sent_messages(group_id)
    assert [m["message_id"] for m in sent] == [reply["message_id"]]
    assert reply["reply_to_message"]["message_id"] == addressed["message_id"]
    assert chatter["message_id"] < addressed["message_id"]


def test_group_unknown_command_for_the_bot_gets_a_hint(
    control: Control, group_id: int, user_id: int
) -> None:
    asked = group_says(control, group_id, user_id, f"/frobnicate@{BOT_USERNAME}")
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, asked["message_id"])
    assert reply["text"].startswith("I don't know the command /frobnicate.")


def test_group_sticker_replying_to_the_bot_gets_a_hint(
    control: Control, group_id: int, user_id: int
) -> None:
    asked = group_says(control, group_id, user_id, "/ask How many refugees entered Turkey?")
    (answer,) = control.wait_for_messages(group_id, 1, TIMEOUT, asked["message_id"])
    sticker = control.send_sticker(
        group_id, user_id, chat_type="supergroup", reply_to_message_id=answer["message_id"]
    )
    (reply,) = control.wait_for_messages(group_id, 1, TIMEOUT, sticker["message_id"])
    assert reply["text"].startswith("I can only read text.")


# -- inline mode -----------------------------------------------------------------------------


def test_inline_query_offers_answers(control: Control, user_id: int) -> None:
    query = control.inline_query(user_id, "What did Faiz Amr say about the border crossings?")
    answer = control.wait_for_inline_answer(query["id"], TIMEOUT)

    results = answer["results"]
    assert 1 <= len(results) <= 5
    assert len({r["id"] for r in results}) == len(results)
    first = results[0]
    assert first["type"] == "article" and first["title"] == "Syria Battle"
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["message_text"].startswith("<blockquote>")
    assert "Seizing the border crossings" in content["message_text"]
    assert "Faiz Amr" in first["description"] or "Faiz Amr" in content["message_text"]


def test_inline_query_not_found_offers_nothing(control: Control, user_id: int) -> None:
    query = control.inline_query(user_id, "How do I bake sourdough bread?")
    assert control.wait_for_inline_answer(query["id"], TIMEOUT)["results"] == []


def test_empty_inline_query_offers_nothing(control: Control, user_id: int) -> None:
    query = control.inline_query(user_id, "")
    assert control.wait_for_inline_answer(query["id"], TIMEOUT)["results"] == []


# -- last: nothing went wrong on the way ----------------------------------------------------


def test_no_request_was_refused_and_no_error_was_logged(control: Control, bot: BotProcess) -> None:
    refused = [c for c in control.calls() if c["status"] != 200 and c["method"] != "getUpdates"]
    assert refused == []
    assert "Traceback" not in bot.log
    assert "error while handling update" not in bot.log
