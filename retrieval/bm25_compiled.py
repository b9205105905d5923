"""FastBM25's compiled kernel, compiled in the background: `compiled_top_k`.

Its own module so that `retrieval.bm25` never imports numba (half a second) and
`retrieval.bm25_kernel` is imported only here, on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from retrieval.scorer import Floats, Ints

log = logging.getLogger(__name__)

_kernel: Callable[..., tuple[Ints, Floats]] | None = None
_kernel_done = threading.Event()
_kernel_start = threading.Lock()
_kernel_started = False


def compiled_top_k(*, wait: bool = False) -> Callable[..., tuple[Ints, Floats]] | None:
    """The compiled kernel's top_k, or None while numba is still compiling it.

    The first call starts the compile in a background thread: loading it from numba's
    on-disk cache takes about a second, compiling it afresh (a new machine, a new
    container) about a minute on two cores, and no question should wait for that:
    `top_k` answers exactly, only slower, until the kernel is ready.  Imported on first
    use, since nothing else (`reports-bot --help`, the tests of other modules) should
    pay for numba.  `wait` blocks until the compile is over (benchmarks, tests); the
    result is None for good when it failed (logged once).
    """
    global _kernel_started
    if _kernel is None and not _kernel_done.is_set():
        with _kernel_start:
            if not _kernel_started:
                _kernel_started = True
                threading.Thread(target=_compile, name="bm25-kernel-compile", daemon=True).start()
        if wait:
            _kernel_done.wait()
    return _kernel


def _compile() -> None:
    global _kernel
    try:
        from retrieval.bm25_kernel import top_k, warm_up

        warm_up()
        _kernel = top_k
    except Exception:  # the numpy path stays exact; only speed is lost
        log.exception("cannot compile the BM25 kernel (numba); searching without it, slower")
    finally:
        _kernel_done.set()
