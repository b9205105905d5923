"""The reference backend: rank_bm25.BM25Okapi itself, whose scores `FastBM25` reproduces
bit for bit (tests/test_bm25.py holds them to it)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.scorer import EPSILON, K1, B, Floats, Ints, Scorer, best_of


class RankBM25Backend(Scorer):
    """The reference: rank_bm25.BM25Okapi itself, with our top-k tie-break."""

    def __init__(self, model: BM25Okapi | None, n_docs: int) -> None:
        self._model = model  # None when the corpus has no tokens at all (rank-bm25 would crash)
        self.n_docs = n_docs

    @classmethod
    def build(
        cls,
        corpus: Sequence[Sequence[str]],
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
    ) -> RankBM25Backend:
        has_tokens = any(len(doc) for doc in corpus)
        model = BM25Okapi(corpus, k1=k1, b=b, epsilon=epsilon) if has_tokens else None
        return cls(model, len(corpus))

    def get_scores(self, query: Sequence[str]) -> Floats:
        if self._model is None:
            return np.zeros(self.n_docs)
        return np.asarray(self._model.get_scores(list(query)), dtype=np.float64)

    def top_k(self, query: Sequence[str], k: int) -> tuple[Ints, Floats]:
        scores = self.get_scores(query)
        if self._model is None or all(self._model.idf.get(q, 1.0) > 0 for q in query):
            return best_of(np.arange(self.n_docs, dtype=np.int64), scores, k)
        wanted = set(query)
        matching = [i for i, freqs in enumerate(self._model.doc_freqs) if wanted & freqs.keys()]
        ids = np.array(matching, dtype=np.int64)
        return best_of(ids, scores[ids], k, positive_only=False)

    def term_idf(self, term: str) -> float:
        if self._model is None:
            return 0.0
        return float(self._model.idf.get(term, 0.0))

    def vocabulary(self) -> Collection[str]:
        # rank-bm25 keeps an idf for every term of the corpus, negative ones included.
        return frozenset() if self._model is None else self._model.idf.keys()
