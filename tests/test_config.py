"""Settings come from the environment only; bad values say how to fix them. And the heartbeat."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.config import PROJECT_SEEDS, TELEGRAM_BASE_URL, ConfigError, Settings
from bot.reliability import health


def test_defaults_with_an_empty_environment() -> None:
    settings = Settings.from_env({"HOME": "/home/ann"})

    assert settings.token is None
    assert settings.reports_dir == PROJECT_SEEDS
    assert (PROJECT_SEEDS / "000_cd10308accc684f1.txt").is_file()
    assert settings.base_url == TELEGRAM_BASE_URL == "https://api.telegram.org/bot"
    assert settings.log_level == "INFO"
    assert settings.health_max_age_seconds == 60.0
    assert settings.heartbeat_interval_seconds == 10.0


def test_default_data_dir_follows_xdg_state_home(tmp_path: Path) -> None:
    settings = Settings.from_env({"XDG_STATE_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path / "reports-bot"
    assert settings.heartbeat_path == tmp_path / "reports-bot" / "heartbeat"


def test_default_data_dir_without_xdg_is_under_home() -> None:
    assert Settings.from_env({}).data_dir == Path.home() / ".local" / "state" / "reports-bot"


def test_every_variable_is_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": " 123:abc \n",
            "REPORTS_DIR": str(tmp_path / "reports"),
            "TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
            "LOG_LEVEL": "debug",
            "DATA_DIR": str(tmp_path / "state"),
            "HEALTH_MAX_AGE_SECONDS": "90",
            "HEARTBEAT_INTERVAL_SECONDS": "2.5",
        }
    )

    assert settings.token == "123:abc"
    assert settings.reports_dir == tmp_path / "reports"
    assert settings.base_url == "http://127.0.0.1:8081/bot"
    assert settings.log_level == "DEBUG"
    assert settings.data_dir == tmp_path / "state"
    assert settings.index_cache_dir == tmp_path / "state" / "index-cache"
    assert settings.health_max_age_seconds == 90.0
    assert settings.heartbeat_interval_seconds == 2.5


def test_blank_values_mean_unset() -> None:
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": "  ", "REPORTS_DIR": "", "LOG_LEVEL": ""})
    assert settings.token is None
    assert settings.reports_dir == PROJECT_SEEDS
    assert settings.log_level == "INFO"


def test_warn_is_an_alias_for_warning() -> None:
    assert Settings.from_env({"LOG_LEVEL": "warn"}).log_level == "WARNING"


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("LOG_LEVEL", "loud", "use one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
        ("TELEGRAM_BASE_URL", "127.0.0.1:8081/bot", "http://127.0.0.1:8081/bot"),
        ("HEALTH_MAX_AGE_SECONDS", "soon", "positive number of seconds"),
        ("HEALTH_MAX_AGE_SECONDS", "-5", "positive number of seconds"),
        ("HEARTBEAT_INTERVAL_SECONDS", "0", "positive number of seconds"),
        ("HEARTBEAT_INTERVAL_SECONDS", "inf", "positive number of seconds"),
        ("HEARTBEAT_INTERVAL_SECONDS", "nan", "positive number of seconds"),
    ],
)
def test_bad_values_name_the_variable_and_the_fix(name: str, value: str, hint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value)
    assert hint in str(raised.value)


# -- the heartbeat that `reports-bot health` reads ----------------------------------------


def test_fresh_heartbeat_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "state" / "heartbeat"
    health.write_heartbeat(path)

    healthy, why = health.check_heartbeat(path, max_age=60)

    assert healthy, why
    assert "pid=" in path.read_text()
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, no leftovers


def test_stale_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    health.write_heartbeat(path)

    healthy, why = health.check_heartbeat(path, max_age=60, now=time.time() + 120)

    assert not healthy
    assert "limit 60s" in why and str(path) in why


def test_missing_heartbeat_is_unhealthy_and_says_why(tmp_path: Path) -> None:
    healthy, why = health.check_heartbeat(tmp_path / "heartbeat", max_age=60)
    assert not healthy
    assert "not running" in why and "DATA_DIR" in why


def test_removed_heartbeat_reads_as_down(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    health.write_heartbeat(path)
    health.remove_heartbeat(path)
    health.remove_heartbeat(path)  # twice is fine: shutdown must not fail
    assert not health.check_heartbeat(path, max_age=60)[0]


def test_health_main_reads_data_dir_and_max_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEALTH_MAX_AGE_SECONDS", "30")
    assert health.main() == 1
    assert "no heartbeat file" in capsys.readouterr().err

    health.write_heartbeat(tmp_path / "heartbeat")
    assert health.main() == 0
    assert capsys.readouterr().out.startswith("healthy")

    monkeypatch.setenv("HEALTH_MAX_AGE_SECONDS", "never")
    assert health.main() == 2
    assert "HEALTH_MAX_AGE_SECONDS" in capsys.readouterr().err


def test_admins_uploads_and_channels() -> None:
    settings = Settings.from_env(
        {
            "HOME": "/home/ann",
            "ADMIN_USER_IDS": "11, 22",
            "UPLOAD_MAX_BYTES": "2000",
            "CHANNEL_IDS": "-1001234567890",
        }
    )
    assert settings.admin_user_ids == frozenset({11, 22})
    assert settings.upload_max_bytes == 2000
    assert settings.channel_ids == frozenset({-1001234567890})
    defaults = Settings.from_env({"HOME": "/home/ann"})
    assert defaults.admin_user_ids == frozenset() == defaults.channel_ids
    assert defaults.upload_max_bytes == 10 * 1024 * 1024 < 20_000_000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_USER_IDS", "-5"),
        ("UPLOAD_MAX_BYTES", "0"),
        ("UPLOAD_MAX_BYTES", "ten"),
        ("CHANNEL_IDS", "x"),
    ],
)
def test_bad_admin_and_channel_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"HOME": "/home/ann", name: value})


@pytest.mark.parametrize(
    ("base_url", "file_base_url"),
    [
        ("https://api.telegram.org/bot", "https://api.telegram.org/file/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        ("http://host:1/api/", "http://host:1/api/file/bot"),
    ],
)
def test_files_are_downloaded_next_to_the_bot_api(base_url: str, file_base_url: str) -> None:
    assert Settings(base_url=base_url).file_base_url == file_base_url
