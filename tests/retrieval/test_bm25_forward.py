"""ForwardBM25, the report-level index without posting lists: the very floats of
FastBM25 and rank-bm25, for any documents asked about, and a file of its own kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from retrieval.bm25 import FastBM25
from retrieval.bm25_forward import ForwardBM25
from retrieval.bm25_reference import RankBM25Backend
from retrieval.errors import IndexCacheError
from retrieval.forward_tokens import ForwardTokens

# A tiny alphabet makes terms recur: negative idf, the epsilon floor, and ties.
TERMS = ["a", "b", "c", "d", "e", "f", "g"]
UNKNOWN = ["zz", "unknown"]

documents = st.lists(st.sampled_from(TERMS), min_size=0, max_size=15)
corpora = st.lists(documents, min_size=1, max_size=12)
queries = st.lists(st.sampled_from(TERMS + UNKNOWN), min_size=0, max_size=8)


@settings(max_examples=400, deadline=None)
@given(corpus=corpora, query=queries, data=st.data())
def test_scores_of_some_documents_are_rank_bm25s_and_fastbm25s_exactly(
    corpus: list[list[str]], query: list[str], data: st.DataObject
) -> None:
    assume(any(corpus))  # rank-bm25 itself divides by zero otherwise
    forward, fast = ForwardBM25.build(corpus), FastBM25.build(corpus)
    expected = np.asarray(BM25Okapi(corpus).get_scores(query), dtype=np.float64)
    assert fast.get_scores(query).tolist() == expected.tolist()
    assert forward.get_scores(query).tolist() == expected.tolist()
    # Any documents, repeated and in any order, as a question's candidates' reports are.
    ids = data.draw(st.lists(st.integers(0, len(corpus) - 1), max_size=20))
    assert forward.scores_of(query, ids).tolist() == expected[ids].tolist()
    assert forward.average_idf == fast.average_idf
    for term in TERMS + UNKNOWN:
        assert forward.term_idf(term) == fast.term_idf(term)
    assert set(forward.vocabulary()) == set(fast.vocabulary())


@settings(max_examples=200, deadline=None)
@given(corpus=corpora, query=queries, k=st.integers(min_value=1, max_value=14))
def test_top_k_is_the_references_even_where_idf_is_not_positive(
    corpus: list[list[str]], query: list[str], k: int
) -> None:
    assume(any(corpus))
    ids, scores = ForwardBM25.build(corpus).top_k(query, k)
    want_ids, want_scores = RankBM25Backend.build(corpus).top_k(query, k)
    assert ids.tolist() == want_ids.tolist() and scores.tolist() == want_scores.tolist()


def test_a_corpus_larger_than_one_scoring_step_scores_every_document() -> None:
    rng = np.random.default_rng(7)
    vocabulary = [f"t{i}" for i in range(300)]
    weights = 1.0 / np.arange(1, 301)
    weights /= weights.sum()
    corpus = [
        list(rng.choice(vocabulary, size=rng.integers(0, 30), p=weights)) for _ in range(70_000)
    ]
    forward, fast = ForwardBM25.build(corpus, chunk_docs=5_000), FastBM25.build(corpus)
    query = ["t0", "t3", "t3", "t150", "missing"]
    assert forward.get_scores(query).tolist() == fast.get_scores(query).tolist()
    asked = rng.integers(0, len(corpus), size=500)
    assert forward.scores_of(query, asked).tolist() == fast.get_scores(query)[asked].tolist()


def test_built_from_a_forward_index_it_is_the_one_built_from_strings() -> None:
    corpus = [["storm", "coast", "storm"], ["rain"], [], ["flood", "été", "storm"]]
    first = ForwardBM25.build(corpus)
    # A reload hands the unchanged documents over as views of the old index's term ids.
    again = ForwardBM25.build(ForwardTokens.whole(first.forward))
    assert list(again.vocabulary()) == list(first.vocabulary())
    for query in (["storm"], ["été", "rain", "storm"]):
        assert again.get_scores(query).tolist() == first.get_scores(query).tolist()


def test_asking_for_a_document_it_does_not_hold_raises() -> None:
    index = ForwardBM25.build([["storm"], ["rain"]])
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        index.scores_of(["storm"], [2])
    assert index.scores_of(["storm"], []).tolist() == []
    assert index.scores_of([], [0, 1]).tolist() == [0.0, 0.0]


def test_an_empty_corpus_scores_nothing() -> None:
    empty: list[list[list[str]]] = [[], [[], []]]
    for corpus in empty:
        index = ForwardBM25.build(corpus)
        assert index.get_scores(["a"]).tolist() == [0.0] * len(corpus)
        assert index.top_k(["a"], 3)[0].size == 0


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    corpus = [["été", "über", "storm"], ["storm", "coast", "coast"], [], ["rain", "été"]]
    index = ForwardBM25.build(corpus)
    index.save(tmp_path / "reports.idx")
    loaded = ForwardBM25.from_bytes((tmp_path / "reports.idx").read_bytes())
    for query in (["storm"], ["été", "coast"], ["rain", "rain", "missing"]):
        assert loaded.get_scores(query).tolist() == index.get_scores(query).tolist()
        assert loaded.scores_of(query, [3, 0]).tolist() == index.scores_of(query, [3, 0]).tolist()


def test_a_passage_index_file_is_not_read_as_one(tmp_path: Path) -> None:
    FastBM25.build([["storm"], ["rain"]]).save(tmp_path / "bm25.idx")
    with pytest.raises(IndexCacheError, match="reports-bot/bm25 v3, not reports-bot/bm25-forward"):
        ForwardBM25.from_bytes((tmp_path / "bm25.idx").read_bytes(), "bm25.idx")


def test_damaged_frequencies_are_refused_at_load(tmp_path: Path) -> None:
    index = ForwardBM25.build([["storm", "coast"], ["storm"]])
    index.save(tmp_path / "reports.idx")
    data = bytearray((tmp_path / "reports.idx").read_bytes())
    at = bytes(data).rindex(np.array([2, 1], dtype="<i8").tobytes())  # df of storm, coast
    data[at : at + 8] = np.array([5], dtype="<i8").tobytes()  # more documents than it holds
    with pytest.raises(IndexCacheError, match="bad frequency"):
        ForwardBM25.from_bytes(bytes(data), "reports.idx")
