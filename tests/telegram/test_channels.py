"""Channel posts as reports, the pure parts: t.me links, report ids, the report made
from a post, and what the state file keeps of them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.live.channels import (
    internal_id,
    normalize_link,
    parse_post_id,
    post_id,
    post_link,
    post_report,
)
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_schema import SCHEMA_VERSION

DAY = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


def test_links_of_public_and_private_channels() -> None:
    assert post_link(-1001234567890, "newsroom", 42) == "https://t.me/newsroom/42"
    assert internal_id(-1001234567890) == 1234567890
    assert post_link(-1001234567890, None, 42) == "https://t.me/c/1234567890/42"
    assert internal_id(-4567) is None and post_link(-4567, None, 1) is None  # not a channel id


@pytest.mark.parametrize(
    ("given", "link"),
    [
        ("https://t.me/newsroom/42", "https://t.me/newsroom/42"),
        ("t.me/newsroom/42/", "https://t.me/newsroom/42"),
        ("HTTP://T.ME/newsroom/42?single", "https://t.me/newsroom/42"),
        ("https://telegram.me/c/1234567890/7", "https://t.me/c/1234567890/7"),
        ("https://t.me/c/0001/07", "https://t.me/c/1/7"),
        ("https://t.me/newsroom", None),
        ("https://evil.example/t.me/newsroom/1", None),
        ("report.pdf", None),
    ],
)
def test_post_links_are_recognised_in_any_spelling(given: str, link: str | None) -> None:
    assert normalize_link(given) == link


def test_report_ids_never_look_like_a_files_and_round_trip() -> None:
    made = post_id(-1001234567890, 42)
    assert "//" in made and parse_post_id(made) == (-1001234567890, 42)
    assert parse_post_id("uploads/report") is None
    assert parse_post_id("telegram-channel://x/y") is None


def test_a_post_becomes_a_report() -> None:
    made = post_report(
        -1001, "  Newsroom   Daily ", "newsroom", 9, DAY, "Dam Opens\nIt holds 3 bn m³.\n\nMore."
    )
    assert made is not None
    assert made.id == post_id(-1001, 9) and made.path is None
    assert made.title == "Dam Opens" and made.paragraphs == ("It holds 3 bn m³.", "More.")
    assert made.source == "Newsroom Daily" and made.published == DAY
    assert made.url == "https://t.me/newsroom/9"


def test_a_one_paragraph_post_is_titled_by_its_first_sentence() -> None:
    made = post_report(-1001, None, None, 3, DAY.replace(tzinfo=None), "Owls return. 41 of them.")
    assert made is not None and made.title == "Owls return"
    assert made.paragraphs == ("Owls return. 41 of them.",) and made.source is None
    assert made.published.tzinfo is not None


@pytest.mark.parametrize("text", ["", "   \n\n ", "\x00\x01"])
def test_a_post_without_words_is_no_report(text: str) -> None:
    assert post_report(-1001, "C", None, 1, DAY, text) is None


def test_posts_are_kept_replaced_and_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = post_report(-1001, "C", None, 1, DAY, "First post\nAbout 3 cranes.")
    edited = post_report(-1001, "C", None, 1, DAY, "First post\nAbout 4 cranes.")
    other = post_report(-1002, "D", None, 1, DAY, "Other channel post.")
    assert first and edited and other
    with SqliteStore.open(path) as store:
        store.save_channel_post(-1001, 1, first)
        store.save_channel_post(-1001, 1, edited)
        store.save_channel_post(-1002, 1, other)
    with SqliteStore.open(path) as store:
        assert store.channel_posts({-1001}) == [edited]
        assert store.channel_posts({-1001, -1002}) == [other, edited]  # by chat id
        assert store.forget_channel_post(-1001, 1) is True
        assert store.forget_channel_post(-1001, 1) is False
        assert store.channel_posts({-1001}) == []


def test_a_version_2_file_gets_the_channel_posts_table_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with SqliteStore.open(path) as store:
        store.subscribe(5, "dams", 5)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE channel_posts")
        db.execute("PRAGMA user_version=2")
    with SqliteStore.open(path) as store:
        assert [s.topic for s in store.subscriptions(5)] == ["dams"]
        made = post_report(-1001, "C", None, 1, DAY, "A post.")
        assert made is not None
        store.save_channel_post(-1001, 1, made)
        assert store.channel_posts({-1001}) == [made]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6


def test_a_damaged_post_row_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    good = post_report(-1001, "C", None, 2, DAY, "A good post.")
    assert good is not None
    with SqliteStore.open(path) as store:
        store.save_channel_post(-1001, 2, good)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO channel_posts VALUES (-1001, 1, '{broken', 0)")
    with SqliteStore.open(path) as store:
        assert store.channel_posts({-1001}) == [good]
