"""FastBM25.top_k's pruning (retrieval.bm25_kernel) against exhaustive scoring.

The pruned top k must be exactly the exhaustive one: the same documents in the same
order and the very same floats, whichever way the kernel is steered (prefill or not,
document or term at a time, blocks of 1 posting or 64).  The corpora are made to trip
it: tiny vocabularies (terms in most documents, idfs <= 0), duplicate documents (ties
everywhere, across blocks and windows), repeated query terms, k of 1 and k beyond the
matches, one-document corpora.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from retrieval import bm25_kernel
from retrieval.bm25 import FastBM25
from retrieval.bm25_compiled import compiled_top_k
from retrieval.scorer import best_of


@pytest.fixture(autouse=True, scope="module")
def compiled_kernel() -> None:
    # top_k answers with numpy until the kernel is compiled: these tests are the kernel's.
    assert compiled_top_k(wait=True) is not None


# (prefill, daat_cost): the default; document at a time only, with and without a
# little prefill; term at a time whenever pruning, with and without; a little prefill
# and the default choice between the two.
STEERING = ((1024, 20.0), (0, 0.0), (3, 0.0), (0, math.inf), (3, math.inf), (5, 20.0))

TERMS = ["a", "b", "c", "d", "e"]
documents = st.lists(st.sampled_from(TERMS), max_size=9)
queries = st.lists(st.sampled_from([*TERMS, "unknown"]), min_size=1, max_size=7)


def exhaustive(
    fast: FastBM25, corpus: list[list[str]], query: list[str], k: int
) -> tuple[list[int], list[float]]:
    """The top k cut from every document's score, as the Scorer protocol defines it."""
    scores = fast.get_scores(query)
    if all(fast.term_idf(t) > 0 for t in query if t in fast.vocabulary()):
        ids, top = best_of(np.arange(len(corpus), dtype=np.int64), scores, k)
    else:  # every document holding a query term, whatever its score
        holding = [i for i, doc in enumerate(corpus) if set(doc) & set(query)]
        chosen = np.array(holding, dtype=np.int64)
        ids, top = best_of(chosen, scores[chosen], k, positive_only=False)
    return ids.tolist(), top.tolist()


def assert_pruned_is_exhaustive(
    fast: FastBM25, corpus: list[list[str]], query: list[str], k: int
) -> None:
    want = exhaustive(fast, corpus, query, k)
    # What top_k answers while the kernel is still being compiled.
    if fast._known(query):
        ids, top = fast._exhaustive_top_k(fast._known(query), k)
        assert (ids.tolist(), top.tolist()) == want
    for prefill, daat_cost in STEERING:
        ids, top = fast.top_k(query, k, prefill=prefill, daat_cost=daat_cost)
        assert (ids.tolist(), top.tolist()) == want, (prefill, daat_cost)


@settings(max_examples=400, deadline=None)
@given(
    base=st.lists(documents, min_size=1, max_size=8),
    copies=st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=70),
    query=queries,
    k=st.integers(min_value=1, max_value=80),
    block=st.sampled_from([1, 2, 3, 64]),
)
def test_pruned_top_k_is_the_exhaustive_one_on_corpora_full_of_ties(
    base: list[list[str]], copies: list[int], query: list[str], k: int, block: int
) -> None:
    # Few distinct documents, each repeated here and there: many exact ties.
    corpus = [base[i % len(base)] for i in copies]
    assume(any(corpus))
    assert_pruned_is_exhaustive(FastBM25.build(corpus, block=block), corpus, query, k)


@settings(max_examples=100, deadline=None)
@given(corpus=st.lists(documents, min_size=1, max_size=40), query=queries)
def test_pruned_top_k_matches_rank_bm25_itself(corpus: list[list[str]], query: list[str]) -> None:
    assume(any(corpus))
    expected = np.asarray(BM25Okapi(corpus).get_scores(query), dtype=np.float64)
    fast = FastBM25.build(corpus, block=2)
    for prefill, daat_cost in STEERING:
        ids, top = fast.top_k(query, 3, prefill=prefill, daat_cost=daat_cost)
        assert top.tolist() == expected[ids].tolist()


def test_a_tie_met_out_of_order_is_kept() -> None:
    # r, s and a are in two documents each, so every occurrence adds the same float.
    # Prefilled (r, the rarest first by id), document 5 scores r + a and takes the one
    # place; document 1 scores s + a, the same to the last bit, and is met later.  Its
    # bound is exactly its score, so only bounds never below the truth and a strict
    # comparison let it in, as the lower id wins the tie.
    corpus = [["r", "z1"], ["s", "a"], ["y1"], ["y2"], ["y3"], ["r", "a"], ["s", "z2"], ["y4"]]
    fast = FastBM25.build(corpus, block=1)
    query = ["r", "s", "a"]
    want = exhaustive(fast, corpus, query, 1)
    assert want[0] == [1] and fast.get_scores(query)[5] == want[1][0]
    for daat_cost in (0.0, 20.0, math.inf):
        ids, top = fast.top_k(query, 1, prefill=2, daat_cost=daat_cost)
        assert (ids.tolist(), top.tolist()) == want


