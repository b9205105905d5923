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


# -- webhook mode --------------------------------------------------------------------------

WEBHOOK = {"WEBHOOK_URL": "https://bot.example.org/telegram", "WEBHOOK_SECRET": "s3cr3t_-X"}


def test_without_webhook_url_the_bot_polls() -> None:
    settings = Settings.from_env({"WEBHOOK_SECRET": "unused", "WEBHOOK_PORT": "9000"})
    assert settings.webhook_url is None
    assert settings.webhook_secret is None


def test_webhook_settings_and_their_defaults() -> None:
    settings = Settings.from_env(WEBHOOK)
    assert settings.webhook_url == "https://bot.example.org/telegram"
    assert settings.webhook_secret == "s3cr3t_-X"
    assert (settings.webhook_listen, settings.webhook_port) == ("0.0.0.0", 8080)
    assert "s3cr3t" not in repr(settings)  # a logged Settings does not give the secret away

    custom = Settings.from_env({**WEBHOOK, "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": "8443"})
    assert (custom.webhook_listen, custom.webhook_port) == ("127.0.0.1", 8443)
    longest = Settings.from_env({**WEBHOOK, "WEBHOOK_SECRET": "a" * 256})
    assert longest.webhook_secret == "a" * 256


@pytest.mark.parametrize(
    "secret", [None, "", "has space", "semi;colon", "ü", "a" * 257, "tab\there"]
)
def test_webhook_mode_needs_a_secret_telegram_accepts(secret: str | None) -> None:
    env = {"WEBHOOK_URL": WEBHOOK["WEBHOOK_URL"]}
    if secret is not None:
        env["WEBHOOK_SECRET"] = secret
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    assert message.startswith("WEBHOOK_SECRET")
    assert "1-256 characters A-Z a-z 0-9 _ -" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "url", ["http://bot.example.org/telegram", "bot.example.org/telegram", "https:///x",
            "https://bot.example.org/t#frag", "ftp://bot.example.org/"],
)  # fmt: skip
def test_webhook_url_must_be_https_on_telegrams_bot_api(url: str) -> None:
    with pytest.raises(ConfigError, match=r"WEBHOOK_URL=.* is not an https URL"):
        Settings.from_env({**WEBHOOK, "WEBHOOK_URL": url})


def test_a_self_hosted_bot_api_may_post_to_an_http_webhook() -> None:
    env = {**WEBHOOK, "WEBHOOK_URL": "http://127.0.0.1:8080/hook"}
    settings = Settings.from_env({**env, "TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot"})
    assert settings.webhook_url == "http://127.0.0.1:8080/hook"


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1", "80.5"])
def test_webhook_port_must_be_a_port(port: str) -> None:
    with pytest.raises(ConfigError, match=r"WEBHOOK_PORT=.* must be a TCP port"):
        Settings.from_env({**WEBHOOK, "WEBHOOK_PORT": port})


def test_database_url_selects_postgres_and_stays_out_of_the_repr() -> None:
    assert Settings.from_env({}).database_url is None  # the SQLite file in DATA_DIR
    for url in ("postgresql://bot:pw-9x@db:5432/reports", "postgres://bot@db/reports"):
        settings = Settings.from_env({"DATABASE_URL": f" {url} "})
        assert settings.database_url == url
        assert "pw-9x" not in repr(settings)


@pytest.mark.parametrize(
    "url", ["mysql://bot:pw-9x@db/x", "db:5432", "sqlite:///tmp/x.db", "postgresql:/db/x"]
)
def test_a_database_url_that_is_not_postgres_says_so_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_URL": url})
    message = str(raised.value)
    assert "DATABASE_URL" in message and "postgresql://" in message
    assert "pw-9x" not in message


# -- the language model (retrieval/languages.py) -------------------------------------------


def test_language_model_is_read_and_reaches_the_search_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model.npz.xz"
    model.write_bytes(b"a model")
    settings = Settings.from_env({"LANGUAGE_MODEL": f" {model} "})
    assert settings.language_model == model
    search = settings.search_settings("rank-bm25")
    assert search.backend == "rank-bm25"
    assert search.analyzer.language_model == str(model)

    # Relative to the folder it was started in, made absolute: the bot and the commands
    # must name the same file, since the index cache's key includes it.
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"LANGUAGE_MODEL": "model.npz.xz"}).language_model == model


def test_without_language_model_the_bundled_one_is_used() -> None:
    for env in ({}, {"LANGUAGE_MODEL": "  "}):
        settings = Settings.from_env(env)
        assert settings.language_model is None
        assert settings.search_settings().analyzer.language_model is None
        assert settings.search_settings().backend == "fast"


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_a_language_model_that_is_not_a_file_is_refused(tmp_path: Path, what: str) -> None:
    path = tmp_path / "model.npz.xz"
    if what == "folder":
        path.mkdir()
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"LANGUAGE_MODEL": str(path)})
    message = str(raised.value)
    assert message.startswith(f"LANGUAGE_MODEL={str(path)!r}")
    assert "is not a file" in message
    assert "py3langid model file" in message and "unset it" in message
