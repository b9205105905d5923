"""The document libraries are imported only when a file of their kind is read, so the
bot's start-up never pays for them (start-up time is measured, benchmarks/bench_restart.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_SEEDS

HEAVY = ("trafilatura", "lxml", "pypdf", "docx")
PROBE = """
import json, sys
from retrieval.loader import load_reports
import bot.app
load_reports(sys.argv[1])
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def loaded_after_reading(folder: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.slow
def test_a_folder_of_text_reports_never_imports_the_document_libraries() -> None:
    assert loaded_after_reading(PROJECT_SEEDS) == []


@pytest.mark.slow
def test_a_pdf_imports_pypdf_alone(tmp_path: Path) -> None:
    from tests.retrieval.documents import Block, make_pdf

    (tmp_path / "a.pdf").write_bytes(make_pdf([Block("Title"), Block("The text.")]))
    assert loaded_after_reading(tmp_path) == ["pypdf"]


@pytest.mark.slow
def test_the_bot_starts_without_the_feed_and_front_matter_parsers() -> None:
    # A restart from the index cache reads neither a feed nor a file's front matter.
    probe = "import json, sys, bot.runner; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "retrieval.feed_format" in modules and "retrieval.formats" in modules
    assert not {"feedparser", "yaml"} & modules
