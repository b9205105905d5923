"""What the search engine needs from a first-stage scorer, and what every backend shares:
BM25Okapi's parameters, the array types and the exact top-k cut (`best_of`).

The backends are `retrieval.bm25.FastBM25` and `retrieval.bm25_reference.RankBM25Backend`;
`retrieval.bm25.build_scorer` picks one by name (`build_scorers`, for the report level,
`retrieval.bm25_forward.ForwardBM25` in place of FastBM25).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

K1: Final = 1.5
B: Final = 0.75
EPSILON: Final = 0.25

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


class Scorer(Protocol):
    """What the search engine needs from a first-stage scorer."""

    n_docs: int

    def get_scores(self, query: Sequence[str]) -> Floats:
        """One float64 score per document, exactly `BM25Okapi.get_scores`."""
        ...

    def scores_of(self, query: Sequence[str], ids: Sequence[int] | Ints) -> Floats:
        """`get_scores(query)[ids]`: the scores of some documents (a backend may read
        only theirs, as `retrieval.bm25_forward.ForwardBM25` does)."""
        return self.get_scores(query)[np.asarray(ids, dtype=np.int64)]

    def top_k(self, query: Sequence[str], k: int) -> tuple[Ints, Floats]:
        """The best `k` documents holding at least one query term: (indices, scores).

        Sorted by score descending, then document index ascending.  In a large
        corpus every such document scores above 0; in a tiny one a term found
        in half the documents or more has an idf of 0 or below, and those
        documents must still be found (one report must be searchable).
        """
        ...

    def term_idf(self, term: str) -> float:
        """The idf the scorer uses for `term` (epsilon floor applied), 0.0 if unknown."""
        ...

    def vocabulary(self) -> Collection[str]:
        """Every term some document holds."""
        ...


def idf_of(scorer: Scorer, terms: Sequence[str]) -> dict[str, float]:
    """The idf of each of `terms` the scorer knows (stage two's term weights)."""
    known = scorer.vocabulary()
    return {term: scorer.term_idf(term) for term in set(terms) if term in known}


def best_of(
    ids: Ints, scores: Floats, k: int, *, positive_only: bool = True
) -> tuple[Ints, Floats]:
    """The `k` best scores (positive ones only, unless told), by score descending then id.

    `np.argpartition` alone would pick arbitrarily among ties at the cut, so
    we keep every score tied with the k-th and sort those exactly.
    """
    if positive_only:
        keep = scores > 0
        ids, scores = ids[keep], scores[keep]
    if k <= 0:
        return ids[:0], scores[:0]
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order].astype(np.int64), scores[order]
