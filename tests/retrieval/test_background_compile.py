"""A kernel compiled in the background (retrieval.background_compile): loaded once, in
its own thread, and a failure is one log line and no kernel, for good."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from retrieval import background_compile
from retrieval.background_compile import BackgroundKernel


def test_the_kernel_is_loaded_once_in_its_own_thread() -> None:
    threads: list[str] = []

    def load() -> Callable[[str], int]:
        threads.append(threading.current_thread().name)
        return len

    kernel = BackgroundKernel("test-compile", load, "cannot compile")
    assert kernel.get(wait=True) is len
    assert kernel.get() is len and kernel.get(wait=True) is len
    assert threads == ["test-compile"]


def test_a_failed_compile_is_one_log_line_and_no_kernel_for_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def load() -> Callable[[str], int]:
        calls.append(1)
        raise RuntimeError("no LLVM here")

    kernel: BackgroundKernel[Callable[[str], int]] = BackgroundKernel(
        "test-compile", load, "cannot compile"
    )
    with caplog.at_level(logging.ERROR):
        assert kernel.get(wait=True) is None
        assert kernel.get(wait=True) is None
    assert calls == [1]
    assert [r.getMessage() for r in caplog.records] == ["cannot compile"]


def test_a_held_kernel_loads_only_once_released() -> None:
    loaded = threading.Event()

    def load() -> Callable[[str], int]:
        loaded.set()
        return len

    background_compile.hold()
    try:
        kernel = BackgroundKernel("test-compile", load, "cannot compile")
        assert kernel.get() is None
        assert not loaded.wait(0.2)  # held: the thread has not loaded it
    finally:
        background_compile.release()
    assert loaded.wait(10)
    assert kernel.get(wait=True) is len


def test_a_caller_that_waits_loads_the_kernel_while_held() -> None:
    background_compile.hold()
    try:
        kernel = BackgroundKernel("test-compile", lambda: len, "cannot compile")
        assert kernel.get() is None  # started, and held
        assert kernel.get(wait=True) is len
    finally:
        background_compile.release()
