"""py3langid's naive Bayes over a text's byte n-grams, compiled.

py3langid walks a text's bytes through a finite automaton in pure Python, about a
microsecond a byte, then sums the n-grams' weights in numpy; indexing a hundred
thousand reports paid about a second each for it.  This is the same walk and the same
sums compiled with numba (cached on disk, like the BM25 kernel), about a tenth of the
time.  Imported by `languages.Detector` on load only.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt


@numba.njit(cache=True, nogil=True)
def log_scores(
    nextmove: npt.NDArray[np.integer],
    rowbase: npt.NDArray[np.int64],
    output: npt.NDArray[np.int32],
    weights: npt.NDArray[np.float32],
    priors: npt.NDArray[np.float32],
    data: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.float32], int]:
    """Each language's log score for `data` (UTF-8): its prior, plus log(1 + count) times
    the language's weight of each n-gram feature the walk over the bytes reaches; and
    how many features it reached."""
    found = np.empty(len(data), dtype=np.int32)
    count = 0
    state = 0
    for byte in data:
        state = nextmove[rowbase[state] + byte]
        feature = output[state]
        if feature >= 0:
            found[count] = feature
            count += 1
    scores = priors.copy()
    if count == 0:
        return scores, 0
    found = np.sort(found[:count])
    start = 0
    for end in range(1, count + 1):
        if end == count or found[end] != found[start]:
            scale = np.float32(math.log1p(end - start))
            row = weights[found[start]]
            for language in range(len(scores)):
                scores[language] += scale * row[language]
            start = end
    return scores, count
