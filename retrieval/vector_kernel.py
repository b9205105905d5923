"""The compiled int8 × float32 dot products of `retrieval.vector_quant` (numba).

Imported only by `vector_quant`'s background compile, so that nothing else pays for
numba.  Compiled once per machine and cached on disk (`cache=True`); `warm_up()` compiles
or loads it for the arrays it is given: writable ones (vectors just embedded) and
read-only ones (memory-mapped chunks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F) -> _F:
    # fastmath lets the inner sum be vectorised: its order changes, by float32 rounding only.
    try:  # numba raises when it finds no writable cache folder: then compile per process
        compiled = numba.njit(cache=True, nogil=True, fastmath=True)(function)
    except RuntimeError:
        compiled = numba.njit(nogil=True, fastmath=True)(function)
    return cast(_F, compiled)


@_jit
def dots(
    rows: npt.NDArray[np.int8],
    scales: npt.NDArray[np.float32],
    question: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
) -> None:
    """out[i] = (rows[i] · question) * scales[i]."""
    count, dimension = rows.shape
    for i in range(count):
        total = np.float32(0.0)
        for j in range(dimension):
            total += np.float32(rows[i, j]) * question[j]
        out[i] = total * scales[i]


def warm_up() -> None:
    rows = np.zeros((2, 4), np.int8)
    scales = np.ones(2, np.float32)
    question = np.ones(4, np.float32)
    out = np.empty(2, np.float32)
    dots(rows, scales, question, out)
    rows.flags.writeable = False
    scales.flags.writeable = False
    dots(rows, scales, question, out)
