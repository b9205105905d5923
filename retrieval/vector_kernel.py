"""The compiled sign-bit pass of `retrieval.vector_near` (numba).

Imported only by its background compile, so that nothing else pays for numba.  Compiled
once per machine and cached on disk (`cache=True`); `warm_up()` compiles or loads it for
the arrays it is given: writable ones and read-only ones (bits mapped from the store).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F) -> _F:
    try:  # numba raises when it finds no writable cache folder: then compile per process
        compiled = numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:
        compiled = numba.njit(nogil=True)(function)
    return cast(_F, compiled)


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@_jit
def _bits_set(x: np.uint64) -> np.uint64:
    # Every constant a uint64: numba widens uint64 mixed with int64 to float64.
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@_jit
def nearest_signs(
    signs: npt.NDArray[np.uint64],
    eligible: npt.NDArray[np.bool_],
    question: npt.NDArray[np.uint64],
    count: int,
    out: npt.NDArray[np.int64],
) -> int:
    """Fill out[:k] with the `count` eligible rows fewest bits apart from `question`
    (ties: the lower rows), in row order, and return k (fewer when fewer are eligible)."""
    rows, words = signs.shape
    beyond = words * 64 + 1  # the distance of a row that is not eligible
    distance = np.empty(rows, np.int32)
    histogram = np.zeros(beyond + 1, np.int64)
    for i in range(rows):
        d = beyond
        if eligible[i]:
            total = np.uint64(0)
            for j in range(words):
                total += _bits_set(signs[i, j] ^ question[j])
            d = np.int32(total)
        distance[i] = d
        histogram[d] += 1
    below = 0  # rows closer than `threshold`
    threshold = 0
    while threshold < beyond and below + histogram[threshold] < count:
        below += histogram[threshold]
        threshold += 1
    room = count - below if threshold < beyond else 0  # rows taken at the threshold
    k = 0
    for i in range(rows):
        d = distance[i]
        if d < threshold or (d == threshold and room > 0):
            if d == threshold:
                room -= 1
            out[k] = i
            k += 1
    return k


def warm_up() -> None:
    signs = np.zeros((3, 1), np.uint64)
    eligible = np.ones(3, np.bool_)
    question = np.zeros(1, np.uint64)
    out = np.empty(3, np.int64)
    nearest_signs(signs, eligible, question, 2, out)
    for array in (signs, eligible):  # the question's bits are always made anew
        array.flags.writeable = False
    nearest_signs(signs, eligible, question, 2, out)
