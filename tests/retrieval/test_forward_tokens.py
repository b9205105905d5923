"""Tokens read from a BM25 index's forward index (retrieval.forward_tokens): equal to the
tuples they were indexed from, cut and joined as views, numbered exactly as a build from
the tuples numbers them, and what an engine, its cache and a live library keep."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from retrieval.bm25 import FastBM25
from retrieval.bm25_build import Forward
from retrieval.corpus import Corpus
from retrieval.corpus_cache import pickle_corpus, unpickle_corpus
from retrieval.forward_tokens import ForwardTokens, TermsInOrder, numbered_tokens
from retrieval.library import Library
from retrieval.search import SearchEngine
from retrieval.stored_columns import Joined, cut, joined

DOCS = (("a", "b", "a"), ("c",), (), ("b", "d", "e"), ("e", "a"))


def forward_of(docs: tuple[tuple[str, ...], ...]) -> ForwardTokens:
    return ForwardTokens.whole(FastBM25.build(docs).forward)


def random_docs(rng: random.Random, n: int, words: int) -> tuple[tuple[str, ...], ...]:
    vocabulary = [f"w{i}" for i in range(words)]
    return tuple(
        tuple(rng.choice(vocabulary) for _ in range(rng.randrange(0, 9))) for _ in range(n)
    )


def assert_same_index(built: FastBM25, expected: FastBM25) -> None:
    assert list(built._terms.items()) == list(expected._terms.items())
    for mine, theirs in zip(built._stored(), expected._stored(), strict=True):
        assert np.array_equal(mine, theirs) and mine.dtype == theirs.dtype
    assert built.average_idf == expected.average_idf and built.avgdl == expected.avgdl


def test_a_column_of_the_forward_index_equals_the_tuples_indexed() -> None:
    tokens = forward_of(DOCS)
    assert tokens == DOCS and list(tokens) == list(DOCS) and len(tokens) == len(DOCS)
    assert tokens[2] == () and tokens[-1] == ("e", "a") and tokens[1:3] == DOCS[1:3]
    with pytest.raises(IndexError):
        tokens[len(DOCS)]


def test_cut_and_joined_keep_views_of_the_forward_index() -> None:
    tokens = forward_of(DOCS)
    pieces = [cut(tokens, 0, 2), cut(tokens, 2, 4), cut(tokens, 4, 5)]
    assert all(isinstance(piece, ForwardTokens) for piece in pieces)
    whole = joined(pieces)
    assert isinstance(whole, ForwardTokens) and whole == DOCS  # consecutive views: one
    fresh = (("new", "a"),)
    mixed = joined([pieces[0], fresh, pieces[2]])
    assert isinstance(mixed, Joined) and mixed == DOCS[:2] + fresh + DOCS[4:]
    other = forward_of((("x",), ("y", "a")))
    # Views of another index follow, not merged with this one's.
    assert len(joined([tokens, other]).segments) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(8))
def test_numbering_views_gives_what_numbering_the_tuples_gives(seed: int) -> None:
    rng = random.Random(seed)
    old = random_docs(rng, 40, 30)
    other = random_docs(rng, 10, 45)
    tokens, other_tokens = forward_of(old), forward_of(other)
    # What a reload joins: kept runs of the old index (some reports gone), new tuples,
    # and views of a second index, in any order.
    cuts = sorted(rng.sample(range(1, 40), 5))
    runs = [cut(tokens, a, b) for a, b in zip([0, *cuts], [*cuts, 40], strict=True)]
    del runs[rng.randrange(len(runs))]
    fresh = random_docs(rng, 3, 60)
    segments = [*runs, fresh, cut(other_tokens, 2, 9)]
    rng.shuffle(segments)
    docs = joined(segments)
    plain = tuple(docs)
    numbered, expected = numbered_tokens(docs), numbered_tokens(plain)
    assert list(numbered.terms.items()) == list(expected.terms.items())
    assert np.array_equal(numbered.token_ids, expected.token_ids)
    assert np.array_equal(numbered.doc_len, [len(doc) for doc in plain])
    assert_same_index(FastBM25.build(docs), FastBM25.build(plain))


def test_an_index_of_views_scores_as_one_of_tuples() -> None:
    rng = random.Random(7)
    old = random_docs(rng, 200, 50)
    tokens = forward_of(old)
    docs = joined([cut(tokens, 0, 80), (("w1", "w1", "zz"),), cut(tokens, 120, 200)])
    built, expected = FastBM25.build(docs), FastBM25.build(tuple(docs))
    for query in (["w1"], ["w3", "zz", "w3"], ["w7", "w8", "w9"], ["nothing"]):
        assert np.array_equal(built.get_scores(query), expected.get_scores(query))
        for mine, theirs in zip(built.top_k(query, 10), expected.top_k(query, 10), strict=True):
            assert np.array_equal(mine, theirs)


def test_an_engine_keeps_its_tokens_once_as_term_ids(seeds_engine: SearchEngine) -> None:
    corpus = seeds_engine.corpus
    assert isinstance(corpus.passage_tokens, ForwardTokens)
    assert isinstance(corpus.report_tokens, ForwardTokens)
    rebuilt = SearchEngine.build(seeds_engine.reports)
    assert rebuilt.corpus.passage_tokens == corpus.passage_tokens
    # The cache stores them in neither column: the BM25 indexes beside it hold them.
    loaded = unpickle_corpus(pickle_corpus(corpus))
    assert isinstance(loaded, Corpus)
    assert loaded.passage_tokens == () and loaded.report_tokens == ()


def write_notes(folder: Path, count: int) -> None:
    folder.mkdir(exist_ok=True)
    for n in range(count):
        (folder / f"note{n}.md").write_text(
            f"---\ntitle: Note {n}\ndate: 2024-03-0{n + 1}\n---\nThe harbour {n} reopened.\n",
            encoding="utf-8",
        )


def test_a_live_library_keeps_no_token_tuples_after_a_build_or_a_reload(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    write_notes(folder, 4)
    library = Library.open(folder, watch=None, settle_seconds=0)
    engine = library.engine
    parts = [part for content in library.folder.contents.values() for part in content.parts]
    assert len(parts) == 4
    # The parts the build read are views of the engine now, not tuples of their own.
    assert all(isinstance(part.passage_tokens, ForwardTokens) for part in parts)
    (folder / "note2.md").write_text(
        "---\ntitle: Note 2\ndate: 2024-03-03\n---\nThe ferry was cancelled.\n", encoding="utf-8"
    )
    library.refresh()
    assert library.engine is not engine
    tokens = library.engine.corpus.passage_tokens
    assert isinstance(tokens, ForwardTokens)
    fresh = Library.open(folder, watch=None, settle_seconds=0)
    assert tokens == fresh.engine.corpus.passage_tokens
    assert library.engine.search("ferry cancelled") == fresh.engine.search("ferry cancelled")
    for part in (p for content in library.folder.contents.values() for p in content.parts):
        assert part.passage_tokens._home is tokens._home  # type: ignore[attr-defined]


def test_tuples_made_are_kept_within_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("retrieval.forward_tokens.KEPT", 2)
    tokens = forward_of(DOCS)
    first = tokens[0]
    assert tokens[0] is first  # made once, kept
    for index in range(len(DOCS)):
        assert tokens[index] == DOCS[index]
        assert len(tokens._home.made) <= 2


def test_many_items_at_once_are_the_items_one_by_one() -> None:
    tokens = cut(forward_of(DOCS), 1, 5)
    assert isinstance(tokens, ForwardTokens)
    wanted = [3, 0, 0, 2]
    assert tokens.items(wanted) == [DOCS[1 + i] for i in wanted]  # made
    assert tokens.items(wanted) == [DOCS[1 + i] for i in wanted]  # kept


def test_terms_in_order_number_their_names_and_read_as_a_forward_index() -> None:
    terms = TermsInOrder(["storm", "coast", "rain"])
    assert list(terms) == ["storm", "coast", "rain"] and len(terms) == 3
    assert terms["rain"] == 2 and "coast" in terms and "flood" not in terms
    ids = np.array([0, 1, 2, 0], dtype=np.int32)
    tokens = ForwardTokens.whole(Forward(terms, ids, np.array([0, 2, 2, 4])))
    assert list(tokens) == [("storm", "coast"), (), ("rain", "storm")]
