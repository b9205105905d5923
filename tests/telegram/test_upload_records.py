"""What the upload handler records in the store once an upload is kept: who sent it, from
which chat, its size and sha256, with the records of the uploads it replaced dropped; a
store that fails costs one warning line and nothing else (the file is what serves)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.live.uploads import Stored
from bot.storage.sqlite import SqliteStore
from bot.telegram.uploads import _record
from tests.conftest import make_report

SHA = "5" * 64


def stored(name: str, dropped: tuple[str, ...] = ()) -> Stored:
    report = make_report(report_id=f"uploads/{Path(name).stem}")
    return Stored(name, (report,), 1, None, bool(dropped), 321, SHA, (), dropped)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore.open(tmp_path / "reports-bot.sqlite3")


async def test_a_kept_upload_is_recorded_and_the_ones_it_replaced_forgotten(
    store: SqliteStore,
) -> None:
    store.record_upload("note.txt", 7, 7, 10, "1" * 64)
    store.record_upload("other.txt", 7, 7, 10, "2" * 64)
    await _record(store, stored("note.md", dropped=("note.txt",)), 8_100_001, -100)
    [newest, other] = store.uploads()
    assert (newest.name, newest.user_id, newest.chat_id) == ("note.md", 8_100_001, -100)
    assert (newest.size, newest.sha256) == (321, SHA)
    assert other.name == "other.txt"
    store.close()


async def test_a_store_that_fails_is_one_warning_and_the_upload_still_counts(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.close()  # every call now fails with a StoreError
    with caplog.at_level("INFO", logger="bot.telegram.uploads"):
        await _record(store, stored("glacier.txt"), 8_100_001, 8_100_001)  # does not raise
    lines = [r for r in caplog.records if r.name == "bot.telegram.uploads"]
    assert [r.levelname for r in lines] == ["WARNING"]
    message = lines[0].getMessage()
    assert "glacier.txt" in message and "not recorded" in message and "\n" not in message


async def test_without_a_store_nothing_is_recorded(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="bot.telegram.uploads"):
        await _record(None, stored("glacier.txt"), 1, 1)
    assert [r for r in caplog.records if r.name == "bot.telegram.uploads"] == []