def test_one_document_corpora() -> None:
    corpora: list[list[list[str]]] = [[["a"]], [["a", "a", "b"]], [[]]]
    for corpus in corpora:
        fast = FastBM25.build(corpus)
        for query in (["a"], ["a", "a"], ["b", "a"], ["zz"]):
            for k in (1, 2):
                assert_pruned_is_exhaustive(fast, corpus, query, k)


def test_many_windows_of_duplicate_documents() -> None:
    # Far more documents than one window of term-at-a-time scoring holds, and few of
    # them distinct: the k-th score ties with thousands, across blocks and windows.
    rng = np.random.default_rng(3)
    distinct = [[str(t) for t in rng.integers(0, 40, size=rng.integers(1, 12))] for _ in range(60)]
    distinct += [["0", "1"], ["0"], ["1", "1", "0"]]
    corpus = [distinct[i] for i in rng.integers(0, len(distinct), size=9000)]
    corpus[8999] = ["rare", "0"]  # a prefilled document with the highest id
    corpus[17] = ["rare"]
    fast = FastBM25.build(corpus, block=16)
    for query in (["0"], ["0", "1"], ["1", "0", "0"], ["rare", "0"], ["rare", "5", "6", "0"]):
        for k in (1, 10, 100, 3000):
            assert_pruned_is_exhaustive(fast, corpus, query, k)


def test_a_term_in_every_document() -> None:
    rng = np.random.default_rng(5)
    corpus = [["all", *(str(t) for t in rng.integers(0, 300, size=20))] for _ in range(5000)]
    fast = FastBM25.build(corpus)
    for query in (["all"], ["all", "all", "7"], ["7", "all", "8", "9"], ["all", "nothing"]):
        for k in (1, 10, 6000):
            assert_pruned_is_exhaustive(fast, corpus, query, k)


def test_wide_pair_codes_take_the_same_path() -> None:
    # Indexes with more than 65,536 (tf, length) pairs store 4-byte codes; the kernel
    # has a version for those (warm_up compiles both), given the same codes widened here.
    rng = np.random.default_rng(8)
    corpus = [[str(t) for t in rng.integers(0, 30, size=rng.integers(1, 40))] for _ in range(800)]
    fast = FastBM25.build(corpus, block=4)
    postings, offsets = fast._kernel_arrays
    wide = postings._replace(
        pair_codes=postings.pair_codes.astype(np.uint32),
        block_best=postings.block_best.astype(np.uint32),
    )
    query_ids = np.array([fast._terms[t] for t in ("3", "4", "4", "29")], dtype=np.int64)
    for k in (1, 10, 500):
        want = fast.top_k(["3", "4", "4", "29"], k)
        got = bm25_kernel.top_k(wide, offsets, query_ids, k, fast.n_docs, 0, 20.0)
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_nothing_to_rank() -> None:
    fast = FastBM25.build([["a", "b"], ["b"]])
    assert fast.top_k(["a"], 0)[0].size == 0
    assert fast.top_k([], 5)[0].size == 0
    assert fast.top_k(["zz", "yy"], 5)[0].size == 0


def test_warm_up_compiles_what_built_and_loaded_indexes_use(tmp_path: Path) -> None:
    bm25_kernel.warm_up()
    compiled = len(bm25_kernel.top_k.signatures)  # type: ignore[attr-defined]
    corpus = [["a", "b"], ["b", "c"], ["c"], ["d", "e"], ["e"], ["f"]]
    built = FastBM25.build(corpus)
    built.save(tmp_path / "index.bm25")
    loaded = FastBM25.load(tmp_path / "index.bm25")  # its arrays are views of the file's bytes
    for fast in (built, loaded):
        for query in (["c", "a"], ["e", "e", "b"]):
            assert_pruned_is_exhaustive(fast, corpus, query, 2)
    # Nothing was compiled on the way: a question never waits for numba after warm_up.
    assert len(bm25_kernel.top_k.signatures) == compiled  # type: ignore[attr-defined]


def test_importing_the_scorer_does_not_import_numba() -> None:
    # numba takes about half a second to import; only the first top-k should pay it.
    code = "import sys, retrieval.bm25, retrieval.search; assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
