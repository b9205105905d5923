"""int8 vectors (retrieval.vector_quant): how far their cosines are from exact ones, and
the rows a snapshot reads for a few texts."""

from __future__ import annotations

import itertools

import numpy as np

from retrieval.search import SearchEngine
from retrieval.semantic import Embedder
from retrieval.vector_quant import Chunk, Snapshot, quantise

DIM = 384


def unit_rows(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, DIM))
    unit: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def snapshot_of(vectors: np.ndarray, pieces: int = 3) -> Snapshot:
    """Several chunks, as the store holds them: rows numbered across them in order."""
    parts = np.array_split(vectors.astype(np.float32), pieces)
    return Snapshot(tuple(quantise(p) for p in parts), np.zeros(pieces, np.int64))


def test_cosines_are_within_a_hundredth_of_exact_ones() -> None:
    vectors, questions = unit_rows(5000, seed=1), unit_rows(20, seed=2)
    # Some near neighbours too: the cosines that matter most are the high ones.
    vectors[:20] = questions + 0.3 * unit_rows(20, seed=3)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    snapshot = snapshot_of(vectors)
    for question in questions:
        got = snapshot.cosines(question.astype(np.float32))
        assert got.dtype == np.float32 and got.shape == (5000,)
        assert np.abs(got - vectors @ question).max() < 0.01


def test_the_top_k_order_is_the_exact_one_but_within_the_quantisation_error() -> None:
    vectors = unit_rows(3000, seed=4)
    question = unit_rows(1, seed=5)[0]
    vectors[:50] = question + np.linspace(0.2, 2.0, 50)[:, None] * unit_rows(50, seed=6)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunk = quantise(vectors.astype(np.float32))
    exact = vectors @ question
    # Each cosine is off by at most half a step per component: scale / 2 * |question|_1.
    error = chunk.scales.astype(np.float64) / 2 * np.abs(question).sum() + 1e-6
    got = Snapshot((chunk,), np.zeros(1, np.int64)).cosines(question.astype(np.float32))
    k = 30
    top = np.argsort(-got, kind="stable")[:k]
    for better, worse in itertools.pairwise(top):
        assert exact[better] >= exact[worse] - error[better] - error[worse]
    # Nothing left out is surely better than what was kept.
    left_out = np.setdiff1d(np.arange(len(vectors)), top)
    last = top[-1]
    assert np.all(exact[left_out] - error[left_out] <= exact[last] + error[last])
    # And the bound is not vacuous: the exact top ten is found, in order.
    assert top[:10].tolist() == np.argsort(-exact)[:10].tolist()


def test_the_dots_of_some_rows_are_their_cosines_in_a_full_pass() -> None:
    vectors = unit_rows(5000, seed=7).astype(np.float32)
    question = unit_rows(1, seed=8)[0].astype(np.float32)
    snapshot = snapshot_of(vectors, pieces=4)
    every = snapshot.cosines(question)
    rows = np.array([4999, 0, 1250, 1250, 3000, 7])
    np.testing.assert_allclose(snapshot.dots(rows, question), every[rows], atol=1e-5)
    assert snapshot.dots(rows[:0], question).shape == (0,)
    one = Snapshot(snapshot.chunks[:1], np.zeros(1, np.int64))
    np.testing.assert_allclose(one.dots(rows[1:2], question), every[:1], atol=1e-5)


def test_quantising_keeps_the_sign_and_the_largest_component() -> None:
    chunk = quantise(np.array([[0.6, -0.8, 0.0], [0.0, 0.0, 0.0]], np.float32))
    assert chunk.rows.tolist() == [[95, -127, 0], [0, 0, 0]]
    np.testing.assert_allclose(chunk.scales, [0.8 / 127, 0.0], rtol=1e-6)
    assert quantise(np.zeros((0, 3), np.float32)).rows.shape == (0, 3)


def test_a_snapshot_gives_rows_back_across_its_chunks() -> None:
    vectors = unit_rows(10, seed=11).astype(np.float32)
    snapshot = snapshot_of(vectors, pieces=3)
    rows = np.array([9, 0, 4, 4])
    np.testing.assert_allclose(snapshot.vectors(rows), vectors[rows], atol=0.01)
    assert snapshot.size == 10
    assert snapshot.nbytes() == 10 * DIM + 10 * 4 + 10 * 48  # rows, scales and sign bits
    empty = Chunk.concatenate([], DIM)
    assert len(empty) == 0 and empty.rows.shape == (0, DIM)


def test_real_minilm_vectors_keep_their_cosines_and_their_order(
    seeds_engine: SearchEngine,
) -> None:
    passages = seeds_engine.passages  # the seed's windows and sentences: 32 texts
    texts = list(
        dict.fromkeys([*(s for p in passages for s in p.sentences), *(p.text for p in passages)])
    )
    embedder = Embedder.load(environ={})
    vectors = embedder.embed(texts).astype(np.float64)
    questions = embedder.embed(["How many people fled to Turkey?", "What did the minister say?"])
    snapshot = snapshot_of(vectors, pieces=2)
    for question in questions:
        got = snapshot.cosines(question)
        exact = vectors @ question.astype(np.float64)
        assert np.abs(got - exact).max() < 0.01
        assert np.argsort(-got)[:3].tolist() == np.argsort(-exact)[:3].tolist()
