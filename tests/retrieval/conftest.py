"""Fixtures the retrieval tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import PROJECT_SEEDS


@pytest.fixture
def seeds_and_notes(tmp_path: Path) -> Path:
    """The seed report and six short council notes, in a folder of their own."""
    reports = tmp_path / "reports"
    shutil.copytree(PROJECT_SEEDS, reports)
    for n in range(6):
        (reports / f"note{n}.md").write_text(
            f"---\ntitle: Council note {n}\ndate: 2024-03-0{n + 1}\n---\n"
            f'"We agreed on {n + 3} new bridges," Mayor Ada Brook said on Monday.\n\n'
            f"The harbour in district {n} reopened after the storm.\n",
            encoding="utf-8",
        )
    return reports
