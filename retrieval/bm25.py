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

`top_k` runs a compiled kernel (`retrieval.bm25_kernel`, numba) that skips
documents whose score bounds cannot reach the k-th best, but computes every
score it keeps the same way, so its top k is exactly the one cut from
`get_scores`, the dense reference path.

Edge cases rank-bm25 crashes on (ZeroDivisionError) get a defined answer in
both backends here: an empty corpus, or one whose documents are all empty,
scores every query 0 for every document.

Building the posting lists (and the bounds) is `retrieval.bm25_build`; the
saved index's file format, `retrieval.bm25_file`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from retrieval.bm25_build import (
    BLOCK,
    Forward,
    best_codes,
    block_offsets_of,
    invert_chunks,
    merge_chunks,
    number_pairs,
    okapi_idf,
    okapi_tf_part,
)
from retrieval.bm25_compiled import compiled_top_k
from retrieval.bm25_file import read_arrays, term_arrays, terms_of, write_arrays
from retrieval.bm25_forward import ForwardBM25
from retrieval.bm25_reference import RankBM25Backend
from retrieval.errors import IndexCacheError, UnknownBackendError
from retrieval.forward_tokens import numbered_tokens
from retrieval.scorer import EPSILON, K1, B, Floats, Ints, Scorer, best_of

if TYPE_CHECKING:
    from retrieval.bm25_kernel import Postings


BACKENDS: Final[tuple[str, ...]] = ("fast", "rank-bm25")

# top_k's kernel settings: how many postings of the rarest terms to score first (for
# an early k-th score), and the rough cost in ns of one essential posting document at a
# time, which picks that or term at a time; measured in benchmarks/bench_search.py.
PREFILL: Final = 1024
DAAT_COST: Final = 20.0


def build_scorer(backend: str, corpus: Sequence[Sequence[str]]) -> Scorer:
    """Build the named backend over tokenized documents."""
    if backend == "fast":
        return FastBM25.build(corpus)
    if backend == "rank-bm25":
        return RankBM25Backend.build(corpus)
    valid = ", ".join(BACKENDS)
    raise UnknownBackendError(f"unknown scoring backend {backend!r}: use one of {valid}")


def build_report_scorer(backend: str, corpus: Sequence[Sequence[str]]) -> Scorer:
    """The report-level index of the named backend: stage two asks it only for the
    scores of its candidates' reports, which `ForwardBM25` gives without posting lists."""
    return ForwardBM25.build(corpus) if backend == "fast" else build_scorer(backend, corpus)


