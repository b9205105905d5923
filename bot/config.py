"""Every environment variable the bot reads lives here, and nowhere else.

`Settings.from_env()` turns the environment into one frozen record.  Bad
values raise `ConfigError` with a message that says which variable to fix and
how; a missing token is not an error here because `chat` and `health` run
without one (the runner checks `settings.token` itself).

To add a setting: add a field with a default, parse it in `from_env`, and document it
in `.env.example`."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from retrieval.search import SearchSettings

# Telegram's own Bot API root, in python-telegram-bot's `base_url` form.
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
PROJECT_SEEDS = Path(__file__).resolve().parents[1] / "seeds"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
DEFAULT_HEALTH_MAX_AGE_SECONDS = 60.0
DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 10.0
DEFAULT_RATE_LIMIT_PER_MINUTE = 20
DEFAULT_TELEGRAM_RETRIES = 5
DEFAULT_REPORTS_POLL_SECONDS = 2.0
DEFAULT_FEED_POLL_SECONDS = 900.0
DEFAULT_FEED_KEEP_ENTRIES = 1000
# Telegram's getFile serves files up to 20 MB; uploads are refused above this.
DEFAULT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
# Metrics are for the operator's Prometheus, not the world: loopback unless asked.
DEFAULT_METRICS_LISTEN = "127.0.0.1"
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
# Webhook mode (bot/reliability/webhook.py): where its plain-HTTP server listens, behind
# the reverse proxy that terminates TLS.
DEFAULT_WEBHOOK_LISTEN = "0.0.0.0"
DEFAULT_WEBHOOK_PORT = 8080
# Telegram's rule for setWebhook's secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ValueError):
    """An environment variable holds a value we cannot use; the message says how to fix it."""


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """`$XDG_STATE_HOME/reports-bot`, else `~/.local/state/reports-bot` (the XDG default)."""
    state_home = environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state_home) if state_home else Path.home() / ".local" / "state"
    return base / "reports-bot"


@dataclass(frozen=True, slots=True)
class Settings:
    """The bot's configuration, read once at start-up."""

    token: str | None = None
    reports_dir: Path = PROJECT_SEEDS
    base_url: str = TELEGRAM_BASE_URL
    log_level: str = "INFO"
    data_dir: Path = field(default_factory=lambda: default_data_dir(os.environ))
    # `reports-bot health` fails when the heartbeat file is older than this.
    health_max_age_seconds: float = DEFAULT_HEALTH_MAX_AGE_SECONDS
    # How often the running bot touches the heartbeat file.
    heartbeat_interval_seconds: float = DEFAULT_HEARTBEAT_INTERVAL_SECONDS
    # Who may use the bot (bot/telegram/policy.py); both empty means everyone.
    allowed_user_ids: frozenset[int] = frozenset()
    allowed_chat_ids: frozenset[int] = frozenset()
    # Questions per user per minute (bot/telegram/rates.py); 0 turns the limit off.
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    # Resends of a Telegram call after a 5xx or a network fault (bot/reliability/delivery.py).
    telegram_retries: int = DEFAULT_TELEGRAM_RETRIES
    # Live reports (bot/live/): how often REPORTS_DIR is rescanned, which feeds
    # are polled and how often.
    reports_poll_seconds: float = DEFAULT_REPORTS_POLL_SECONDS
    feeds: tuple[str, ...] = ()
    feed_poll_seconds: float = DEFAULT_FEED_POLL_SECONDS
    # Each feed keeps its newest this many entries; older ones are pruned (bot/live/feeds.py).
    feed_keep_entries: int = DEFAULT_FEED_KEEP_ENTRIES
    # A feed may redirect to loopback, private or link-local addresses only with this on.
    feeds_allow_private: bool = False
    # Symlinks under REPORTS_DIR that lead outside it are read only with this on.
    reports_follow_outside_links: bool = False
    # Who may send reports and use the admin commands (bot/telegram/uploads.py, admin.py).
    admin_user_ids: frozenset[int] = frozenset()
    # The biggest document an admin may send, in bytes.
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES
    # Channels whose posts become reports (bot/live/channels.py).
    channel_ids: frozenset[int] = frozenset()
    # Webhook mode when set (the public HTTPS URL Telegram posts updates to); else polling.
    webhook_url: str | None = None
    webhook_listen: str = DEFAULT_WEBHOOK_LISTEN
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    # Required with webhook_url: Telegram sends it in every request, so others are refused.
    webhook_secret: str | None = field(default=None, repr=False)
    # The /metrics, /healthz and /readyz endpoint (bot/reliability/endpoints.py): off when
    # None; on loopback unless METRICS_LISTEN says otherwise (the image says 0.0.0.0).
    metrics_port: int | None = None
    metrics_listen: str = DEFAULT_METRICS_LISTEN
    # Shared state in PostgreSQL when set (bot/storage/postgres.py); else SQLite in DATA_DIR.
    database_url: str | None = field(default=None, repr=False)
    language_model: Path | None = None  # a py3langid model file; None: py3langid's own
    semantic: bool = True  # the semantic stage (retrieval/semantic_stage.py); off: BM25 alone
    semantic_model_dir: Path | None = None  # a model of one's own; None: the bundled one

    def search_settings(self, backend: str = "fast") -> SearchSettings:
        """The bot's and `chat`/`search`/`eval`'s, alike: they share the index cache keyed by it."""
        from retrieval.analyzer import AnalyzerSettings
        from retrieval.search import SearchSettings

        model = str(self.language_model) if self.language_model is not None else None
        return SearchSettings(backend=backend, analyzer=AnalyzerSettings(language_model=model))

    @property
    def store_path(self) -> Path:
        """Feed state and subscriptions without DATABASE_URL (bot/storage/sqlite.py)."""
        return self.data_dir / "reports-bot.sqlite3"

    @property
    def file_base_url(self) -> str:
        """Where files are downloaded from: Telegram's `/file/bot` next to its `/bot`."""
        root, bot, _ = self.base_url.rpartition("/bot")
        return f"{root}/file/bot" if bot else self.base_url.rstrip("/") + "/file/bot"

    @property
    def heartbeat_path(self) -> Path:
        return self.data_dir / "heartbeat"

    @property
    def index_cache_dir(self) -> Path:
        return self.data_dir / "index-cache"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            token=_text(env, "TELEGRAM_BOT_TOKEN"),
            reports_dir=_path(env, "REPORTS_DIR") or PROJECT_SEEDS,
            base_url=_base_url(env),
            log_level=_log_level(env),
            data_dir=_path(env, "DATA_DIR") or default_data_dir(env),
            health_max_age_seconds=_positive_float(
                env, "HEALTH_MAX_AGE_SECONDS", DEFAULT_HEALTH_MAX_AGE_SECONDS
            ),
            heartbeat_interval_seconds=_positive_float(
                env, "HEARTBEAT_INTERVAL_SECONDS", DEFAULT_HEARTBEAT_INTERVAL_SECONDS
            ),
            allowed_user_ids=_id_list(env, "ALLOWED_USER_IDS", users=True),
            allowed_chat_ids=_id_list(env, "ALLOWED_CHAT_IDS", users=False),
            rate_limit_per_minute=_whole_number(
                env, "RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE, "questions per minute"
            ),
            telegram_retries=_whole_number(
                env, "TELEGRAM_RETRIES", DEFAULT_TELEGRAM_RETRIES, "retries"
            ),
            reports_poll_seconds=_positive_float(
                env, "REPORTS_POLL_SECONDS", DEFAULT_REPORTS_POLL_SECONDS
            ),
            feeds=_feeds(env, "FEEDS"),
            feed_poll_seconds=_positive_float(env, "FEED_POLL_SECONDS", DEFAULT_FEED_POLL_SECONDS),
            feed_keep_entries=_positive_int(
                env, "FEED_KEEP_ENTRIES", DEFAULT_FEED_KEEP_ENTRIES, "entries per feed"
            ),
            feeds_allow_private=_flag(env, "FEEDS_ALLOW_PRIVATE_ADDRESSES"),
            reports_follow_outside_links=_flag(env, "REPORTS_FOLLOW_OUTSIDE_LINKS"),
            admin_user_ids=_id_list(env, "ADMIN_USER_IDS", users=True),
            upload_max_bytes=_positive_int(
                env, "UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES, "bytes"
            ),
            channel_ids=_id_list(env, "CHANNEL_IDS", users=False),
            **_webhook(env),
            metrics_port=_port(env, "METRICS_PORT"),
            metrics_listen=_listen_address(env, "METRICS_LISTEN", DEFAULT_METRICS_LISTEN),
            database_url=_database_url(env),
            language_model=_language_model(env),
            semantic=_flag(env, "SEMANTIC_SEARCH", default=True),
            semantic_model_dir=_path(env, "SEMANTIC_MODEL_DIR"),
        )


