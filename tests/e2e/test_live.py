"""Live reports through the real bot (`python -m bot`) and the local Bot API server:
files dropped into, changed in and deleted from REPORTS_DIR while the bot runs, questions
asked during a reload, and subscriptions (subscribe → a report arrives → the push →
unsubscribe → nothing more; a user who blocked the bot)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import TIMEOUT, BotProcess, ask, entity_texts, quote_of, start_bot
from tests.e2e.live_helpers import (
    POLL_SECONDS,
    ask_until,
    big_jsonl,
    bot_messages_after,
    drop,
    seeded_folder,
    subscribe,
    wait_for_push,
)

GLACIER = """Glacier Observatory Opens

The Kvitøya glacier observatory opened on Thursday with twelve seismometers on the ice.

"We will finally hear the ice shelf move," said chief glaciologist Ingrid Solberg.
"""
GLACIER_QUESTION = "How many seismometers does the glacier observatory have?"
SEED_QUESTION = "How many refugees have entered camps in Turkey?"
SEED_QUOTE = "Over 40,000 refugees"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_folder(tmp_path_factory.mktemp("live") / "reports")


@pytest.fixture(scope="module")
def live_bot(
    server: FakeBotAPI, folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    process = start_bot(
        server,
        tmp_path_factory.mktemp("live-state"),
        REPORTS_DIR=folder,
        REPORTS_POLL_SECONDS=POLL_SECONDS,
        RATE_LIMIT_PER_MINUTE="0",  # these tests ask again and again on purpose
        WATCHFILES_FORCE_POLLING="",  # file-system events, whatever the shell says
    )
    yield process
    status = process.stop()
    assert status == 0, f"the bot exited with {status}; log:\n{process.log}"


def quotes(text: str) -> Any:
    return lambda reply: (quote_of(reply) or "").find(text) >= 0


def not_found(reply: dict[str, Any]) -> bool:
    return quote_of(reply) is None and "couldn't find" in reply["text"]


# -- the folder ----------------------------------------------------------------------------


def test_a_dropped_file_is_answered_without_a_restart(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    _, before = ask(control, user_id, GLACIER_QUESTION)
    assert not_found(before)
    drop(folder, "glacier.txt", GLACIER)
    reply = ask_until(control, user_id, GLACIER_QUESTION, quotes("twelve seismometers"))
    assert "Glacier Observatory Opens" in reply["text"]
    _, latest = ask(control, user_id, "/latest 1")
    assert "Glacier Observatory Opens" in latest["text"]  # dated by its file: the newest


def test_a_changed_file_is_answered_from_its_new_text(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    path = drop(folder, "harbour/ferry.txt", "Ferry News\n\nThe ferry to Hiiumaa leaves at six.\n")
    question = "When does the ferry to Hiiumaa leave?"
    ask_until(control, user_id, question, quotes("leaves at six"))
    path.write_text(
        "Ferry Timetable Changed\n\nThe ferry to Hiiumaa now leaves at nine.\n", encoding="utf-8"
    )
    reply = ask_until(control, user_id, question, quotes("leaves at nine"))
    assert "Ferry Timetable Changed" in reply["text"]
    _, latest = ask(control, user_id, "/latest 20")
    assert "Ferry Timetable Changed" in latest["text"] and "Ferry News" not in latest["text"]


def test_a_deleted_file_is_no_longer_answered_or_listed(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    path = drop(folder, "mine.txt", "Mine Rescue\n\nAll 33 miners were lifted out by capsule.\n")
    question = "How many miners were lifted out by capsule?"
    ask_until(control, user_id, question, quotes("33 miners"))
    path.unlink()
    ask_until(control, user_id, question, not_found)
    _, latest = ask(control, user_id, "/latest 20")
    assert "Mine Rescue" not in latest["text"]
    _, topic = ask(control, user_id, "/latest miners capsule")
    assert topic["text"].startswith("No reports on “miners capsule” yet.")


def test_temporary_files_are_never_indexed_until_renamed(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    comet = "Comet Seen\n\nThe comet Kohoutek was seen over Riga.\n"
    partial = drop(folder, "comet.txt.part", comet)
    drop(folder, ".comet.txt.swp", comet)
    marker = drop(folder, "marker.txt", "Marker\n\nThe tram depot painted its doors blue.\n")
    # Once the marker (written after them) is answered, the scan has seen the others too.
    ask_until(control, user_id, "What colour did the tram depot paint its doors?", quotes("blue"))
    _, reply = ask(control, user_id, "Where was the comet Kohoutek seen?")
    assert not_found(reply)
    partial.rename(folder / "comet.txt")
    ask_until(control, user_id, "Where was the comet Kohoutek seen?", quotes("over Riga"))
    marker.unlink()


def test_a_new_subfolder_and_a_folder_moved_in_are_answered(
    live_bot: BotProcess,
    control: Control,
    folder: Path,
    user_id: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The folders and the file at once: the file is there before any watch on its folder.
    drop(folder, "north/arctic/aurora.txt", "Aurora\n\nThe aurora lit up Tromsø at midnight.\n")
    ask_until(control, user_id, "When did the aurora light up Tromsø?", quotes("midnight"))
    staging = tmp_path_factory.mktemp("staging")
    drop(staging, "quakes/iceland.txt", "Quake\n\nA quake of magnitude 5.2 shook Grindavík.\n")
    (staging / "quakes").rename(folder / "quakes")
    question = "Which town did the magnitude 5.2 quake shake?"
    ask_until(control, user_id, question, quotes("Grindavík"))
    (folder / "quakes").rename(staging / "quakes-gone")
    ask_until(control, user_id, question, not_found)


def test_the_folder_is_watched_with_events_and_said_so_once(live_bot: BotProcess) -> None:
    assert live_bot.log.count("for changes with file-system events") == 1, live_bot.log
    assert "by polling every" not in live_bot.log


def test_questions_asked_during_a_reload_are_answered(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    drop(folder, "bulk/archive.jsonl", big_jsonl(reports=1500, paragraphs=8))
    drop(folder, "bulk/zz-beacon.txt", "Beacon\n\nThe lighthouse beacon at Ristna was relit.\n")
    answered_meanwhile = 0
    while True:  # until the reload that brings the archive in is done
        _, seed = ask(control, user_id, SEED_QUESTION)
        assert SEED_QUOTE in (quote_of(seed) or ""), seed["text"]
        _, beacon = ask(control, user_id, "Which lighthouse beacon was relit?")
        if "Ristna" in (quote_of(beacon) or ""):
            break
        answered_meanwhile += 1
        assert answered_meanwhile < 10 * TIMEOUT, "the archive was never picked up"
    assert answered_meanwhile >= 1
    assert "reports reloaded" in live_bot.log
    _, seed = ask(control, user_id, SEED_QUESTION)
    assert SEED_QUOTE in (quote_of(seed) or "")


# -- subscriptions ---------------------------------------------------------------------------


def test_subscribe_push_unsubscribe_then_nothing_more(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    alice, bob = user_id, user_id + 500_000
    topic = "volcano ash"
    subscribe(control, alice, topic)
    listed = subscribe(control, bob, topic)  # after alice: bob's push is sent after hers
    _, mine = ask(control, alice, "/subscriptions")
    assert "1. “volcano ash”" in mine["text"]

    drop(folder, "etna.txt", "Etna Erupts\n\nVolcano ash from Etna closed Catania airport.\n")
    push = wait_for_push(control, alice, mine["message_id"])
    assert "Catania airport" in (quote_of(push) or "")
    assert "Etna Erupts" in push["text"] and "“volcano ash”" in push["text"]
    assert entity_texts(push, "bold")  # the best sentence and the header, as in an answer
    wait_for_push(control, bob, listed["message_id"])

    _, gone = ask(control, alice, "/unsubscribe volcano ash")
    assert gone["text"] == "🔕 Unsubscribed from “volcano ash”."
    before_bob = control.sent_messages(bob)[-1]["message_id"]
    drop(folder, "hekla.txt", "Hekla Wakes\n\nVolcano ash from Hekla grounded flights.\n")
    # Bob still follows the topic: his push means the new report has been handed out.
    assert "Hekla" in (quote_of(wait_for_push(control, bob, before_bob)) or "")
    assert bot_messages_after(control, alice, gone["message_id"]) == []
    # Unrelated reports are not pushed to anyone.
    drop(folder, "bakery.txt", "Bakery\n\nThe bakery on Pikk street sells rye bread.\n")
    ask_until(control, alice, "Which street is the bakery on?", quotes("Pikk"))
    assert all("Bakery" not in m["text"] for m in control.sent_messages(bob))


def test_a_user_who_blocked_the_bot_is_unsubscribed_not_retried(
    live_bot: BotProcess, control: Control, folder: Path, user_id: int
) -> None:
    carol, dave = user_id, user_id + 500_000
    subscribe(control, carol, "lighthouse keeper")
    listed = subscribe(control, dave, "lighthouse keeper")
    control.block_bot(carol)
    earlier = len(control.calls("sendMessage"))
    drop(folder, "keeper.txt", "Keeper Retires\n\nThe last lighthouse keeper of Vilsandi left.\n")
    wait_for_push(control, dave, listed["message_id"])
    to_carol = [
        call["status"]
        for call in control.calls("sendMessage")[earlier:]
        if str(call["params"].get("chat_id")) == str(carol)
    ]
    assert to_carol == [403]  # tried once, refused, not retried
    control.block_bot(carol, blocked=False)
    _, mine = ask(control, carol, "/subscriptions")
    assert mine["text"].startswith("You follow no topics.")


def test_subscription_commands_explain_themselves(
    live_bot: BotProcess, control: Control, user_id: int
) -> None:
    _, usage = ask(control, user_id, "/subscribe")
    assert "/subscribe refugees Turkey" in usage["text"]
    _, vague = ask(control, user_id, "/subscribe the of and")
    assert "has no words I can search for" in vague["text"]
    subscribe(control, user_id, "wheat harvest")
    _, again = ask(control, user_id, "/subscribe Wheat  Harvest")
    assert again["text"].startswith("You already follow “Wheat Harvest”.")
    _, which = ask(control, user_id, "/unsubscribe")
    assert "1. “wheat harvest”" in which["text"]
    _, unknown = ask(control, user_id, "/unsubscribe barley")
    assert unknown["text"].startswith("You don't follow “barley”.")
    _, by_number = ask(control, user_id, "/unsubscribe 1")
    assert by_number["text"] == "🔕 Unsubscribed from “wheat harvest”."
    subscribe(control, user_id, "<b>oats</b> & rye")  # escaped in every reply
    subscribe(control, user_id, "barley")
    _, everything = ask(control, user_id, "/unsubscribe all")
    assert everything["text"] == "🔕 Unsubscribed from all 2 topics."
    _, menu = ask(control, user_id, "/help")
    assert "/subscribe TOPIC" in menu["text"] and "/latest [N] [TOPIC]" in menu["text"]
    assert {"subscribe", "subscriptions", "unsubscribe"} <= {
        c["command"] for c in control.my_commands()
    }