def build_scorers(
    backend: str, passages: Sequence[Sequence[str]], reports: Sequence[Sequence[str]]
) -> tuple[Scorer, Scorer]:
    """The passage index (`build_scorer`) and the report index (`build_report_scorer`),
    this one meanwhile in a thread: numpy's sorts, much of a build, let go of the GIL."""
    if backend not in BACKENDS:
        build_scorer(backend, ())  # raises, naming the backends
    with ThreadPoolExecutor(1, thread_name_prefix="bm25-build") as pool:
        other = pool.submit(build_report_scorer, backend, reports)
        first = build_scorer(backend, passages)
        return first, other.result()


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
        block_best_code: npt.NDArray[np.unsignedinteger[Any]],
        block: int,
        token_ids: npt.NDArray[np.int32],
    ) -> None:
        # Stored state: the postings of term t are doc_ids and pair_codes over
        # [term_offsets[t], term_offsets[t+1]), doc ids ascending; pair code c
        # stands for (pair_tf[c], pair_dl[c]); the best code of each term, and of
        # each block of `block` postings of a term, bound scores in top_k.
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
        self._block_best_code = block_best_code
        self._block = block
        # Each document's tokens as term ids, in order: stage two's forward index.
        self._token_ids = token_ids
        # Derived state, recomputed rather than stored so it always matches k1, b, epsilon.
        n_tokens = int(doc_len.sum())
        self.avgdl = n_tokens / self.n_docs if self.n_docs else 0.0
        self._tf_part = okapi_tf_part(pair_tf, pair_dl, k1, b, self.avgdl)
        self._idf, self.average_idf = okapi_idf(np.diff(term_offsets), self.n_docs, epsilon)
        self._block_offsets = block_offsets_of(term_offsets, block)
        self._token_starts = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(doc_len, out=self._token_starts[1:])
        derived = (self._tf_part, self._idf, self._block_offsets, self._token_starts)
        for array in (*derived, *self._stored()):
            # Immutable, so safe to share between threads; and the compiled top-k
            # is built for read-only arrays, which is what a loaded index holds.
            array.flags.writeable = False

    def _stored(self) -> tuple[npt.NDArray[Any], ...]:
        return (
            self.doc_len,
            self._term_offsets,
            self._doc_ids,
            self._pair_codes,
            self._pair_tf,
            self._pair_dl,
            self._term_best_code,
            self._block_best_code,
            self._token_ids,
        )

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
        block: int = BLOCK,
    ) -> FastBM25:
        """Index tokenized documents.

        Documents are inverted `chunk_docs` at a time, which caps the
        temporary memory of the sorts; the chunks are then laid out term-major.
        Each `block` postings of a term keep their best pair code, for top_k's bounds.
        """
        n_docs = len(corpus)
        if n_docs >= 2**31:
            raise ValueError("FastBM25 indexes at most 2**31 - 1 documents; split the corpus")
        terms, token_ids, doc_len = numbered_tokens(corpus)
        chunks = invert_chunks(token_ids, doc_len, max(chunk_docs, 1))
        term_offsets, doc_ids, tf = merge_chunks(chunks, len(terms))
        pair_codes, pair_tf, pair_dl = number_pairs(tf, doc_ids, doc_len)
        del tf
        avgdl = int(doc_len.sum()) / n_docs if n_docs else 0.0
        tf_part = okapi_tf_part(pair_tf, pair_dl, k1, b, avgdl)
        block = _positive_int(block)
        term_best_code, block_best_code = best_codes(pair_codes, term_offsets, tf_part, block)
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
            block_best_code=block_best_code,
            block=block,
            token_ids=token_ids,
        )

    # ---- scoring ------------------------------------------------------------------

    @property
    def n_terms(self) -> int:
        return len(self._terms)

    @property
    def nbytes(self) -> int:
        """Memory held by the index: its arrays plus the term dictionary and its strings."""
        arrays = (*self._stored(), self._tf_part, self._idf, self._block_offsets)
        entries = sum(sys.getsizeof(t) + sys.getsizeof(i) for t, i in self._terms.items())
        return sum(a.nbytes for a in arrays) + sys.getsizeof(self._terms) + entries

    def term_idf(self, term: str) -> float:
        term_id = self._terms.get(term)
        return 0.0 if term_id is None else float(self._idf[term_id])

    def vocabulary(self) -> Collection[str]:
        return self._terms.keys()

    @functools.cached_property
    def forward(self) -> Forward:
        """Each document's tokens as term ids, for stage two (`retrieval.rerank_compiled`)."""
        return Forward(self._terms, self._token_ids, self._token_starts)

    def get_scores(self, query: Sequence[str]) -> Floats:
        return self._dense_scores(self._known(query))

    def top_k(
        self, query: Sequence[str], k: int, *, prefill: int = PREFILL, daat_cost: float = DAAT_COST
    ) -> tuple[Ints, Floats]:
        """Top-k with exact scores, found by a compiled kernel that skips documents
        whose score bounds cannot reach the k-th best (`retrieval.bm25_kernel`).

        The answer is `best_of` over `get_scores`: documents holding a query term,
        by score then index, only positive scores unless some term's idf is <= 0.
        `prefill` (postings scored first, for an early threshold) and `daat_cost`
        (0 scores document at a time only) change the speed, never the answer.
        """
        occurrences = self._known(query)
        if k <= 0 or not occurrences:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        top_k = compiled_top_k()
        if top_k is None:  # numba still compiling in the background: exact, only slower
            return self._exhaustive_top_k(occurrences, k)
        query_ids = np.array(occurrences, dtype=np.int64)
        postings, offsets = self._kernel_arrays
        # Plain int and float: other types (numpy's) would compile another version.
        settings = (int(k), self.n_docs, int(prefill), float(daat_cost))
        return top_k(postings, offsets, query_ids, *settings)

    def _exhaustive_top_k(self, occurrences: list[int], k: int) -> tuple[Ints, Floats]:
        """The kernel's answer the slow way: every document scored, then cut."""
        scores = self._dense_scores(occurrences)
        if all(self._idf[t] > 0 for t in occurrences):
            return best_of(np.arange(self.n_docs, dtype=np.int64), scores, k)
        # Scores may be <= 0: every document holding a query term counts, whatever its score.
        offsets = self._term_offsets
        holding = np.unique(
            np.concatenate([self._doc_ids[offsets[t] : offsets[t + 1]] for t in occurrences])
        ).astype(np.int64)
        return best_of(holding, scores[holding], k, positive_only=False)

    @functools.cached_property
    def _kernel_arrays(self) -> tuple[Postings, tuple[Ints, Floats, Ints, Ints]]:
        from retrieval.bm25_kernel import Postings

        codes, best = self._pair_codes, self._block_best_code
        postings = Postings(self._doc_ids, codes, self._tf_part, best, self._block)
        offsets = (self._term_offsets, self._idf, self._term_best_code, self._block_offsets)
        return postings, offsets

    def _known(self, query: Sequence[str]) -> list[int]:
        # Unknown terms add exactly 0.0 in rank-bm25, so dropping them changes no score.
        get = self._terms.get
        return [t for t in map(get, query) if t is not None]

    def _dense_scores(self, occurrences: list[int]) -> Floats:
        """Every document's score, adding each occurrence's contributions in query order."""
        scores = np.zeros(self.n_docs)
        offsets = self._term_offsets
        for term_id in occurrences:
            start, end = offsets[term_id], offsets[term_id + 1]
            # The same product as rank-bm25's `idf * tf_part`, once per distinct pair.
            per_code = self._idf[term_id] * self._tf_part
            # add.at adds in place, scores[i] + c exactly as `scores += ...` would.
            np.add.at(scores, self._doc_ids[start:end], per_code[self._pair_codes[start:end]])
        return scores

    # ---- persistence --------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index to `path` atomically (temporary file in the same folder, then rename)."""
        arrays: dict[str, npt.NDArray[Any]] = {
            "doc_len": self.doc_len.astype(np.int32),
            **term_arrays(self._terms),
            "term_offsets": self._term_offsets,
            "doc_ids": self._doc_ids,
            "pair_codes": self._pair_codes,
            "pair_tf": self._pair_tf,
            "pair_dl": self._pair_dl,
            "term_best_code": self._term_best_code,
            "block_best_code": self._block_best_code,
            "token_ids": self._token_ids,
        }
        params = {"k1": self.k1, "b": self.b, "epsilon": self.epsilon, "block": self._block}
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
    def from_bytes(cls, data: bytes | memoryview, source: str = "<bytes>") -> FastBM25:
        """Parse the bytes of a saved index (arrays are read-only views into `data`)."""
        params, arrays = read_arrays(data, source)
        try:
            terms, n_terms_stored = terms_of(arrays)
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
                block_best_code=arrays["block_best_code"],
                block=_positive_int(params["block"]),
                token_ids=arrays["token_ids"],
            )
            index._check_consistent(n_terms_stored)
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
            (len(self._block_best_code) != self._block_offsets[-1], "blocks do not match"),
            (self._block_best_code.dtype != self._pair_codes.dtype, "block codes' type differs"),
            (bool(np.any(self._block_best_code >= max(len(self._pair_tf), 1))), "bad block"),
            (bool(np.any(self.doc_len < 0)), "negative document length"),
            (len(self._token_ids) != self._token_starts[-1], "tokens do not match lengths"),
            (self._token_ids.dtype != np.int32, "token ids are not int32"),
            (len(self._token_ids) > 0 and int(self._token_ids.min()) < 0, "negative token id"),
            (len(self._token_ids) > 0 and self._token_ids.max() >= n_terms_stored, "bad token"),
        ]
        for failed, what in problems:
            if failed:
                raise ValueError(what)


def _positive_int(value: object) -> int:
    if not isinstance(value, int | float) or value != int(value) or value < 1:
        raise ValueError(f"block size {value!r}: it must be a whole number of postings, 1 or more")
    return int(value)
