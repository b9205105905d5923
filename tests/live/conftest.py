"""Fixtures shared by the feed tests: a fresh state file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "reports-bot.sqlite3")
    yield opened
    opened.close()
