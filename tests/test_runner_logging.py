"""The log setup of `reports-bot run` (bot/runner.py): a job the stopping application
cancels is not logged as an error with a traceback (the container test fails on one);
numba's compile passes stay out of a DEBUG log; and `leave` ends the process with its
log flushed, without waiting on threads still running."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.runner import configure_logging, drop_cancelled_jobs


def record_of(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord(
        "apscheduler.executors.default",
        logging.ERROR,
        __file__,
        1,
        "Error running job %s",
        ("abc",),
        info,
    )


def test_a_cancelled_job_is_dropped_and_real_errors_are_kept() -> None:
    assert not drop_cancelled_jobs(record_of(asyncio.CancelledError()))
    assert drop_cancelled_jobs(record_of(ValueError("a real failure")))
    plain = logging.LogRecord("x", logging.ERROR, __file__, 1, "no exception", (), None)
    assert drop_cancelled_jobs(plain)


def test_the_job_queue_s_executor_logs_through_the_filter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The root handlers and the noisy loggers' levels are the test session's: left alone.
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)
    for name in ("httpx", "httpcore", "apscheduler", "numba"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    executor = logging.getLogger("apscheduler.executors.default")
    try:
        configure_logging("INFO")
        assert drop_cancelled_jobs in executor.filters
        assert not executor.filter(record_of(asyncio.CancelledError()))
    finally:
        executor.removeFilter(drop_cancelled_jobs)


def test_numba_s_compile_passes_stay_out_of_a_debug_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # What basicConfig(level="DEBUG") would do to the root, undone after the test.
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)
    monkeypatch.setattr(logging.getLogger(), "level", logging.DEBUG)
    for name in ("httpx", "httpcore", "apscheduler", "numba"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    executor = logging.getLogger("apscheduler.executors.default")
    try:
        configure_logging("DEBUG")
        assert not logging.getLogger("numba.core.ssa").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("numba.core.ssa").isEnabledFor(logging.WARNING)
    finally:
        executor.removeFilter(drop_cancelled_jobs)


def test_leave_flushes_the_log_and_does_not_wait_for_running_threads(tmp_path: Path) -> None:
    # A thread that never ends, not a daemon: the interpreter's own exit would wait on it
    # forever (as it would tear native code down under a daemon one).
    script = textwrap.dedent(
        f"""
        import logging, sys, threading
        from bot.runner import leave
        logging.basicConfig(filename={str(tmp_path / "log")!r}, level=logging.INFO)
        threading.Thread(target=threading.Event().wait).start()
        logging.getLogger("bot.runner").info("bot stopped cleanly")
        sys.stdout.write("no newline yet")
        leave(3)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "no newline yet"
    assert "bot stopped cleanly" in (tmp_path / "log").read_text(encoding="utf-8")
