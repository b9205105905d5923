"""A numba kernel compiled in a background thread on first use, so no question waits.

Loading a compiled kernel from numba's on-disk cache takes about a second, compiling it
afresh (a new machine, a new container) up to a minute on two cores; meanwhile the
caller answers with its numpy path, exactly or as closely, only slower.  `BackgroundKernel` keeps
the one thread, the flag and the outcome that `retrieval.bm25_compiled` and
`retrieval.vector_quant` would otherwise each keep.

`hold()` and `release()` put every kernel's load off until a moment the caller picks:
importing numba and loading a kernel hold the GIL for about a third of a second, and a
bot that has just started answers its first questions sooner on the numpy paths than
with numba loading beside them (`bot/runner.py` holds, and releases once it polls).  A
caller that waits for a kernel (`get(wait=True)`) loads it at once, held or not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., object])

# Whether kernels wait for `release()` before they load; guarded by `_GATE`.
_GATE = threading.Condition()
_held = False


def hold() -> None:
    """Kernels that start loading from now on wait for `release()` (or for a caller that
    waits for them) before they import numba."""
    global _held
    with _GATE:
        _held = True


def release() -> None:
    """Kernels load, those that were waiting at once."""
    global _held
    with _GATE:
        _held = False
        _GATE.notify_all()


class BackgroundKernel(Generic[F]):
    """`load()` (which imports the kernel's module and warms it up) run once, in a
    thread named `name`; `failure` is the one line logged if it raises."""

    def __init__(self, name: str, load: Callable[[], F], failure: str) -> None:
        self._name = name
        self._load = load
        self._failure = failure
        self._kernel: F | None = None
        self._done = threading.Event()
        self._start = threading.Lock()
        self._started = False
        self._wanted = False  # someone waits for it: load even while held

    def get(self, *, wait: bool = False) -> F | None:
        """The kernel, or None while it compiles (the first call starts that; `wait`
        blocks until it is over, for benchmarks, tests and work that needs the speed);
        None for good when the compile failed."""
        if self._kernel is None and not self._done.is_set():
            with self._start:
                if not self._started:
                    self._started = True
                    threading.Thread(target=self._compile, name=self._name, daemon=True).start()
            if wait:
                with _GATE:
                    self._wanted = True
                    _GATE.notify_all()
                self._done.wait()
        return self._kernel

    def _compile(self) -> None:
        with _GATE:
            _GATE.wait_for(lambda: not _held or self._wanted)
        try:
            self._kernel = self._load()
        except Exception:  # the numpy path gives the answers, only slower
            log.exception(self._failure)
        finally:
            self._done.set()
