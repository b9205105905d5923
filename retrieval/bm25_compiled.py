"""FastBM25's compiled kernel, compiled in the background: `compiled_top_k`.

Its own module so that `retrieval.bm25` never imports numba (half a second) and
`retrieval.bm25_kernel` is imported only here, on first use.
"""

from __future__ import annotations

from collections.abc import Callable

from retrieval.background_compile import BackgroundKernel
from retrieval.scorer import Floats, Ints

TopK = Callable[..., tuple[Ints, Floats]]


def _load() -> TopK:
    from retrieval.bm25_kernel import top_k, warm_up

    warm_up()
    return top_k


_TOP_K: BackgroundKernel[TopK] = BackgroundKernel(
    "bm25-kernel-compile",
    _load,
    "cannot compile the BM25 kernel (numba); searching without it, slower",
)


def compiled_top_k(*, wait: bool = False) -> TopK | None:
    """The compiled kernel's top_k, or None while numba is still compiling it.

    The first call starts the compile in a background thread (retrieval.background_compile):
    `top_k` answers exactly, only slower, until the kernel is ready.  Imported on first
    use, since nothing else (`reports-bot --help`, the tests of other modules) should
    pay for numba.  `wait` blocks until the compile is over (benchmarks, tests); the
    result is None for good when it failed (logged once).
    """
    return _TOP_K.get(wait=wait)
