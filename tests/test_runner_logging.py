"""The log setup of `reports-bot run` (bot/runner.py): a job the stopping application
cancels is not logged as an error with a traceback (the container test fails on one)."""

from __future__ import annotations

import asyncio
import logging
import sys

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
    for name in ("httpx", "httpcore", "apscheduler"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    executor = logging.getLogger("apscheduler.executors.default")
    try:
        configure_logging("INFO")
        assert drop_cancelled_jobs in executor.filters
        assert not executor.filter(record_of(asyncio.CancelledError()))
    finally:
        executor.removeFilter(drop_cancelled_jobs)
