"""BM25Okapi scoring with `FastBM25`, a posting-list scorer, and `build_scorer`, which
builds it or the rank-bm25 reference (`retrieval.bm25_reference`) by name.

`FastBM25` gives exactly the scores of `rank_bm25.BM25Okapi` (same idf with
the epsilon floor, same length normalisation, duplicate query terms counted
each time, unknown terms worth nothing), but reads only the posting lists of
the query's terms instead of scoring every document in Python.

Exactness is by construction, not by tolerance.  rank-bm25 computes each
term's contribution as `idf * (tf*(k1+1) / (tf + k1*(1-b+b*dl/avgdl)))` with
numpy float64 operations, which are correctly rounded, and adds the terms to
the score in query order.  That contribution depends only on the pair
(tf, dl), and a corpus has few distinct pairs, so we evaluate the same
expression, in the same order, once per distinct pair (`_tf_part`), store a
small pair code per posting, and add the looked-up contributions in query
order.  The results are bit-for-bit rank-bm25's, so even exact ties break the
same way in both backends.

Edge cases rank-bm25 crashes on (ZeroDivisionError) get a defined answer in
both backends here: an empty corpus, or one whose documents are all empty,
scores every query 0 for every document.

Building the posting lists is `retrieval.bm25_build`; the saved index's file
format, `retrieval.bm25_file`.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from retrieval.bm25_build import (
    TermIds,
    best_code_per_term,
    invert_chunk,
    merge_chunks,
    number_pairs,
    okapi_idf,
    okapi_tf_part,
)
from retrieval.bm25_file import read_arrays, write_arrays
from retrieval.bm25_reference import RankBM25Backend
from retrieval.errors import IndexCacheError, UnknownBackendError
from retrieval.scorer import EPSILON, K1, B, Floats, Ints, Scorer, best_of

BACKENDS: Final[tuple[str, ...]] = ("fast", "rank-bm25")

# When the posting lists we would have to merge cover more than this share of
# the corpus, one dense pass over a score array beats merging candidate sets.
DENSE_SHARE: Final = 0.25


def build_scorer(backend: str, corpus: Sequence[Sequence[str]]) -> Scorer:
    """Build the named backend over tokenized documents."""
    if backend == "fast":
        return FastBM25.build(corpus)
    if backend == "rank-bm25":
        return RankBM25Backend.build(corpus)
    raise UnknownBackendError(
        f"unknown scoring backend {backend!r}: use one of {', '.join(BACKENDS)}"
    )


class FastBM25(Scorer):
    """BM25Okapi over inverted posting lists; immutable, so safe to share between threads."""

    def __init__(
        self,
        *,
        k1: float,
        b: float,
        epsilon: float,
        terms: dict[str, int],
        doc_len: Ints,
        term_offsets: Ints,
        doc_ids: npt.NDArray[np.int32],
        pair_codes: npt.NDArray[np.unsignedinteger[Any]],
        pair_tf: Ints,
        pair_dl: Ints,
        term_best_code: Ints,
    ) -> None:
        # Stored state: the postings of term t are doc_ids and pair_codes over
        # [term_offsets[t], term_offsets[t+1]), doc ids ascending; pair code c
        # stands for (pair_tf[c], pair_dl[c]).
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.n_docs = len(doc_len)
        self.doc_len = doc_len
        self._terms = terms
        self._term_offsets = term_offsets
        self._doc_ids = doc_ids
        self._pair_codes = pair_codes
        self._pair_tf = pair_tf
        self._pair_dl = pair_dl
        self._term_best_code = term_best_code
        # Derived state, recomputed rather than stored so it always matches k1, b, epsilon.
        n_tokens = int(doc_len.sum())
        self.avgdl = n_tokens / self.n_docs if self.n_docs else 0.0
        self._tf_part = okapi_tf_part(pair_tf, pair_dl, k1, b, self.avgdl)
        self._df = np.diff(term_offsets)
        self._idf, self.average_idf = okapi_idf(self._df, self.n_docs, epsilon)
        # Per-occurrence upper bound of a term's contribution, for pruning in top_k.
        self._bound = np.where(self._idf > 0, self._idf * self._tf_part[term_best_code], 0.0)

    # ---- building -----------------------------------------------------------------

    @classmethod
    def build(
        cls,
        corpus: Sequence[Sequence[str]],
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
        *,
        chunk_docs: int = 1 << 16,
    ) -> FastBM25:
        """Index tokenized documents.

        Documents are inverted `chunk_docs` at a time, which caps the
        temporary memory of the sorts; the chunks are then laid out term-major.
        """
        n_docs = len(corpus)
        if n_docs >= 2**31:
            raise ValueError("FastBM25 indexes at most 2**31 - 1 documents; split the corpus")
        doc_len = np.fromiter(map(len, corpus), dtype=np.int64, count=n_docs)
        terms = TermIds()
        chunk_docs = max(chunk_docs, 1)
        chunks = [
            invert_chunk(corpus[first : first + chunk_docs], first, doc_len, terms)
            for first in range(0, n_docs, chunk_docs)
        ]
        term_offsets, doc_ids, tf = merge_chunks(chunks, len(terms))
        pair_codes, pair_tf, pair_dl = number_pairs(tf, doc_ids, doc_len)
        del tf
        avgdl = int(doc_len.sum()) / n_docs if n_docs else 0.0
        term_best_code = best_code_per_term(
            pair_codes, term_offsets, okapi_tf_part(pair_tf, pair_dl, k1, b, avgdl)
        )
        return cls(
            k1=k1,
            b=b,
            epsilon=epsilon,
            terms=dict(terms),
            doc_len=doc_len,
            term_offsets=term_offsets,
            doc_ids=doc_ids,
            pair_codes=pair_codes,
            pair_tf=pair_tf,
            pair_dl=pair_dl,
            term_best_code=term_best_code,
        )

    # ---- scoring ------------------------------------------------------------------

    @property
    def n_terms(self) -> int:
        return len(self._terms)

    @property
    def nbytes(self) -> int:
        """Memory held by the index: its arrays plus the term dictionary and its strings."""
        arrays = (
            self.doc_len,
            self._term_offsets,
            self._doc_ids,
            self._pair_codes,
            self._pair_tf,
            self._pair_dl,
            self._term_best_code,
            self._tf_part,
            self._df,
            self._idf,
            self._bound,
        )
        entries = sum(sys.getsizeof(t) + sys.getsizeof(i) for t, i in self._terms.items())
        return sum(a.nbytes for a in arrays) + sys.getsizeof(self._terms) + entries

    def term_idf(self, term: str) -> float:
        term_id = self._terms.get(term)
        return 0.0 if term_id is None else float(self._idf[term_id])

    def vocabulary(self) -> Collection[str]:
        return self._terms.keys()

    def get_scores(self, query: Sequence[str]) -> Floats:
        return self._dense_scores(self._known(query))

    def top_k(
        self, query: Sequence[str], k: int, *, dense_share: float = DENSE_SHARE
    ) -> tuple[Ints, Floats]:
        """Top-k with exact scores, pruned MaxScore-style.

        The documents holding the "essential" terms (the rarest ones, so the
        fewest postings) are scored exactly.  Every other document lacks all
        of them, so it scores at most the sum of the other terms' bounds.
        When the k-th best candidate beats that bound strictly, no other
        document can enter the top k or tie with it, and we are done;
        otherwise the next rarest term becomes essential.  Float rounding is
        monotone, so the bound, summed in query order like the scores, holds
        for the computed scores too.

        Once the essential postings exceed `dense_share` of the corpus, one
        dense pass over every document is cheaper (0 always takes it, inf
        never does; the answer is the same, only the speed differs).
        """
        occurrences = self._known(query)
        if k <= 0 or not occurrences:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if any(self._idf[t] <= 0 for t in occurrences):
            # Scores of matching documents may be <= 0: no bound-based pruning,
            # just every document that holds a query term, exactly scored.
            candidates = _union_sorted([self._postings(t)[0] for t in set(occurrences)])
            return best_of(candidates, self._fold(occurrences, candidates), k, positive_only=False)
        df = self._df
        by_rarity = sorted(set(occurrences), key=lambda t: (int(df[t]), -float(self._bound[t]), t))
        essential_postings = 0
        for n_essential, newest in enumerate(by_rarity, start=1):
            essential_postings += int(df[newest])
            if essential_postings > dense_share * self.n_docs:
                break
            if essential_postings < k and n_essential < len(by_rarity):
                continue  # fewer than k candidates cannot settle the top k
            essential = set(by_rarity[:n_essential])
            candidates = _union_sorted([self._postings(t)[0] for t in essential])
            scores = self._fold(occurrences, candidates)
            outside_bound = 0.0
            for term_id in occurrences:
                outside_bound += 0.0 if term_id in essential else float(self._bound[term_id])
            if outside_bound <= 0:
                return best_of(candidates, scores, k)
            positive = scores[scores > 0]
            if len(positive) >= k:
                kth = np.partition(positive, len(positive) - k)[len(positive) - k]
                if kth > outside_bound:
                    return best_of(candidates, scores, k)
        scores = self._dense_scores(occurrences)
        if self.n_docs > k:
            # Only documents at or above the k-th score can make it; skip the rest cheaply.
            kth = np.partition(scores, self.n_docs - k)[self.n_docs - k]
            ids = np.flatnonzero(scores >= kth) if kth > 0 else np.flatnonzero(scores > 0)
        else:
            ids = np.arange(self.n_docs, dtype=np.int64)
        return best_of(ids, scores[ids], k)

    def _known(self, query: Sequence[str]) -> list[int]:
        # Unknown terms add exactly 0.0 in rank-bm25, so dropping them changes no score.
        get = self._terms.get
        return [t for t in map(get, query) if t is not None]

    def _postings(self, term_id: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[Any]]:
        start, end = self._term_offsets[term_id], self._term_offsets[term_id + 1]
        return self._doc_ids[start:end], self._pair_codes[start:end]

    def _per_code(self, term_id: int) -> Floats:
        """What one occurrence of the term adds, for each (tf, dl) pair code.

        The same product as rank-bm25's `idf * tf_part`, done once per distinct pair.
        """
        per_code: Floats = self._idf[term_id] * self._tf_part
        return per_code

    def _dense_scores(self, occurrences: list[int]) -> Floats:
        """Every document's score, adding each occurrence's contributions in query order."""
        scores = np.zeros(self.n_docs)
        for term_id in occurrences:
            ids, codes = self._postings(term_id)
            # add.at adds in place, scores[i] + c exactly as `scores += ...` would.
            np.add.at(scores, ids, np.take(self._per_code(term_id), codes))
        return scores

    def _fold(self, occurrences: list[int], candidates: Ints) -> Floats:
        """Exact scores of `candidates` (sorted doc ids), summed in query order."""
        per_term: dict[int, Floats] = {}
        for term_id in set(occurrences):
            ids, codes = self._postings(term_id)
            column = np.zeros(len(candidates))
            if len(ids) <= len(candidates):
                at = np.searchsorted(candidates, ids)
                found = at < len(candidates)
                found[found] = candidates[at[found]] == ids[found]
                column[at[found]] = np.take(self._per_code(term_id), codes[found])
            else:  # a long posting list: look the few candidates up in it
                at = np.minimum(np.searchsorted(ids, candidates), len(ids) - 1)
                found = ids[at] == candidates
                column[found] = np.take(self._per_code(term_id), codes[at[found]])
            per_term[term_id] = column
        scores = np.zeros(len(candidates))
        for term_id in occurrences:
            scores += per_term[term_id]
        return scores

    # ---- persistence --------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index to `path` atomically (temporary file in the same folder, then rename)."""
        terms = list(self._terms)  # insertion order is id order
        # Separated by NUL, so loading splits them in C (see from_bytes).
        text = "\0".join(terms)
        term_chars = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in terms], out=term_chars[1:])
        arrays: dict[str, npt.NDArray[Any]] = {
            "doc_len": self.doc_len.astype(np.int32),
            "terms_nul": np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8),
            "term_chars": term_chars,
            "term_offsets": self._term_offsets,
            "doc_ids": self._doc_ids,
            "pair_codes": self._pair_codes,
            "pair_tf": self._pair_tf,
            "pair_dl": self._pair_dl,
            "term_best_code": self._term_best_code,
        }
        params = {"k1": self.k1, "b": self.b, "epsilon": self.epsilon}
        write_arrays(path, params, arrays)

    @classmethod
    def load(cls, path: Path) -> FastBM25:
        """Read an index written by `save`; IndexCacheError if it is unreadable or corrupt."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise IndexCacheError(
                f"cannot read the search index {path}: {error}; delete it to rebuild"
            ) from error
        return cls.from_bytes(data, source=str(path))

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> FastBM25:
        """Parse the bytes of a saved index (arrays are read-only views into `data`)."""
        params, arrays = read_arrays(data, source)
        try:
            text = arrays["terms_nul"].tobytes().decode("utf-8", "surrogatepass")
            bounds = arrays["term_chars"].tolist()
            names = text.split("\0")
            if len(names) != len(bounds) - 1:  # a term holds a NUL itself: cut by lengths
                names = [text[a + i : z + i] for i, (a, z) in enumerate(pairwise(bounds))]
            terms = dict(zip(names, range(len(names)), strict=True))
            index = cls(
                k1=float(params["k1"]),
                b=float(params["b"]),
                epsilon=float(params["epsilon"]),
                terms=terms,
                doc_len=arrays["doc_len"].astype(np.int64),
                term_offsets=arrays["term_offsets"],
                doc_ids=arrays["doc_ids"],
                pair_codes=arrays["pair_codes"],
                pair_tf=arrays["pair_tf"],
                pair_dl=arrays["pair_dl"],
                term_best_code=arrays["term_best_code"],
            )
            index._check_consistent(len(bounds) - 1)
        except (KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError) as error:
            raise IndexCacheError(
                f"the search index {source} is corrupt ({error}); delete it to rebuild"
            ) from error
        return index

    def _check_consistent(self, n_terms_stored: int) -> None:
        """Cheap structural checks, so garbage fails at load instead of mid-query."""
        offsets, n_postings = self._term_offsets, len(self._doc_ids)
        problems = [
            (len(self._terms) != n_terms_stored, "duplicate terms"),
            (len(offsets) != n_terms_stored + 1, "term offsets do not match the vocabulary"),
            (len(self._term_best_code) != n_terms_stored, "bounds do not match the vocabulary"),
            (len(self._pair_codes) != n_postings, "postings arrays differ in length"),
            (len(self._pair_tf) != len(self._pair_dl), "pair tables differ in length"),
            (int(offsets[0]) != 0 or int(offsets[-1]) != n_postings, "bad term offsets"),
            (bool(np.any(np.diff(offsets) <= 0)), "empty or reversed posting list"),
            (n_postings > 0 and int(self._doc_ids.max()) >= self.n_docs, "doc id out of range"),
            (n_postings > 0 and int(self._doc_ids.min()) < 0, "negative doc id"),
            (n_postings > 0 and int(self._pair_codes.max()) >= len(self._pair_tf), "bad code"),
            (bool(np.any(self._term_best_code >= max(len(self._pair_tf), 1))), "bad bound"),
            (bool(np.any(self.doc_len < 0)), "negative document length"),
        ]
        for failed, what in problems:
            if failed:
                raise ValueError(what)


def _union_sorted(id_lists: list[npt.NDArray[np.int32]]) -> Ints:
    """Sorted distinct ids of several sorted id arrays (np.unique is slow here)."""
    if len(id_lists) == 1:
        return id_lists[0].astype(np.int64)
    merged: Ints = np.sort(np.concatenate(id_lists)).astype(np.int64)
    distinct: Ints = merged[np.diff(merged, prepend=-1) != 0]
    return distinct
