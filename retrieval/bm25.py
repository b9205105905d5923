"""BM25Okapi scoring: a fast posting-list scorer and the rank-bm25 reference.

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
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from collections.abc import Sequence
from itertools import chain, pairwise
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi

from retrieval.errors import IndexCacheError, UnknownBackendError

K1: Final = 1.5
B: Final = 0.75
EPSILON: Final = 0.25
BACKENDS: Final[tuple[str, ...]] = ("fast", "rank-bm25")

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

# When the posting lists we would have to merge cover more than this share of
# the corpus, one dense pass over a score array beats merging candidate sets.
DENSE_SHARE: Final = 0.25

_MAGIC: Final = b"RBOTBM25"
_FORMAT: Final = "reports-bot/bm25"
_FORMAT_VERSION: Final = 1
_ALIGN: Final = 64
_DTYPES: Final = frozenset({"<i4", "<i8", "<u2", "<u4", "<f8", "|u1"})


class Scorer(Protocol):
    """What the search engine needs from a first-stage scorer."""

    n_docs: int

    def get_scores(self, query: Sequence[str]) -> Floats:
        """One float64 score per document, exactly `BM25Okapi.get_scores`."""
        ...

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


def build_scorer(backend: str, corpus: Sequence[Sequence[str]]) -> Scorer:
    """Build the named backend over tokenized documents."""
    if backend == "fast":
        return FastBM25.build(corpus)
    if backend == "rank-bm25":
        return RankBM25Backend.build(corpus)
    raise UnknownBackendError(
        f"unknown scoring backend {backend!r}: use one of {', '.join(BACKENDS)}"
    )


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


class _TermIds(dict[str, int]):
    """Term → id, numbering new terms in order of first appearance (as rank-bm25 meets them)."""

    def __missing__(self, term: str) -> int:
        term_id = len(self)
        self[term] = term_id
        return term_id


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
        self._tf_part = _tf_part(pair_tf, pair_dl, k1, b, self.avgdl)
        self._df = np.diff(term_offsets)
        self._idf, self.average_idf = _okapi_idf(self._df, self.n_docs, epsilon)
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
        terms = _TermIds()
        chunk_docs = max(chunk_docs, 1)
        chunks = [
            _invert_chunk(corpus[first : first + chunk_docs], first, doc_len, terms)
            for first in range(0, n_docs, chunk_docs)
        ]
        term_offsets, doc_ids, tf = _merge_chunks(chunks, len(terms))
        pair_codes, pair_tf, pair_dl = _pair_codes(tf, doc_ids, doc_len)
        del tf
        avgdl = int(doc_len.sum()) / n_docs if n_docs else 0.0
        term_best_code = _best_code_per_term(
            pair_codes, term_offsets, _tf_part(pair_tf, pair_dl, k1, b, avgdl)
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
        text = "".join(terms)
        term_chars = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in terms], out=term_chars[1:])
        arrays: dict[str, npt.NDArray[Any]] = {
            "doc_len": self.doc_len.astype(np.int32),
            "term_text": np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8),
            "term_chars": term_chars,
            "term_offsets": self._term_offsets,
            "doc_ids": self._doc_ids,
            "pair_codes": self._pair_codes,
            "pair_tf": self._pair_tf,
            "pair_dl": self._pair_dl,
            "term_best_code": self._term_best_code,
        }
        params = {"k1": self.k1, "b": self.b, "epsilon": self.epsilon}
        _write_arrays(path, params, arrays)

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
        params, arrays = _read_arrays(data, source)
        try:
            text = arrays["term_text"].tobytes().decode("utf-8", "surrogatepass")
            bounds = arrays["term_chars"].tolist()
            terms = {text[a:z]: i for i, (a, z) in enumerate(pairwise(bounds))}
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


# ---- the arithmetic, in rank-bm25's operation order ------------------------------------


def _okapi_idf(df: Ints, n_docs: int, epsilon: float) -> tuple[Floats, float]:
    """Per-term idf with rank-bm25's epsilon floor, and the average raw idf.

    idf depends only on df, so the logs are taken once per distinct df with
    `math.log`, exactly as rank-bm25 does.  rank-bm25 sums the raw idfs one by
    one in first-appearance order, which is our term-id order; `cumsum` adds
    sequentially too, where `sum` would add pairwise and round differently.
    """
    if len(df) == 0:
        return np.zeros(0), 0.0
    distinct = np.flatnonzero(np.bincount(df))
    raw_of_df = np.zeros(int(distinct[-1]) + 1)
    raw_of_df[distinct] = [
        math.log(n_docs - f + 0.5) - math.log(f + 0.5) for f in distinct.tolist()
    ]
    raw = raw_of_df[df]
    average_idf = float(np.cumsum(raw)[-1]) / len(raw)
    return np.where(raw < 0, epsilon * average_idf, raw), average_idf


def _tf_part(pair_tf: Ints, pair_dl: Ints, k1: float, b: float, avgdl: float) -> Floats:
    """rank-bm25's `q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl))`."""
    if len(pair_tf) == 0:
        return np.zeros(0)
    q_freq, doc_len = pair_tf, pair_dl
    part: Floats = q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl))
    return part


