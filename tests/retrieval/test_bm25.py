"""FastBM25 against the reference it must reproduce: rank_bm25.BM25Okapi itself."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from retrieval.bm25 import BACKENDS, FastBM25, build_report_scorer, build_scorer, build_scorers
from retrieval.bm25_compiled import compiled_top_k
from retrieval.bm25_forward import ForwardBM25
from retrieval.bm25_reference import RankBM25Backend
from retrieval.errors import IndexCacheError, UnknownBackendError
from retrieval.scorer import EPSILON


@pytest.fixture(autouse=True, scope="module")
def compiled_kernel() -> None:
    # top_k answers with numpy until the kernel is compiled: test the kernel itself.
    assert compiled_top_k(wait=True) is not None


# A tiny alphabet makes terms recur, so many appear in more than half the
# documents (negative idf, the epsilon floor) and average idf can go negative.
TERMS = ["a", "b", "c", "d", "e", "f", "g"]
UNKNOWN = ["zz", "unknown"]

documents = st.lists(st.sampled_from(TERMS), min_size=0, max_size=15)
corpora = st.lists(documents, min_size=1, max_size=12)
queries = st.lists(st.sampled_from(TERMS + UNKNOWN), min_size=0, max_size=8)


def reference_scores(corpus: list[list[str]], query: list[str]) -> np.ndarray:
    return np.asarray(BM25Okapi(corpus).get_scores(query), dtype=np.float64)


@settings(max_examples=500, deadline=None)
@given(corpus=corpora, query=queries, k=st.integers(min_value=1, max_value=14))
def test_scores_and_top_k_match_rank_bm25(
    corpus: list[list[str]], query: list[str], k: int
) -> None:
    # rank-bm25 itself raises ZeroDivisionError when no document has a token
    # (average idf over an empty vocabulary); FastBM25's answer for that case
    # is tested separately below.
    assume(any(corpus))
    fast = FastBM25.build(corpus)
    expected = reference_scores(corpus, query)

    scores = fast.get_scores(query)
    assert scores.dtype == np.float64 and scores.shape == (len(corpus),)
    assert np.max(np.abs(scores - expected)) <= 1e-9
    # The module promises more than the tolerance: the very same floats.
    assert np.array_equal(scores, expected)

    reference = RankBM25Backend.build(corpus)
    want_ids, want_scores = reference.top_k(query, k)
    # The default; no prefill, document at a time only; a little prefill, always term
    # at a time: the kernel's paths, which must all give rank-bm25's answer.
    for prefill, daat_cost in ((1024, 20.0), (0, 0.0), (2, math.inf)):
        ids, top = fast.top_k(query, k, prefill=prefill, daat_cost=daat_cost)
        assert ids.dtype == np.int64 and top.dtype == np.float64
        assert ids.tolist() == want_ids.tolist()
        assert top.tolist() == want_scores.tolist()


@settings(max_examples=100, deadline=None)
@given(corpus=corpora, query=queries, k=st.integers(min_value=1, max_value=14))
def test_reference_top_k_is_the_sorted_prefix_of_matching_documents(
    corpus: list[list[str]], query: list[str], k: int
) -> None:
    assume(any(corpus))
    expected = reference_scores(corpus, query)
    # Every document holding a query term is a candidate, even when a tiny
    # corpus gives it a score <= 0; the rest never are.
    matching = [i for i, doc in enumerate(corpus) if set(doc) & set(query)]
    ranked = sorted((-float(expected[i]), i) for i in matching)[:k]
    ids, scores = RankBM25Backend.build(corpus).top_k(query, k)
    assert ids.tolist() == [i for _, i in ranked]
    assert scores.tolist() == [-s for s, _ in ranked]


def test_pruned_top_k_matches_reference_on_a_zipfian_corpus() -> None:
    # Big enough for the pruning to skip most postings, unlike the tiny corpora above.
    rng = np.random.default_rng(7)
    vocabulary = [f"t{i}" for i in range(3000)]
    weights = 1.0 / np.arange(1, len(vocabulary) + 1) ** 1.1
    weights /= weights.sum()
    lengths = rng.integers(5, 40, size=1500)
    corpus = [list(rng.choice(vocabulary, size=n, p=weights)) for n in lengths]
    fast = FastBM25.build(corpus, chunk_docs=97)
    reference = RankBM25Backend.build(corpus)
    for _ in range(40):
        query = list(rng.choice(vocabulary[:50], size=2)) + list(rng.choice(vocabulary, size=3))
        for k in (1, 10, 100):
            ids, scores = fast.top_k(query, k)
            want_ids, want_scores = reference.top_k(query, k)
            assert ids.tolist() == want_ids.tolist()
            assert scores.tolist() == want_scores.tolist()


def test_terms_in_most_documents_get_the_epsilon_floor() -> None:
    corpus = [["common", "x"], ["common", "y"], ["common"], ["z"]]
    raw = {
        term: math.log(4 - n + 0.5) - math.log(n + 0.5)
        for term, n in {"common": 3, "x": 1, "y": 1, "z": 1}.items()
    }
    floor = EPSILON * (sum(raw.values()) / len(raw))
    fast = FastBM25.build(corpus)
    assert raw["common"] < 0
    assert fast.term_idf("common") == pytest.approx(floor, abs=1e-12)
    assert fast.term_idf("x") == pytest.approx(raw["x"], abs=1e-12)
    assert np.array_equal(fast.get_scores(["common"]), reference_scores(corpus, ["common"]))


def test_duplicate_query_terms_count_each_time() -> None:
    corpus = [["storm", "coast"], ["storm"], ["coast", "rain", "rain"]]
    fast = FastBM25.build(corpus)
    once, twice = fast.get_scores(["rain"]), fast.get_scores(["rain", "rain"])
    assert twice[2] == pytest.approx(2 * once[2]) and once[2] > 0
    assert np.array_equal(twice, reference_scores(corpus, ["rain", "rain"]))


def test_unknown_terms_add_nothing() -> None:
    corpus = [["storm", "coast"], ["storm"], ["coast", "rain"]]
    fast = FastBM25.build(corpus)
    assert not fast.get_scores(["hurricane"]).any()
    assert np.array_equal(fast.get_scores(["hurricane", "rain"]), fast.get_scores(["rain"]))
    assert fast.term_idf("hurricane") == 0.0
    assert fast.top_k(["hurricane"], 3)[0].size == 0


def test_ties_break_by_document_index_in_both_backends() -> None:
    # Documents 0, 1 and 3 score the same for "x"; the two lowest indices win.
    corpus = [["x", "y"], ["y", "x"], ["z", "w"], ["x", "w"], ["u"], ["v"], ["s"]]
    for backend in BACKENDS:
        ids, scores = build_scorer(backend, corpus).top_k(["x"], 2)
        assert ids.tolist() == [0, 1]
        assert scores[0] == scores[1] > 0


def test_corpora_without_tokens_score_zero() -> None:
    empty_corpora: list[list[list[str]]] = [[], [[]], [[], []]]
    for corpus in empty_corpora:
        for backend in BACKENDS:
            scorer = build_scorer(backend, corpus)
            assert scorer.n_docs == len(corpus)
            assert scorer.get_scores(["a"]).tolist() == [0.0] * len(corpus)
            assert scorer.top_k(["a"], 5)[0].size == 0


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(UnknownBackendError, match=r"fast.*rank-bm25"):
        build_scorer("lucene", [["a"]])


def test_scorers_built_side_by_side_are_those_built_one_by_one() -> None:
    passages = [["storm", "coast"], ["rain"], [], ["storm", "storm", "flood"]]
    reports = [["storm", "coast", "rain"], ["flood", "storm"]]
    passage_index, report_index = build_scorers("fast", passages, reports)
    assert isinstance(passage_index, FastBM25) and isinstance(report_index, ForwardBM25)
    for scorer, corpus in ((passage_index, passages), (report_index, reports)):
        alone = build_scorer("fast", corpus)
        assert scorer.vocabulary() == alone.vocabulary()
        for query in (["storm"], ["coast", "flood", "rain"], ["missing"]):
            assert scorer.get_scores(query).tolist() == alone.get_scores(query).tolist()
    reference = build_report_scorer("rank-bm25", reports)
    assert build_scorers("rank-bm25", passages, reports)[1].get_scores(["storm"]).tolist() == (
        reference.get_scores(["storm"]).tolist()
    )


def test_a_side_by_side_build_that_fails_raises_here() -> None:
    with pytest.raises(UnknownBackendError):
        build_scorers("lucene", [["a"]], [["b"]])


def test_save_and_load_give_identical_scores(tmp_path: Path) -> None:
    corpus = [["été", "über", "storm"], ["storm", "coast", "coast"], [], ["rain", "été"]]
    fast = FastBM25.build(corpus)
    path = tmp_path / "index.bm25"
    fast.save(path)
    loaded = FastBM25.load(path)
    assert loaded.n_docs == fast.n_docs and loaded.avgdl == fast.avgdl
    assert np.array_equal(loaded.doc_len, fast.doc_len)
    for query in (["storm"], ["été", "coast", "coast"], ["nothing"], []):
        assert np.array_equal(loaded.get_scores(query), fast.get_scores(query))
        assert loaded.top_k(query, 3)[0].tolist() == fast.top_k(query, 3)[0].tolist()
        assert [loaded.term_idf(t) for t in query] == [fast.term_idf(t) for t in query]
    assert np.array_equal(loaded.forward.token_ids, fast.forward.token_ids)
    assert [p.name for p in tmp_path.iterdir()] == ["index.bm25"]  # no temporary left


def test_save_replaces_an_existing_index(tmp_path: Path) -> None:
    path = tmp_path / "index.bm25"
    FastBM25.build([["old"]]).save(path)
    FastBM25.build([["new"], ["new", "words"]]).save(path)
    assert FastBM25.load(path).n_docs == 2


def test_damaged_files_raise_index_cache_error(tmp_path: Path) -> None:
    path = tmp_path / "index.bm25"
    FastBM25.build([["storm", "coast"], ["rain"]]).save(path)
    data = path.read_bytes()
    damaged = {
        "empty": b"",
        "not an index": b"hello world" * 20,
        "truncated": data[:-1],
        "header cut": data[:30],
        "other version": data.replace(b'"version": 3', b'"version": 9'),
        "version 1 (no block bounds)": data.replace(b'"version": 3', b'"version": 1'),
        "version 2 (no forward index)": data.replace(b'"version": 3', b'"version": 2'),
        "blocks of no postings": data.replace(b'"block": 64', b'"block": 0'),
    }
    for what, content in damaged.items():
        path.write_bytes(content)
        with pytest.raises(IndexCacheError, match="rebuild"):
            FastBM25.load(path)
            pytest.fail(f"{what} was loaded")
    with pytest.raises(IndexCacheError, match="rebuild"):
        FastBM25.load(tmp_path / "missing.bm25")


def test_the_forward_index_holds_each_documents_tokens_in_order() -> None:
    docs = [["storm", "coast", "storm"], [], ["rain", "coast"], ["été"]]
    forward = FastBM25.build(docs, chunk_docs=2).forward
    names = {term_id: term for term, term_id in forward.terms.items()}
    starts = forward.starts.tolist()
    assert starts == [0, 3, 3, 5, 6]
    for doc, (start, end) in zip(docs, itertools.pairwise(starts), strict=True):
        assert [names[i] for i in forward.token_ids[start:end].tolist()] == doc
