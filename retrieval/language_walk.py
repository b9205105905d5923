"""The detector's walk over a text's bytes and its sums (`log_scores`): compiled once
numba has loaded the kernel (`retrieval.language_kernel`), in Python until then.

A question right after a start would otherwise wait a third of a second for numba to
import and load the kernel; walked in Python it takes under a millisecond (about
0.5 µs a byte).  Both give the same floats: the same float32 products and sums, feature
by feature in the same order.  A text too long for the Python walk to be quick waits
for the kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from retrieval.background_compile import BackgroundKernel

Scores = tuple[npt.NDArray[np.float32], int]
Walk = Callable[..., Scores]

# Longer texts (more than a question or a report's sample) wait for the kernel.
PYTHON_WALK_BYTES: Final = 4096


def _load() -> Walk:
    from retrieval.language_kernel import log_scores as compiled

    return compiled


_KERNEL: BackgroundKernel[Walk] = BackgroundKernel(
    "language-kernel-compile",
    _load,
    "cannot compile the language detector's walk (numba); walking in Python, slower",
)


class Model(NamedTuple):
    """What the walk follows and sums, in the kernel's order of arguments."""

    nextmove: npt.NDArray[np.integer]
    rowbase: npt.NDArray[np.int64]
    output: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    priors: npt.NDArray[np.float32]


def log_scores(model: Model, data: npt.NDArray[np.uint8], *, wait: bool = False) -> Scores:
    """Each language's log score for `data` (UTF-8) and how many features the walk
    reached (`language_kernel.log_scores`).  With `wait` (indexing, which walks every
    report), the kernel is loaded first whatever the text's length."""
    kernel = _KERNEL.get(wait=wait or len(data) > PYTHON_WALK_BYTES)
    if kernel is None:
        return python_log_scores(model, data)
    return kernel(*model, data)


def python_log_scores(model: Model, data: npt.NDArray[np.uint8]) -> Scores:
    """`language_kernel.log_scores`, in Python and numpy."""
    nextmove, rowbase, output, weights, priors = model
    found: list[int] = []
    state = 0
    for byte in data.tolist():
        state = int(nextmove[rowbase[state] + byte])
        feature = int(output[state])
        if feature >= 0:
            found.append(feature)
    scores = priors.copy()
    if not found:
        return scores, 0
    features, counts = np.unique(np.array(found, dtype=np.int32), return_counts=True)
    for feature, count in zip(features.tolist(), counts.tolist(), strict=True):
        # The kernel's float32 product and sum, language by language.
        scores += np.float32(math.log1p(count)) * weights[feature]
    return scores, len(found)