def _invert_chunk(
    docs: Sequence[Sequence[str]], first: int, doc_len: Ints, terms: _TermIds
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """(term, doc, tf) of every posting of consecutive documents, term-major, docs ascending."""
    lengths = doc_len[first : first + len(docs)]
    n_tokens = int(lengths.sum())
    # One key per token, term-major then doc: after sorting, a run of equal
    # keys is one posting and its length is the term frequency.
    keys = np.fromiter(
        map(terms.__getitem__, chain.from_iterable(docs)), dtype=np.int64, count=n_tokens
    )
    width = max(len(docs), 1)
    keys *= width
    keys += np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    keys.sort()
    new_run = np.ones(n_tokens, dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    tf = np.diff(starts, append=n_tokens)
    term, doc = np.divmod(keys[starts], width)
    doc += first
    return term.astype(np.int32), doc.astype(np.int32), tf.astype(np.int32)


def _merge_chunks(
    chunks: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32]]],
    n_terms: int,
) -> tuple[Ints, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Lay the chunks' postings out term-major: (term offsets, doc ids, tfs).

    Chunks cover increasing doc ranges, so appending each chunk's postings
    of a term after the previous chunks' keeps doc ids ascending.  Chunks
    are dropped from the list as they are placed, to free their memory.
    """
    counts = [np.bincount(term, minlength=n_terms) for term, _, _ in chunks]
    term_offsets = np.zeros(n_terms + 1, dtype=np.int64)
    for count in counts:
        term_offsets[1:] += count
    np.cumsum(term_offsets, out=term_offsets)
    doc_ids = np.empty(int(term_offsets[-1]), dtype=np.int32)
    tf = np.empty(int(term_offsets[-1]), dtype=np.int32)
    cursor = term_offsets[:-1].copy()
    chunk_start = np.zeros(n_terms + 1, dtype=np.int64)
    while chunks:
        term, doc, freq = chunks.pop(0)
        count = counts.pop(0)
        np.cumsum(count, out=chunk_start[1:])
        at = cursor[term] + (np.arange(len(term)) - chunk_start[term])
        doc_ids[at] = doc
        tf[at] = freq
        cursor += count
    return term_offsets, doc_ids, tf


def _pair_codes(
    tf: npt.NDArray[np.int32], doc_ids: npt.NDArray[np.int32], doc_len: Ints
) -> tuple[npt.NDArray[np.unsignedinteger[Any]], Ints, Ints]:
    """Number the distinct (tf, dl) pairs; return each posting's code and the pair table."""
    if len(tf) == 0:
        return np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64), np.zeros(0, np.int64)
    width = int(doc_len.max()) + 1
    n_keys = (int(tf.max()) + 1) * width
    slices = [slice(s, s + (1 << 22)) for s in range(0, len(tf), 1 << 22)]

    def keys(part: slice) -> Ints:
        key: Ints = tf[part].astype(np.int64) * width + doc_len[doc_ids[part]]
        return key

    if n_keys <= 1 << 24:  # the usual case: a small dense table, no sort, slice by slice
        present = np.zeros(n_keys, dtype=bool)
        for part in slices:
            present[keys(part)] = True
        pairs = np.flatnonzero(present)
        code_type = np.uint16 if len(pairs) <= 1 << 16 else np.uint32
        code_of_key = (np.cumsum(present) - 1).astype(code_type)
        codes: npt.NDArray[np.unsignedinteger[Any]] = np.empty(len(tf), dtype=code_type)
        for part in slices:
            codes[part] = code_of_key[keys(part)]
    else:  # very long documents: sort instead
        all_keys = keys(slice(None))
        order = np.argsort(all_keys)
        sorted_keys = all_keys[order]
        new = np.diff(sorted_keys, prepend=-1) != 0
        pairs = sorted_keys[new]
        code_type = np.uint16 if len(pairs) <= 1 << 16 else np.uint32
        codes = np.empty(len(tf), dtype=code_type)
        codes[order] = np.cumsum(new) - 1
    pair_tf, pair_dl = np.divmod(pairs, width)
    return codes, pair_tf.astype(np.int64), pair_dl.astype(np.int64)


