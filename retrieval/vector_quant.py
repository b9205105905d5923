"""Vectors as int8 rows with a float32 scale each, and the question's cosine with them.

A unit vector v is kept as q = round(v * 127 / max|v|) and scale = max|v| / 127: a
quarter of float32's bytes, and each cosine is off by at most scale / 2 * |question|_1
(about 0.02 for MiniLM's 384 dimensions; a few thousandths at most in practice, as the
rounding errors of the components mostly cancel).

A `Snapshot` is the store's chunks at one moment: its row numbers are what an index
holds, and its `cosines` one pass over every row.  That pass is a numba kernel
(`retrieval.vector_kernel`), about four times faster than numpy widening `_BLOCK` rows at
a time to float32 for BLAS (benchmarks/README.md, "Semantic stage latency"); the kernel
is compiled in a background thread on first use (`retrieval.background_compile`), and
numpy answers until it is ready, so no question waits for numba.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from retrieval.background_compile import BackgroundKernel

Int8s = NDArray[np.int8]
Float32s = NDArray[np.float32]
Ints = NDArray[np.int64]
Kernel = Callable[[Int8s, Float32s, Float32s, Float32s], None]
_BLOCK = 4096


def _load() -> Kernel:
    from retrieval.vector_kernel import dots, warm_up

    warm_up()
    return dots


_DOTS: BackgroundKernel[Kernel] = BackgroundKernel(
    "int8-kernel-compile",
    _load,
    "cannot compile the int8 cosine kernel (numba); using numpy, slower",
)


def compiled_dots(*, wait: bool = False) -> Kernel | None:
    """The compiled kernel, or None while numba compiles it (the first call starts that;
    `wait` blocks until it is over, for benchmarks and tests); None for good when the
    compile failed (logged once)."""
    return _DOTS.get(wait=wait)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Rows of int8 and their scales: vector i is rows[i] * scales[i]."""

    rows: Int8s  # [n, dimension]
    scales: Float32s  # [n]

    def __len__(self) -> int:
        return len(self.scales)

    def take(self, rows: Ints | list[int]) -> Chunk:
        return Chunk(np.ascontiguousarray(self.rows[rows]), np.ascontiguousarray(self.scales[rows]))

    @staticmethod
    def concatenate(chunks: Sequence[Chunk], dimension: int) -> Chunk:
        if not chunks:
            return Chunk(np.zeros((0, dimension), np.int8), np.zeros(0, np.float32))
        rows = np.concatenate([c.rows for c in chunks])
        return Chunk(rows, np.concatenate([c.scales for c in chunks]))


def quantise(vectors: Float32s) -> Chunk:
    """Symmetric per-row int8: the largest component of each row becomes ±127."""
    vectors = np.asarray(vectors, dtype=np.float32)
    top = np.abs(vectors).max(axis=1, initial=0.0) if vectors.size else np.zeros(len(vectors))
    top = top.astype(np.float32)
    safe = np.where(top > 0, top, np.float32(1.0))  # a zero row stays zero
    rows = np.rint(vectors * (np.float32(127.0) / safe)[:, None])
    return Chunk(
        np.clip(rows, -127, 127).astype(np.int8), (top / np.float32(127.0)).astype(np.float32)
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Chunks in order; row r of the whole is row r - start of the chunk holding it."""

    chunks: tuple[Chunk, ...]
    first_row: Ints  # by the store's chunk id: where that chunk starts

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def nbytes(self) -> int:
        return sum(c.rows.nbytes + c.scales.nbytes for c in self.chunks)

    def cosines(self, question: Float32s, *, kernel: Kernel | None = None) -> Float32s:
        """Every row's dot product with `question` ([size], float32); `kernel` (by default
        the compiled one once it is ready, else numpy) computes each chunk's.

        Past `_SPLIT_ROWS` rows the pass is cut into one slice per core, run in threads:
        both kernels release the GIL (numba's `nogil`, BLAS), and at a million passages
        one core takes about 60 ms a question."""
        question = np.ascontiguousarray(question, dtype=np.float32)
        kernel = kernel or compiled_dots() or numpy_dots
        out = np.empty(self.size, dtype=np.float32)
        pieces: list[tuple[Chunk, int, int, int]] = []  # chunk, its rows low:high, out at
        start = 0
        for chunk in self.chunks:
            pieces.extend(_slices(chunk, start))
            start += len(chunk)

        def run(piece: tuple[Chunk, int, int, int]) -> None:
            chunk, low, high, at = piece
            kernel(
                chunk.rows[low:high], chunk.scales[low:high], question, out[at : at + high - low]
            )

        if len(pieces) > 1:
            list(_pool().map(run, pieces))
        else:
            for piece in pieces:
                run(piece)
        return out

    def vectors(self, rows: Ints) -> Float32s:
        """Rows `rows` as float32 vectors (tests and tools; searches use `cosines`)."""
        dimension = self.chunks[0].rows.shape[1] if self.chunks else 0
        out = np.empty((len(rows), dimension), dtype=np.float32)
        starts = np.cumsum([0, *(len(c) for c in self.chunks)])
        which = np.searchsorted(starts, rows, side="right") - 1
        for number, chunk in enumerate(self.chunks):
            picked = np.flatnonzero(which == number)
            local = rows[picked] - starts[number]
            out[picked] = chunk.rows[local] * chunk.scales[local, None]
        return out


def numpy_dots(rows: Int8s, scales: Float32s, question: Float32s, out: Float32s) -> None:
    """The kernel's product in numpy: blocks widened to float32 (small enough to stay in
    the cache), then BLAS."""
    block = np.empty((min(_BLOCK, len(rows)), len(question)), dtype=np.float32)
    for low in range(0, len(rows), _BLOCK):
        high = min(low + _BLOCK, len(rows))
        widened = block[: high - low]
        np.copyto(widened, rows[low:high], casting="unsafe")
        np.matmul(widened, question, out=out[low:high])
    out *= scales


# Rows past which a question's pass is shared between the cores (about 2 ms on one).
_SPLIT_ROWS = 150_000
_WORKERS = max(1, min(os.cpu_count() or 1, 4))
_pool_lock = threading.Lock()
_pool_made: list[ThreadPoolExecutor] = []


def _slices(chunk: Chunk, at: int) -> list[tuple[Chunk, int, int, int]]:
    """`chunk` cut into one slice per worker when it is big enough to be worth it."""
    rows = len(chunk)
    parts = _WORKERS if rows >= _SPLIT_ROWS else 1
    bounds = [rows * k // parts for k in range(parts + 1)]
    return [(chunk, low, high, at + low) for low, high in pairwise(bounds) if high > low]


def _pool() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool_made:
            _pool_made.append(ThreadPoolExecutor(_WORKERS, thread_name_prefix="cosines"))
        return _pool_made[0]
