"""Reports full of HTML-like text, long titles and many entries: everything the bot sends
must still be Telegram HTML that the strict server accepts, under 4096 characters."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import SEEDS, TIMEOUT, BotProcess, ask, entity_texts, quote_of, start_bot

pytestmark = pytest.mark.usefixtures("bot")

HOSTILE_TITLE = '<b>Harbour</b> & "Dock" > <i>Strike</i> &amp; </blockquote>'
HOSTILE_SOURCE = "R&D <Wire>"
HOSTILE_URL = 'https://example.com/strike?a=1&b="2"&c=<3>'
STRIKE = (
    'The <harbour> & "dock" strike ended on Tuesday after 40 days, '
    "said union leader Mary O'Hara & co."
)
LONG_TITLE = "Long title " * 40
BRIDGE = "The river bridge at Kelmarsh reopened to lorries after 3 years of repairs."


def write_reports(folder: Path) -> None:
    shutil.copytree(SEEDS, folder)
    (folder / "strike.md").write_text(
        "---\n"
        f"title: {json.dumps(HOSTILE_TITLE)}\n"
        f"source: {json.dumps(HOSTILE_SOURCE)}\n"
        f"url: {json.dumps(HOSTILE_URL)}\n"
        "published: 2024-03-01\n"
        "---\n\n"
        f"{STRIKE}\n\n"
        "Ships had queued for weeks off the coast while the talks went on.\n",
        encoding="utf-8",
    )
    # Many reports with long titles and long first sentences: /latest 20 must still fit.
    with (folder / "many.jsonl").open("w", encoding="utf-8") as out:
        for day in range(1, 26):
            first = f"Report {day} & <more> " + "words " * 80 + "end."
            text = f"{first}\n\n{BRIDGE if day == 7 else 'Nothing else happened.'}"
            record = {
                "id": f"many-{day}",
                "title": f"{LONG_TITLE} <{day}> & co",
                "text": text,
                "source": "Wire & Co",
                "published": f"2024-01-{day:02d}",
            }
            out.write(json.dumps(record) + "\n")
    # A single paragraph of about 10,000 characters.
    long_paragraph = " ".join(
        f"Sentence {i} says <x{i}> & more about grain prices." for i in range(200)
    )
    (folder / "long.txt").write_text(
        f"Grain <prices> & more\n\n{long_paragraph}\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    reports = tmp_path_factory.mktemp("hostile") / "reports"
    write_reports(reports)
    process = start_bot(server, tmp_path_factory.mktemp("state"), REPORTS_DIR=reports)
    yield process
    assert process.stop() == 0, process.log


def test_hostile_report_text_is_quoted_literally(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "How long did the harbour dock strike last?")

    assert quote_of(reply) == STRIKE
    assert f"{HOSTILE_TITLE} · {HOSTILE_SOURCE} · 1 Mar 2024" in reply["text"]
    links = [e for e in reply.get("entities", []) if e["type"] == "text_link"]
    assert [link["url"] for link in links] == [HOSTILE_URL]
    assert entity_texts(reply, "text_link") == [HOSTILE_TITLE]


def test_latest_twenty_long_reports_fits_one_message(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "/latest 20")

    assert len(reply["text"]) <= 4096
    assert reply["text"].startswith("Newest reports (")
    assert HOSTILE_TITLE in reply["text"]  # the newest report leads the list


def test_a_passage_from_a_huge_paragraph_fits(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "What does sentence 150 say about grain prices?")
    quote = quote_of(reply)
    assert quote is not None and "<x150>" in quote
    assert len(quote) <= 702


def test_report_in_a_jsonl_file_is_found(control: Control, user_id: int) -> None:
    _, reply = ask(control, user_id, "When did the Kelmarsh river bridge reopen to lorries?")
    assert quote_of(reply) == BRIDGE


def test_inline_answers_with_hostile_titles(control: Control, user_id: int) -> None:
    query = control.inline_query(user_id, "harbour dock strike")
    results = control.wait_for_inline_answer(query["id"], TIMEOUT)["results"]
    assert results and results[0]["title"] == HOSTILE_TITLE


def test_nothing_was_refused(control: Control, bot: BotProcess) -> None:
    refused = [c for c in control.calls() if c["status"] != 200 and c["method"] != "getUpdates"]
    assert refused == []
    assert "Traceback" not in bot.log
