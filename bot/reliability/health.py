"""Health: the running bot's job queue rewrites a heartbeat file with its own verdict, and
`reports-bot health` reads it.

Only a live event loop runs the job, so a fresh file means the loop is alive; what the
file says is whether the bot is doing its job (bot/reliability/liveness.py): fetching
updates, answering them, and journalling them.  When it is not, the job still rewrites
the file, with the reason, so `health` fails at once and prints why, instead of only
noticing a silence `HEALTH_MAX_AGE_SECONDS` later.  A clean shutdown removes the file,
so a stopped bot is reported as down at once.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.reliability import endpoints
from bot.state import Context

log = logging.getLogger(__name__)

_UNHEALTHY = "unhealthy: "


def write_heartbeat(path: Path, problem: str | None = None) -> None:
    """Write the current time to `path` atomically (a reader never sees half a file),
    with `problem` when the bot is alive but not doing its job."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    line = f"{time.time():.3f} pid={os.getpid()}"
    if problem:
        line += f" {_UNHEALTHY}{' '.join(problem.split())}"
    temporary.write_text(line + "\n", encoding="utf-8")
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


def reported_problem(path: Path) -> str | None:
    """What the bot wrote was wrong in its last heartbeat, or None."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    _, found, problem = text.partition(_UNHEALTHY)
    if not found:
        return None
    return problem.strip() or None


def check_heartbeat(path: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    age = heartbeat_age(path, now)
    if age is None:
        return False, (
            f"unhealthy: no heartbeat file at {path} — the bot is not running "
            f"(or it runs with a different DATA_DIR)"
        )
    problem = reported_problem(path)
    if age > max_age:
        last = f"; it last reported: {problem}" if problem else ""
        return False, (
            f"unhealthy: last heartbeat {age:.0f}s ago at {path} (limit {max_age:g}s) — "
            f"the bot is stuck or stopped{last}"
        )
    if problem:
        return False, f"{_UNHEALTHY}{problem}"
    return True, f"healthy: last heartbeat {age:.1f}s ago"


async def heartbeat_job(context: Context) -> None:
    """Job-queue callback: the verdict of the bot's liveness, in the settings' heartbeat."""
    state = context.bot_data
    liveness = state.liveness
    if liveness.journal is not None:
        liveness.journal.probe()
    # One limit for a silent heartbeat, an overdue fetch and an overdue answer: how long
    # the operator lets the bot be silent before calling it unhealthy.
    problems = liveness.problems(state.settings.health_max_age_seconds)
    try:
        write_heartbeat(state.settings.heartbeat_path, "; ".join(problems) or None)
    except OSError as error:  # a heartbeat not written is reported by its age anyway
        log.warning("could not write the heartbeat: %s", error)


def main() -> int:
    """`reports-bot health`: exit 0 when the heartbeat is fresh and reports no problem
    (and, with METRICS_PORT, /readyz answers 200), else 1 (2 on bad config)."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"reports-bot health: {error}", file=sys.stderr)
        return 2
    healthy, why = check_heartbeat(settings.heartbeat_path, settings.health_max_age_seconds)
    if healthy and settings.metrics_port is not None:
        # The heartbeat says the loop ran lately; /readyz says it answers now, the index is
        # loaded and the state file reads.  A frozen bot fails on its heartbeat first, so
        # this is never waited on for long (and it has a short timeout of its own).
        ready, line = endpoints.check_ready(settings.metrics_listen, settings.metrics_port)
        healthy, why = (True, f"{why}; {line}") if ready else (False, line)
    print(why, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1
