"""Settings for live reports: REPORTS_POLL_SECONDS, FEEDS, FEED_POLL_SECONDS."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_defaults() -> None:
    settings = Settings.from_env({"DATA_DIR": "/srv/state"})
    assert settings.reports_poll_seconds == 2.0
    assert settings.feeds == ()
    assert settings.feed_poll_seconds == 900.0
    assert settings.store_path == Path("/srv/state/reports-bot.sqlite3")


def test_poll_intervals_are_read() -> None:
    settings = Settings.from_env({"REPORTS_POLL_SECONDS": "0.5", "FEED_POLL_SECONDS": "60"})
    assert (settings.reports_poll_seconds, settings.feed_poll_seconds) == (0.5, 60.0)


@pytest.mark.parametrize("name", ["REPORTS_POLL_SECONDS", "FEED_POLL_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-2", "soon", "inf", "nan"])
def test_bad_poll_intervals_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{name}=.*positive number of seconds"):
        Settings.from_env({name: value})


def test_feeds_as_a_comma_separated_list() -> None:
    settings = Settings.from_env(
        {"FEEDS": " https://a.example/rss.xml , http://b.example/atom ,https://a.example/rss.xml,"}
    )
    assert settings.feeds == ("https://a.example/rss.xml", "http://b.example/atom")


def test_feeds_from_a_file(tmp_path: Path) -> None:
    listing = tmp_path / "feeds.txt"
    listing.write_text(
        "# our feeds\n"
        "https://a.example/rss.xml\n"
        "\n"
        "https://b.example/atom.xml, https://c.example/feed  # the wire\n",
        encoding="utf-8",
    )
    settings = Settings.from_env({"FEEDS": str(listing)})
    assert settings.feeds == (
        "https://a.example/rss.xml",
        "https://b.example/atom.xml",
        "https://c.example/feed",
    )


@pytest.mark.parametrize(
    "value", ["ftp://a.example/rss", "https://", "https://a.example/x,notaurl"]
)
def test_a_feed_that_is_not_an_http_url_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"FEEDS lists .* not an http\(s\) URL"):
        Settings.from_env({"FEEDS": value})


def test_a_feeds_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"FEEDS=.*neither a comma-separated list"):
        Settings.from_env({"FEEDS": str(tmp_path / "missing.txt")})
    listing = tmp_path / "feeds.txt"
    listing.write_text("gopher://old.example/\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="gopher"):
        Settings.from_env({"FEEDS": str(listing)})


def test_hardening_defaults_are_safe() -> None:
    settings = Settings.from_env({})
    assert settings.feed_keep_entries == 1000
    assert settings.feeds_allow_private is False
    assert settings.reports_follow_outside_links is False


def test_hardening_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "FEED_KEEP_ENTRIES": "50",
            "FEEDS_ALLOW_PRIVATE_ADDRESSES": "yes",
            "REPORTS_FOLLOW_OUTSIDE_LINKS": "TRUE",
        }
    )
    assert settings.feed_keep_entries == 50
    assert settings.feeds_allow_private is True
    assert settings.reports_follow_outside_links is True


@pytest.mark.parametrize("value", ["0", "-1", "many", "1e3"])
def test_a_bad_feed_archive_size_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"FEED_KEEP_ENTRIES=.*whole number of entries"):
        Settings.from_env({"FEED_KEEP_ENTRIES": value})


@pytest.mark.parametrize("name", ["FEEDS_ALLOW_PRIVATE_ADDRESSES", "REPORTS_FOLLOW_OUTSIDE_LINKS"])
def test_a_flag_that_is_neither_true_nor_false_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"{name}=.*true or false"):
        Settings.from_env({name: "maybe"})
