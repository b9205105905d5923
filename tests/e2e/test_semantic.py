"""The semantic stage in the running bot: `python -m bot` with SEMANTIC_SEARCH on, the
real bundled model, the seed report, against the fake Bot API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import TIMEOUT, ask, entity_texts, quote_of, start_bot, wait_until

READY = "semantic stage ready"
NOT_FOUND_START = "I couldn't find that in the reports"
# Shares no word with its answer but "Turkey": BM25 and stage two alone refuse it.
PARAPHRASE = "How many people fled to Turkey?"
ANSWER = "Over 40,000 refugees have already entered camps in Turkey"


def bold_of(message: dict[str, Any]) -> str:
    return " ".join(entity_texts(message, "bold"))


def test_questions_in_other_words_are_answered_once_the_reports_are_embedded(
    server: FakeBotAPI, tmp_path: Path
) -> None:
    control = server.control
    bot = start_bot(server, tmp_path / "state", SEMANTIC_SEARCH="on")
    try:
        wait_until(lambda: READY in bot.log, "the semantic stage", timeout=TIMEOUT * 3)
        _, reply = ask(control, 9_100_001, PARAPHRASE)
        assert ANSWER in bold_of(reply), reply["text"]
        # "What happened in X?" quotes the passage about X, not a caption naming it.
        _, reply = ask(control, 9_100_002, "What happened in Aleppo?")
        assert "rebel forces had taken control of three neighbourhoods" in bold_of(reply)
        # Off-topic questions are still refused, with nothing quoted.
        _, reply = ask(control, 9_100_003, "how do I bake sourdough bread")
        assert reply["text"].startswith(NOT_FOUND_START)
        assert quote_of(reply) is None
    finally:
        assert bot.stop() == 0, bot.log
    chunks = list((tmp_path / "state" / "vectors").glob("*/int8-*.keys"))
    assert chunks, "the vectors were not kept in DATA_DIR/vectors"

    # A restart embeds nothing again: every vector comes from DATA_DIR/vectors.
    first_run = len(bot.log)  # the same log file goes on
    again = start_bot(server, tmp_path / "state", SEMANTIC_SEARCH="on")
    try:
        wait_until(lambda: READY in again.log[first_run:], "the semantic stage", TIMEOUT * 3)
        assert "0 texts embedded now" in again.log[first_run:]
        assert "new windows and sentences" not in again.log[first_run:]
        _, reply = ask(control, 9_100_004, PARAPHRASE)
        assert ANSWER in bold_of(reply)
    finally:
        assert again.stop() == 0, again.log


def test_a_model_that_cannot_be_loaded_leaves_bm25_answering(
    server: FakeBotAPI, tmp_path: Path
) -> None:
    control = server.control
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json", encoding="utf-8")
    (broken / "model.onnx").write_bytes(b"not a model")
    bot = start_bot(server, tmp_path / "state", SEMANTIC_SEARCH="on", SEMANTIC_MODEL_DIR=broken)
    try:
        _, reply = ask(control, 9_100_010, "How many refugees have reached camps in Turkey?")
        assert ANSWER in bold_of(reply)
        _, reply = ask(control, 9_100_011, PARAPHRASE)  # BM25 alone refuses the paraphrase
        assert reply["text"].startswith(NOT_FOUND_START)
    finally:
        assert bot.stop() == 0, bot.log
    said = [line for line in bot.log.splitlines() if "semantic stage off" in line]
    assert len(said) == 1, bot.log
    assert "Traceback" not in bot.log


@pytest.mark.parametrize("value", ["off", "0", "no"])
def test_semantic_search_off_answers_with_bm25_alone(
    server: FakeBotAPI, tmp_path: Path, value: str
) -> None:
    bot = start_bot(server, tmp_path / "state", SEMANTIC_SEARCH=value)
    try:
        _, reply = ask(server.control, 9_100_020, PARAPHRASE)
        assert reply["text"].startswith(NOT_FOUND_START)
    finally:
        assert bot.stop() == 0, bot.log
    assert READY not in bot.log
    assert not (tmp_path / "state" / "vectors").exists()