def _best_code_per_term(
    codes: npt.NDArray[np.unsignedinteger[Any]], term_offsets: Ints, tf_part: Floats
) -> Ints:
    """For each term, the code of its posting with the largest tf part (for score bounds)."""
    if len(term_offsets) <= 1:
        return np.zeros(0, dtype=np.int64)
    # Reduce over small integer ranks rather than a float64 copy of every posting.
    by_value = np.argsort(tf_part, kind="stable")
    rank = np.empty(len(tf_part), dtype=codes.dtype)
    rank[by_value] = np.arange(len(tf_part))
    best_rank = np.maximum.reduceat(rank[codes], term_offsets[:-1])
    return by_value[best_rank].astype(np.int64)


def _union_sorted(id_lists: list[npt.NDArray[np.int32]]) -> Ints:
    """Sorted distinct ids of several sorted id arrays (np.unique is slow here)."""
    if len(id_lists) == 1:
        return id_lists[0].astype(np.int64)
    merged: Ints = np.sort(np.concatenate(id_lists)).astype(np.int64)
    distinct: Ints = merged[np.diff(merged, prepend=-1) != 0]
    return distinct


# ---- the file format: magic, header length, JSON header, 64-byte aligned arrays -------


def _write_arrays(
    path: Path, params: dict[str, float], arrays: dict[str, npt.NDArray[Any]]
) -> None:
    arrays = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    specs: dict[str, dict[str, Any]] = {}
    offset = end = 0
    for name, array in arrays.items():
        specs[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        end = offset + array.nbytes
        offset = _aligned(end)
    header = json.dumps(
        {"format": _FORMAT, "version": _FORMAT_VERSION, "params": params, "arrays": specs}
    ).encode()
    prefix = _MAGIC + len(header).to_bytes(8, "little") + header
    data_start = _aligned(len(prefix))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(prefix)
            for name, array in arrays.items():
                out.seek(data_start + specs[name]["offset"])
                array.tofile(out)  # straight from the array's memory, no copy
            out.truncate(data_start + end)  # ends with the last byte of data: cuts show
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_arrays(data: bytes, source: str) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    def corrupt(why: str) -> IndexCacheError:
        return IndexCacheError(f"the search index {source} is {why}; delete it to rebuild")

    if data[: len(_MAGIC)] != _MAGIC:
        raise corrupt("not a reports-bot index (bad magic bytes)")
    start = len(_MAGIC) + 8
    header_len = int.from_bytes(data[len(_MAGIC) : start], "little")
    try:
        header = json.loads(data[start : start + header_len])
        if header["format"] != _FORMAT or header["version"] != _FORMAT_VERSION:
            raise corrupt(f"format {header['format']} v{header['version']}, not v{_FORMAT_VERSION}")
        data_start = _aligned(start + header_len)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, spec in header["arrays"].items():
            if spec["dtype"] not in _DTYPES:
                raise corrupt(f"unreadable (array {name} has dtype {spec['dtype']})")
            shape = spec["shape"]
            if not all(isinstance(n, int) and n >= 0 for n in shape):
                raise corrupt(f"unreadable (array {name} has shape {shape})")
            dtype = np.dtype(spec["dtype"])
            count = math.prod(shape)
            offset = data_start + int(spec["offset"])
            if offset < data_start or offset + count * dtype.itemsize > len(data):
                raise corrupt(f"truncated (array {name} runs past the end)")
            arrays[name] = np.frombuffer(data, dtype, count, offset).reshape(shape)
        return header["params"], arrays
    except (ValueError, KeyError, TypeError) as error:
        raise corrupt(f"unreadable ({error})") from error


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN
