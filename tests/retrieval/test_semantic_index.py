"""The semantic index over the store's int8 chunks: no copy of the vectors, its own
snapshot of them, and the cosines the semantic ranker reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.corpus import Corpus
from retrieval.search import SearchEngine
from retrieval.semantic_index import SemanticIndex, assemble, texts_to_embed
from retrieval.vector_store import VectorStore, text_key
from tests.conftest import make_report

REPORTS = (
    make_report(),
    make_report(
        "Harvest report",
        paragraphs=(
            "The wheat harvest reached 12 million tonnes this year, the ministry said. "
            "Farmers blamed the late rains.",
            "Exports will rise, traders said.",
        ),
        report_id="farm",
    ),
)


def corpus_of(*reports: object) -> Corpus:
    return SearchEngine.build(list(reports)).corpus  # type: ignore[arg-type]


def filled(store: VectorStore, corpus: Corpus, seed: int = 0) -> None:
    """Random unit vectors for what `corpus` lacks."""
    keys = store.missing(texts_to_embed(corpus).all_keys())
    rows = np.random.default_rng(seed).standard_normal((len(keys), store.dimension))
    store.add(keys, rows / np.linalg.norm(rows, axis=1, keepdims=True))


def index_of(store: VectorStore, corpus: Corpus) -> SemanticIndex:
    filled(store, corpus)
    return assemble(corpus, texts_to_embed(corpus), store)


def exact(store: VectorStore, keys: tuple[bytes, ...], question: np.ndarray) -> np.ndarray:
    cosines: np.ndarray = store.gather(keys).astype(np.float64) @ question
    return cosines


def test_cosines_are_each_window_and_sentence_of_the_corpus(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", 16)
    corpus = corpus_of(*REPORTS)
    texts = texts_to_embed(corpus)
    store.add([text_key("a text of no corpus")], np.eye(16)[:1])  # a stale row first
    index = index_of(store, corpus)
    question = store.gather(texts.sentence_keys[:1])[0]
    windows, sentences = index.cosines(question)
    assert windows.dtype == sentences.dtype == np.float32
    assert windows.shape == (len(corpus.passages),) == (index.size,)
    assert sentences.shape == (len(texts.sentences),)
    np.testing.assert_allclose(windows, exact(store, texts.window_keys, question), atol=1e-5)
    np.testing.assert_allclose(sentences, exact(store, texts.sentence_keys, question), atol=1e-5)


def test_an_index_is_not_changed_by_what_is_added_after_it(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", 16)
    corpus = corpus_of(*REPORTS)
    index = index_of(store, corpus)
    question = np.full(16, 0.25, np.float32)
    before = index.vectors.cosines(question)
    chunks = index.vectors.chunks
    # Many more chunks (merged as they come) for a bigger corpus.
    for i in range(40):
        filled(store, corpus_of(*REPORTS, make_report(f"Report {i}", report_id=f"x{i}")), i)
    assert index.vectors.chunks == chunks
    np.testing.assert_array_equal(index.vectors.cosines(question), before)
    bigger = assemble(corpus, texts_to_embed(corpus), store)
    np.testing.assert_allclose(bigger.cosines(question)[0], index.cosines(question)[0], atol=1e-5)


def test_two_indexes_share_the_stores_chunks(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", 16)
    first = index_of(store, corpus_of(*REPORTS))
    new = make_report("New", paragraphs=("A bridge opened in the capital.",), report_id="new")
    second = index_of(store, corpus_of(REPORTS[1], new))
    shared = first.vectors.chunks[0]
    assert isinstance(shared.rows, np.memmap)
    assert any(np.shares_memory(shared.rows, c.rows) for c in second.vectors.chunks)
    assert second.vector_nbytes() > first.vector_nbytes() > 0


def test_an_index_holds_its_texts_sign_bits_and_no_vectors() -> None:
    corpus = corpus_of(*REPORTS)
    small = index_of(VectorStore(None, "m", 8), corpus)
    large = index_of(VectorStore(None, "m", 384), corpus)
    texts = small.size + len(small.sentence_rows)
    # A 64-bit word a text at 8 dimensions, six at 384: 48 bytes, an eighth of int8's.
    assert large.nbytes() - small.nbytes() == texts * (6 - 1) * 8
    numbers = [small.window_rows, small.sentence_rows, small.offsets, small.members]
    numbers += [small.holder_offsets, small.holders, small.passage_reports]
    numbers += [small.report_offsets, small.report_passages]
    assert {a.dtype for a in numbers} == {np.dtype(np.int32)}
    assert large.vector_nbytes() > small.vector_nbytes()


def test_the_nearest_texts_are_those_of_a_pass_over_every_row(tmp_path: Path) -> None:
    # Fewer texts than are scored exactly: found by their bits or not, every one is read,
    # so the nearest are exactly the full pass's best.
    store = VectorStore(tmp_path, "m", 16)
    corpus = corpus_of(*REPORTS)
    index = index_of(store, corpus)
    question = store.gather(texts_to_embed(corpus).sentence_keys[2:3])[0]
    windows, sentences = index.cosines(question)
    for (found, cosines), every, eligible in (
        (index.nearest_windows(question, 3), windows, index.eligible),
        (index.nearest_sentences(question, 4), sentences, index.sentence_eligible),
    ):
        best = np.argsort(-np.where(eligible, every, -np.inf), kind="stable")[: len(found)]
        assert found.tolist() == best.tolist()
        np.testing.assert_allclose(cosines, every[found], atol=1e-5)
        assert list(cosines) == sorted(cosines, reverse=True)
    assert index.nearest_sentences(question, 1)[1][0] == pytest.approx(1.0, abs=0.02)


def test_cosines_asked_for_are_read_from_their_rows_alone(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", 16)
    for i in range(3):  # several chunks: the rows asked for come from each
        filled(store, corpus_of(make_report(f"Report {i}", report_id=f"r{i}")), i)
    corpus = corpus_of(*REPORTS, *(make_report(f"Report {i}", report_id=f"r{i}") for i in range(3)))
    index = index_of(store, corpus)
    assert len(index.vectors.chunks) > 1
    question = np.linspace(-1, 1, 16).astype(np.float32)
    windows, sentences = index.cosines(question)
    passages = np.array([5, 0, 3, 3, len(windows) - 1])
    np.testing.assert_allclose(
        index.window_cosines(passages, question), windows[passages], atol=1e-5
    )
    some = np.arange(len(sentences))[::-1]
    np.testing.assert_allclose(index.sentence_cosines(some, question), sentences[some], atol=1e-5)
    assert index.window_cosines(passages[:0], question).shape == (0,)
