"""A question's nearest texts: by sign bits first, then exactly.

A pass over the int8 rows of every window and sentence reads 1.3 GB a question at a
million passages.  Two unit vectors whose components have the same signs point the same
way, so the texts whose sign bits (`vector_quant.sign_bits`, 48 bytes at 384 dimensions)
differ least from the question's are the likely nearest: `nearest_by_signs` picks a few
thousand of them in one pass over an eighth of those bytes, and the semantic index scores
only those exactly, from their int8 rows (`SemanticIndex.nearest_windows`).

The pass is a numba kernel (`retrieval.vector_kernel.nearest_signs`), compiled in a
background thread on first use (`retrieval.background_compile`); numpy gives the same
rows meanwhile, about four times slower.  Past `_SPLIT_ROWS` rows the kernel runs on one
slice per core, in threads (it lets go of the GIL): the rows a slice keeps hold the
nearest of the whole, so picking among them again gives exactly what one pass would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from retrieval.background_compile import BackgroundKernel
from retrieval.vector_quant import Words

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]
Kernel = Callable[[Words, Bools, Words, int, Ints], int]


def _load() -> Kernel:
    from retrieval.vector_kernel import nearest_signs, warm_up

    warm_up()
    return nearest_signs


_NEAREST: BackgroundKernel[Kernel] = BackgroundKernel(
    "sign-kernel-compile",
    _load,
    "cannot compile the sign-bit kernel (numba); using numpy, slower",
)


def compiled_nearest(*, wait: bool = False) -> Kernel | None:
    """The compiled pass, or None while numba compiles it (the first call starts that)."""
    return _NEAREST.get(wait=wait)


def nearest_by_signs(
    signs: Words, eligible: Bools, question: Words, count: int, *, kernel: Kernel | None = None
) -> Ints:
    """The `count` eligible rows of `signs` whose bits differ least from `question`'s
    (ties: the lower rows), in row order; all of them when fewer are eligible."""
    if count <= 0 or len(signs) == 0:
        return np.zeros(0, dtype=np.int64)
    question = np.ascontiguousarray(question, dtype=np.uint64)
    run = kernel or compiled_nearest()
    if run is None:
        return numpy_nearest(signs, eligible, question, count)
    if len(signs) < _SPLIT_ROWS or _WORKERS == 1:
        return _run(run, signs, eligible, question, count)
    bounds = [len(signs) * k // _WORKERS for k in range(_WORKERS + 1)]

    def part(low_high: tuple[int, int]) -> Ints:
        low, high = low_high
        return low + _run(run, signs[low:high], eligible[low:high], question, count)

    kept = np.concatenate(list(_pool().map(part, pairwise(bounds))))
    apart = np.bitwise_count(signs[kept] ^ question).sum(axis=1, dtype=np.int32)
    best = np.lexsort((kept, apart))[:count]  # by distance, then row
    return np.sort(kept[best])


def _run(run: Kernel, signs: Words, eligible: Bools, question: Words, count: int) -> Ints:
    out = np.empty(min(count, len(signs)), dtype=np.int64)
    return out[: run(signs, eligible, question, count, out)]


def numpy_nearest(signs: Words, eligible: Bools, question: Words, count: int) -> Ints:
    """The kernel's rows, in numpy (a distance array and a histogram, no sort)."""
    beyond = signs.shape[1] * 64 + 1
    distance = np.bitwise_count(signs ^ question).sum(axis=1, dtype=np.int32)
    distance[~eligible] = beyond
    below = np.cumsum(np.bincount(distance, minlength=beyond + 1))
    threshold = int(np.searchsorted(below, count))  # the first distance reaching count
    if threshold >= beyond:
        return np.flatnonzero(distance < beyond).astype(np.int64)
    closer = np.flatnonzero(distance < threshold)
    at = np.flatnonzero(distance == threshold)[: count - len(closer)]
    return np.sort(np.concatenate([closer, at])).astype(np.int64)


# Rows past which the pass is shared between the cores (about 5 ms on one).
_SPLIT_ROWS = 400_000
_WORKERS = max(1, min(os.cpu_count() or 1, 4))
_pool_lock = threading.Lock()
_pool_made: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool_made:
            _pool_made.append(ThreadPoolExecutor(_WORKERS, thread_name_prefix="nearest-signs"))
        return _pool_made[0]
