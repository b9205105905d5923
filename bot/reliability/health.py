"""Liveness: the running bot's job queue touches a heartbeat file; `health` checks its age.

Only a live event loop runs the job, so a fresh file means the bot is alive
and polling, not merely that its process exists.  A clean shutdown removes
the file, so a stopped bot is reported as down at once.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.state import Context


def write_heartbeat(path: Path) -> None:
    """Write the current time to `path` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{time.time():.3f} pid={os.getpid()}\n", encoding="utf-8")
    os.replace(temporary, path)


def remove_heartbeat(path: Path) -> None:
    path.unlink(missing_ok=True)


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the heartbeat was written, or None when there is none."""
    try:
        modified = path.stat().st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() if now is None else now) - modified)


def check_heartbeat(path: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    age = heartbeat_age(path, now)
    if age is None:
        return False, (
            f"unhealthy: no heartbeat file at {path} — the bot is not running "
            f"(or it runs with a different DATA_DIR)"
        )
    if age > max_age:
        return False, (
            f"unhealthy: last heartbeat {age:.0f}s ago at {path} (limit {max_age:g}s) — "
            f"the bot is stuck or stopped"
        )
    return True, f"healthy: last heartbeat {age:.1f}s ago"


async def heartbeat_job(context: Context) -> None:
    """Job-queue callback: the heartbeat path comes from the settings in the bot's state."""
    write_heartbeat(context.bot_data.settings.heartbeat_path)


def main() -> int:
    """`reports-bot health`: exit 0 when the heartbeat is fresh, else 1 (2 on bad config)."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"reports-bot health: {error}", file=sys.stderr)
        return 2
    healthy, why = check_heartbeat(settings.heartbeat_path, settings.health_max_age_seconds)
    print(why, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1
