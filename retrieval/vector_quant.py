"""Vectors as int8 rows with a float32 scale each, and their sign bits.

A unit vector v is kept as q = round(v * 127 / max|v|) and scale = max|v| / 127: a
quarter of float32's bytes, and each cosine is off by at most scale / 2 * |question|_1
(about 0.02 for MiniLM's 384 dimensions; a few thousandths at most in practice, as the
rounding errors of the components mostly cancel).

Each row also keeps its signs, one bit a component (`sign_bits`: 48 bytes at 384
dimensions, an eighth of the int8 row): the semantic index copies them in its own order,
and a question's nearest texts are found by their bits first (`retrieval.vector_near`)
and scored exactly from their int8 rows after (`Snapshot.dots`), so a question reads the
int8 rows of a few thousand texts, not of the whole archive.

A `Snapshot` is the store's chunks at one moment: its row numbers are what an index
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

Int8s = NDArray[np.int8]
Float32s = NDArray[np.float32]
Words = NDArray[np.uint64]
Ints = NDArray[np.int64]
Rows = NDArray[np.integer[Any]]  # row numbers, of any integer type
_BLOCK = 4096


@dataclass(frozen=True, slots=True)
class Chunk:
    """Rows of int8 and their scales: vector i is rows[i] * scales[i]."""

    rows: Int8s  # [n, dimension]
    scales: Float32s  # [n]
    signs: Words  # [n, words_for(dimension)]: sign_bits(rows)

    def __len__(self) -> int:
        return len(self.scales)

    def take(self, rows: Ints | list[int]) -> Chunk:
        return Chunk(
            np.ascontiguousarray(self.rows[rows]),
            np.ascontiguousarray(self.scales[rows]),
            np.ascontiguousarray(self.signs[rows]),
        )

    @staticmethod
    def concatenate(chunks: Sequence[Chunk], dimension: int) -> Chunk:
        if not chunks:
            return Chunk(
                np.zeros((0, dimension), np.int8),
                np.zeros(0, np.float32),
                np.zeros((0, words_for(dimension)), np.uint64),
            )
        rows = np.concatenate([c.rows for c in chunks])
        scales = np.concatenate([c.scales for c in chunks])
        return Chunk(rows, scales, np.concatenate([c.signs for c in chunks]))


def words_for(dimension: int) -> int:
    """The 64-bit words that hold one bit for each of `dimension` components."""
    return -(-dimension // 64)


def sign_bits(vectors: NDArray[np.generic]) -> Words:
    """One bit a component, set where it is positive ([n, words_for(dimension)]); a 1-D
    vector gives one row of words.  Two unit vectors whose bits differ in few places
    point the same way: the fraction that differ estimates their angle over pi."""
    matrix = np.atleast_2d(np.asarray(vectors))
    packed = np.packbits(matrix > 0, axis=1)
    width = words_for(matrix.shape[1]) * 8
    padded = np.zeros((len(matrix), width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words: Words = padded.view(np.uint64)
    return words[0] if np.ndim(vectors) == 1 else words


def quantise(vectors: Float32s) -> Chunk:
    """Symmetric per-row int8: the largest component of each row becomes ±127."""
    vectors = np.asarray(vectors, dtype=np.float32)
    top = np.abs(vectors).max(axis=1, initial=0.0) if vectors.size else np.zeros(len(vectors))
    top = top.astype(np.float32)
    safe = np.where(top > 0, top, np.float32(1.0))  # a zero row stays zero
    rows = np.rint(vectors * (np.float32(127.0) / safe)[:, None])
    quantised = np.clip(rows, -127, 127).astype(np.int8)
    return Chunk(quantised, (top / np.float32(127.0)).astype(np.float32), sign_bits(quantised))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Chunks in order; row r of the whole is row r - start of the chunk holding it."""

    chunks: tuple[Chunk, ...]
    first_row: Ints  # by the store's chunk id: where that chunk starts

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def nbytes(self) -> int:
        return sum(c.rows.nbytes + c.scales.nbytes + c.signs.nbytes for c in self.chunks)

    def cosines(self, question: Float32s) -> Float32s:
        """Every row's dot product with `question` ([size], float32): a pass over every
        row, the reference `dots` and the nearest texts are checked against (tests and
        tools; searches read only the rows they need)."""
        question = np.ascontiguousarray(question, dtype=np.float32)
        out = np.empty(self.size, dtype=np.float32)
        start = 0
        for chunk in self.chunks:
            numpy_dots(chunk.rows, chunk.scales, question, out[start : start + len(chunk)])
            start += len(chunk)
        return out

    def dots(self, rows: Rows, question: Float32s) -> Float32s:
        """The dot products of rows `rows` with `question`, as `cosines` gives them, reading
        only those rows."""
        out = np.empty(len(rows), dtype=np.float32)
        question = np.asarray(question, dtype=np.float32)
        for number, picked, local in self._by_chunk(rows):
            chunk = self.chunks[number]
            out[picked] = (chunk.rows[local] @ question) * chunk.scales[local]
        return out

    def signs(self, rows: Rows) -> Words:
        """The sign bits of rows `rows`, in that order."""
        words = self.chunks[0].signs.shape[1] if self.chunks else 0
        out = np.empty((len(rows), words), dtype=np.uint64)
        for number, picked, local in self._by_chunk(rows):
            out[picked] = self.chunks[number].signs[local]
        return out

    def _by_chunk(self, rows: Rows) -> list[tuple[int, Ints, Ints]]:
        """For each chunk holding some of `rows`: its number, where those are in `rows`,
        and their rows in the chunk."""
        wide: Ints = np.asarray(rows, dtype=np.int64)
        starts = np.cumsum([0, *(len(c) for c in self.chunks)])
        which = np.searchsorted(starts, wide, side="right") - 1
        if len(self.chunks) == 1:
            return [(0, np.arange(len(wide), dtype=np.int64), wide)] if len(wide) else []
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(self.chunks) + 1))
        return [
            (number, order[low:high], wide[order[low:high]] - starts[number])
            for number, (low, high) in enumerate(pairwise(bounds.tolist()))
            if high > low
        ]

    def vectors(self, rows: Rows) -> Float32s:
        """Rows `rows` as float32 vectors (tests and tools; searches use `dots`)."""
        dimension = self.chunks[0].rows.shape[1] if self.chunks else 0
        out = np.empty((len(rows), dimension), dtype=np.float32)
        for number, picked, local in self._by_chunk(rows):
            chunk = self.chunks[number]
            out[picked] = chunk.rows[local] * chunk.scales[local, None]
        return out


def numpy_dots(rows: Int8s, scales: Float32s, question: Float32s, out: Float32s) -> None:
    """out = (rows @ question) * scales, in blocks widened to float32 (small enough to
    stay in the cache), then BLAS."""
    block = np.empty((min(_BLOCK, len(rows)), len(question)), dtype=np.float32)
    for low in range(0, len(rows), _BLOCK):
        high = min(low + _BLOCK, len(rows))
        widened = block[: high - low]
        np.copyto(widened, rows[low:high], casting="unsafe")
        np.matmul(widened, question, out=out[low:high])
    out *= scales