def _text(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(value).expanduser() if (value := _text(env, name)) else None


def _base_url(env: Mapping[str, str]) -> str:
    value = _text(env, "TELEGRAM_BASE_URL")
    if value is None:
        return TELEGRAM_BASE_URL
    if not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"TELEGRAM_BASE_URL={value!r} is not an http(s) URL: set it to the Bot API root "
            f"ending in /bot, e.g. http://127.0.0.1:8081/bot, or unset it to use Telegram's"
        )
    return value


def _log_level(env: Mapping[str, str]) -> str:
    value = (_text(env, "LOG_LEVEL") or "INFO").upper()
    if value == "WARN":
        value = "WARNING"
    if value not in LOG_LEVELS:
        choices = ", ".join(LOG_LEVELS)
        raise ConfigError(f"LOG_LEVEL={value!r} is not a log level: use one of {choices}")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    value = _text(env, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ConfigError(
            f"{name}={value!r} must be a positive number of seconds, e.g. {default:g}"
        )
    return number


def _id_list(env: Mapping[str, str], name: str, *, users: bool) -> frozenset[int]:
    """Telegram ids separated by commas and/or spaces; user ids are positive, chat ids
    of groups negative (-100… for supergroups)."""
    value = _text(env, name) or ""
    what = "user id" if users else "chat id"
    example = "123456789,987654321" if users else "-1001234567890,123456789"
    ids: set[int] = set()
    for item in value.replace(",", " ").split():
        try:
            number = int(item)
        except ValueError:
            number = 0
        if number == 0 or (users and number < 0):
            raise ConfigError(
                f"{name} holds {item!r}, which is not a Telegram {what}: list whole numbers "
                f"separated by commas, e.g. {name}={example} (a refused user is told their "
                "user id and chat id), or leave it empty"
            )
        ids.add(number)
    return frozenset(ids)


def _whole_number(env: Mapping[str, str], name: str, default: int, unit: str) -> int:
    value = _text(env, name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise ConfigError(
            f"{name}={value!r} must be a whole number of {unit}, e.g. {default}, or 0 for none"
        )
    return int(value)


def _positive_int(env: Mapping[str, str], name: str, default: int, unit: str) -> int:
    value = _text(env, name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) == 0:
        raise ConfigError(f"{name}={value!r} must be a whole number of {unit}, e.g. {default}")
    return int(value)


def _port(env: Mapping[str, str], name: str, hint: str = "e.g. 9464, or unset (off)") -> int | None:
    value = _text(env, name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigError(f"{name}={value!r} must be a TCP port from 1 to 65535, {hint}")
    return int(value)


def _listen_address(env: Mapping[str, str], name: str, default: str) -> str:
    """An IP address (0.0.0.0 or :: for every interface) or a host name of this machine."""
    value = _text(env, name)
    if value is None:
        return default
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if _HOSTNAME.fullmatch(value) is None:
        raise ConfigError(
            f"{name}={value!r} is not an address to listen on: use an IP address such as "
            f"127.0.0.1 (this machine only) or 0.0.0.0 (every interface), or a host name"
        )
    return value


def _database_url(env: Mapping[str, str]) -> str | None:
    url = _text(env, "DATABASE_URL")
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        # Not echoed: it may hold a password.
        raise ConfigError(
            "DATABASE_URL does not start with postgresql:// or postgres://: set it to a "
            "PostgreSQL URL, e.g. postgresql://bot:PASSWORD@db.internal:5432/reports_bot, "
            "or unset it to keep the state in DATA_DIR (SQLite)"
        )
    return url


def _language_model(env: Mapping[str, str]) -> Path | None:
    """Made absolute: the bot and the commands, run anywhere, must name the same file."""
    path = _path(env, "LANGUAGE_MODEL")
    if path is not None and not path.is_file():
        raise ConfigError(
            f"LANGUAGE_MODEL={str(path)!r} is not a file: set it to a py3langid model file "
            "(model.npz.xz), or unset it to use the one bundled with py3langid 0.4.0"
        )
    return Path(os.path.abspath(path)) if path is not None else None


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = (_text(env, name) or str(default)).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} must be true or false (or 1/0, yes/no, on/off)")


def _feeds(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """RSS/Atom URLs separated by commas, or the path of a file listing them (one or
    more a line, commas allowed, `#` starts a comment)."""
    value = _text(env, name)
    if value is None:
        return ()
    if "://" in value:
        items = value.split(",")
    else:
        path = Path(value).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{name}={value!r} is neither a comma-separated list of feed URLs nor a "
                f"readable file of them ({error}): set it to e.g. "
                f"{name}=https://example.org/rss.xml,https://example.org/atom.xml"
            ) from None
        items = [item for line in lines for item in line.split("#", 1)[0].split(",")]
    urls: list[str] = []
    for item in (item.strip() for item in items):
        if not item:
            continue
        if urlsplit(item).scheme not in ("http", "https") or not urlsplit(item).hostname:
            raise ConfigError(
                f"{name} lists {item!r}, which is not an http(s) URL: give each feed's full "
                "address, e.g. https://example.org/rss.xml"
            )
        urls.append(item)
    return tuple(dict.fromkeys(urls))


class _Webhook(TypedDict, total=False):
    webhook_url: str
    webhook_listen: str
    webhook_port: int
    webhook_secret: str


def _webhook(env: Mapping[str, str]) -> _Webhook:
    """WEBHOOK_URL and what goes with it; nothing when it is unset (long polling)."""
    url = _text(env, "WEBHOOK_URL")
    if url is None:
        return {}
    parts = urlsplit(url)
    # A self-hosted Bot API server (--local) accepts http webhooks; Telegram's own does not.
    schemes = ("https",) if _base_url(env) == TELEGRAM_BASE_URL else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname or parts.fragment:
        raise ConfigError(
            f"WEBHOOK_URL={url!r} is not an https URL: set it to the public address Telegram "
            "posts updates to, e.g. https://bot.example.org/telegram (http only with a "
            "self-hosted Bot API server in TELEGRAM_BASE_URL), or unset it to poll"
        )
    secret = _text(env, "WEBHOOK_SECRET")
    if secret is None or not _WEBHOOK_SECRET.fullmatch(secret):
        what = "is not set" if secret is None else "breaks Telegram's rule"
        raise ConfigError(
            f"WEBHOOK_SECRET {what}: webhook mode (WEBHOOK_URL) needs a secret of 1-256 "
            "characters A-Z a-z 0-9 _ -, e.g. from `openssl rand -hex 32`"
        )
    port = _port(env, "WEBHOOK_PORT", f"e.g. {DEFAULT_WEBHOOK_PORT} (the default)")
    return {
        "webhook_url": url,
        "webhook_listen": _listen_address(env, "WEBHOOK_LISTEN", DEFAULT_WEBHOOK_LISTEN),
        "webhook_port": port if port is not None else DEFAULT_WEBHOOK_PORT,
        "webhook_secret": secret,
    }
