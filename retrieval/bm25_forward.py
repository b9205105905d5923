"""BM25Okapi over whole reports, scored from the forward index alone: `ForwardBM25`.

Stage two takes one feature from the report level: the BM25 score of each candidate's
report, so a question needs the scores of at most `candidates` reports and never a
ranking of them.  Posting lists, which rank every report, were most of that index: at a
million passages 100 MB of the cache's 178 MB for it (mapped by every replica), and a
question's pass over every report took 0.2 ms.  This index keeps what scoring a few
documents needs: each document's tokens as term ids (the forward index, which a reload
maps onto the new numbering as it does the passage index's), their lengths and each
term's document frequency.  A score is worked out by counting the query's terms in the
document's tokens, with rank-bm25's arithmetic in its order (`retrieval.bm25_build`):
the very floats `FastBM25.get_scores` gives, bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retrieval.bm25_build import Forward, invert_chunks, okapi_idf, okapi_tf_part
from retrieval.bm25_file import FORWARD_FORMAT, read_arrays, term_arrays, terms_of, write_arrays
from retrieval.errors import IndexCacheError
from retrieval.forward_tokens import numbered_tokens
from retrieval.scorer import EPSILON, K1, B, Floats, Ints, Scorer, best_of

# Documents scored at once by get_scores: caps the temporary arrays of a whole pass.
_STEP = 1 << 16


class ForwardBM25(Scorer):
    """BM25Okapi from each document's term ids; immutable, so safe to share between threads.

    `scores_of` is the call it is made for; `get_scores` and `top_k` score every
    document that way too, for the Scorer protocol (tests, the reference comparisons)."""

    def __init__(
        self,
        *,
        k1: float,
        b: float,
        epsilon: float,
        terms: dict[str, int],
        doc_len: Ints,
        df: Ints,
        token_ids: npt.NDArray[np.int32],
    ) -> None:
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.n_docs = len(doc_len)
        self.doc_len = doc_len
        self._terms = terms
        self._df = df
        self._token_ids = token_ids
        self.avgdl = int(doc_len.sum()) / self.n_docs if self.n_docs else 0.0
        self._idf, self.average_idf = okapi_idf(df, self.n_docs, epsilon)
        self._token_starts = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(doc_len, out=self._token_starts[1:])
        for array in (doc_len, df, token_ids, self._idf, self._token_starts):
            array.flags.writeable = False

    @classmethod
    def build(
        cls,
        corpus: Sequence[Sequence[str]],
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
        *,
        chunk_docs: int = 1 << 16,
    ) -> ForwardBM25:
        """Index tokenized documents; the document frequencies are counted `chunk_docs`
        documents at a time, which caps the temporary memory of the sorts."""
        if len(corpus) >= 2**31:
            raise ValueError("ForwardBM25 indexes at most 2**31 - 1 documents; split the corpus")
        terms, token_ids, doc_len = numbered_tokens(corpus)
        df = np.zeros(len(terms), dtype=np.int64)
        for term, _, _ in invert_chunks(token_ids, doc_len, max(chunk_docs, 1)):
            df += np.bincount(term, minlength=len(terms))
        return cls(
            k1=k1, b=b, epsilon=epsilon, terms=dict(terms), doc_len=doc_len, df=df,
            token_ids=token_ids,
        )  # fmt: skip

    # ---- scoring ------------------------------------------------------------------

    def term_idf(self, term: str) -> float:
        term_id = self._terms.get(term)
        return 0.0 if term_id is None else float(self._idf[term_id])

    def vocabulary(self) -> Collection[str]:
        return self._terms.keys()

    @functools.cached_property
    def forward(self) -> Forward:
        """Each document's tokens as term ids (`retrieval.corpus.tokens_of_indexes`)."""
        return Forward(self._terms, self._token_ids, self._token_starts)

    def scores_of(self, query: Sequence[str], ids: Sequence[int] | Ints) -> Floats:
        """`get_scores(query)[ids]`, reading only those documents' tokens."""
        asked = np.asarray(ids, dtype=np.int64)
        if len(asked) and (asked.min() < 0 or asked.max() >= self.n_docs):
            raise IndexError(f"document ids must lie in [0, {self.n_docs})")
        # Unknown terms add exactly 0.0 in rank-bm25, so dropping them changes no score.
        occurrences = [t for t in map(self._terms.get, query) if t is not None]
        if not occurrences or not len(asked):
            return np.zeros(len(asked))
        docs, where = np.unique(asked, return_inverse=True)
        starts, lengths = self._token_starts[docs], self.doc_len[docs]
        # Every token of those documents, and which of them it belongs to.
        owner = np.repeat(np.arange(len(docs)), lengths)
        firsts = np.cumsum(lengths) - lengths
        tokens = self._token_ids[starts[owner] + np.arange(len(owner)) - firsts[owner]]
        scores = np.zeros(len(docs))
        for term_id in occurrences:  # in query order, as rank-bm25 adds them
            tf = np.bincount(owner[tokens == term_id], minlength=len(docs))
            held = np.flatnonzero(tf)
            part = okapi_tf_part(tf[held], lengths[held], self.k1, self.b, self.avgdl)
            # The same product and sum as FastBM25's `idf * tf_part`, added per holder.
            scores[held] += self._idf[term_id] * part
        return scores[where]

    def get_scores(self, query: Sequence[str]) -> Floats:
        every = np.arange(self.n_docs, dtype=np.int64)
        parts = [self.scores_of(query, every[i : i + _STEP]) for i in range(0, self.n_docs, _STEP)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def top_k(self, query: Sequence[str], k: int) -> tuple[Ints, Floats]:
        occurrences = [t for t in map(self._terms.get, query) if t is not None]
        if k <= 0 or not occurrences:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        scores = self.get_scores(query)
        if all(self._idf[t] > 0 for t in occurrences):
            return best_of(np.arange(self.n_docs, dtype=np.int64), scores, k)
        # Scores may be <= 0: every document holding a query term counts, whatever its score.
        holds = np.isin(self._token_ids, occurrences)
        owner = np.repeat(np.arange(self.n_docs, dtype=np.int64), self.doc_len)
        holding = np.unique(owner[holds])
        return best_of(holding, scores[holding], k, positive_only=False)

    # ---- persistence --------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index to `path` atomically (temporary file in the same folder, then rename)."""
        arrays: dict[str, npt.NDArray[Any]] = {
            "doc_len": self.doc_len.astype(np.int32),
            **term_arrays(self._terms),
            "df": self._df,
            "token_ids": self._token_ids,
        }
        params = {"k1": self.k1, "b": self.b, "epsilon": self.epsilon}
        write_arrays(path, params, arrays, kind=FORWARD_FORMAT)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, source: str = "<bytes>") -> ForwardBM25:
        """Parse the bytes of a saved index (arrays are read-only views into `data`);
        IndexCacheError when they are not one."""
        params, arrays = read_arrays(data, source, kind=FORWARD_FORMAT)
        try:
            terms, n_terms_stored = terms_of(arrays)
            doc_len, df = arrays["doc_len"].astype(np.int64), arrays["df"]
            # Checked before the idf is taken from them (a log of a negative count fails).
            if df.dtype != np.int64 or bool(np.any(df <= 0)) or bool(np.any(df > len(doc_len))):
                raise ValueError("bad frequency")
            index = cls(
                k1=float(params["k1"]),
                b=float(params["b"]),
                epsilon=float(params["epsilon"]),
                terms=terms,
                doc_len=doc_len,
                df=df,
                token_ids=arrays["token_ids"],
            )
            index._check_consistent(n_terms_stored)
        except (KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError) as error:
            raise IndexCacheError(
                f"the search index {source} is corrupt ({error}); delete it to rebuild"
            ) from error
        return index

    def _check_consistent(self, n_terms_stored: int) -> None:
        """Cheap structural checks, so garbage fails at load instead of mid-question."""
        ids = self._token_ids
        problems = [
            (len(self._terms) != n_terms_stored, "duplicate terms"),
            (len(self._df) != n_terms_stored, "frequencies do not match the vocabulary"),
            (bool(np.any(self.doc_len < 0)), "negative document length"),
            (len(ids) != self._token_starts[-1], "tokens do not match lengths"),
            (ids.dtype != np.int32, "token ids are not int32"),
            (len(ids) > 0 and int(ids.min()) < 0, "negative token id"),
            (len(ids) > 0 and ids.max() >= n_terms_stored, "bad token"),
        ]
        for failed, what in problems:
            if failed:
                raise ValueError(what)
