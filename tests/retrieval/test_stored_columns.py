"""Columns kept in the index cache's file (retrieval.stored_columns) and the cache
payload made of them: equal to the tuples they were written from, read item by item,
never holding more than they may, and failing at load when they cannot be read."""

from __future__ import annotations

import dataclasses
import logging
import mmap
import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest

from retrieval import stored_columns
from retrieval.bm25 import FastBM25
from retrieval.corpus_cache import pickle_corpus, unpickle_corpus
from retrieval.index_store import IndexStore
from retrieval.library import Library
from retrieval.models import Passage
from retrieval.search import SearchEngine
from retrieval.stored_columns import (
    ColumnSpec,
    Joined,
    StoredColumn,
    cut,
    joined,
    read_columns,
    write_columns,
)

TOKENS = (("council", "met"), ("rain",), (), ("été", "storm", "storm"))


def stored(columns: dict[str, Sequence[object]], start: int = 0) -> dict[str, StoredColumn[object]]:
    out = bytearray(start)
    specs = write_columns(columns, out)
    return read_columns(memoryview(out), specs)


def unpickled(column: StoredColumn[object]) -> int:
    return len(column._home.made)


def test_columns_equal_the_tuples_they_were_written_from(seeds_engine: SearchEngine) -> None:
    passages = tuple(seeds_engine.passages)
    columns = stored({"passages": passages, "tokens": TOKENS, "empty": (), "mixed": (1, "a")}, 24)
    assert columns["passages"] == passages and columns["tokens"] == TOKENS
    assert columns["empty"] == () and columns["mixed"] == (1, "a")
    assert columns["passages"][-1] == passages[-1] and columns["tokens"][1:3] == TOKENS[1:3]
    assert list(columns["tokens"]) == list(TOKENS)
    assert all(isinstance(p, Passage) for p in columns["passages"])
    with pytest.raises(IndexError):
        columns["tokens"][len(TOKENS)]


def test_items_are_unpickled_only_when_asked_for_and_kept_within_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = tuple((f"word{n}",) for n in range(50))
    column = stored({"tokens": items})["tokens"]
    assert unpickled(column) == 1  # the first, checked at load
    assert column[7] == ("word7",) and column[7] is column[7]
    assert unpickled(column) == 2
    monkeypatch.setattr(stored_columns, "KEPT", 10)
    for n in range(50):
        assert column[n] == items[n]
        assert unpickled(column) <= 10


def test_a_column_pickles_as_its_items() -> None:
    column = stored({"tokens": TOKENS})["tokens"]
    assert pickle.loads(pickle.dumps(column)) == TOKENS


def test_rows_that_do_not_fit_their_record_class_fail_at_load_not_mid_question() -> None:
    body = bytearray()
    specs = write_columns({"rows": (("r1", "too few fields"),)}, body)
    wrong = {"rows": ColumnSpec(Passage, specs["rows"].items, specs["rows"].start)}
    with pytest.raises(TypeError):
        read_columns(memoryview(body), wrong)


def test_a_column_running_past_the_end_fails_at_load() -> None:
    body = bytearray()
    specs = write_columns({"tokens": TOKENS}, body)
    with pytest.raises(ValueError, match="past the end"):
        read_columns(memoryview(body[:-3]), specs)
    with pytest.raises(ValueError, match="past the end"):
        read_columns(memoryview(body[:10]), specs)


def test_the_payload_keeps_the_corpus_whole(seeds_engine: SearchEngine) -> None:
    corpus = seeds_engine.corpus
    loaded = unpickle_corpus(pickle_corpus(corpus))
    assert isinstance(loaded, type(corpus))
    # The tokens are the BM25 indexes' (retrieval.forward_tokens), not the payload's.
    tokens = corpus.passage_tokens, corpus.report_tokens
    assert dataclasses.replace(loaded, passage_tokens=tokens[0], report_tokens=tokens[1]) == corpus
    assert isinstance(loaded.passages, StoredColumn) and isinstance(loaded.profiles, StoredColumn)


def test_a_payload_in_the_old_format_or_damaged_is_rebuilt_not_served(
    seeds_engine: SearchEngine, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = seeds_engine.corpus
    with caplog.at_level(logging.WARNING):
        assert unpickle_corpus(pickle.dumps(corpus)) is None  # version 1: one pickle
        assert unpickle_corpus(pickle_corpus(corpus)[:-40]) is None  # the header cut
    assert "rebuilding" in caplog.text


def test_a_loaded_entry_is_mapped_not_read_into_the_process(
    tmp_path: Path, seeds_engine: SearchEngine
) -> None:
    scorer = FastBM25.build([["storm", "coast"], ["rain"]])
    payload = pickle_corpus(seeds_engine.corpus)
    store = IndexStore(tmp_path)
    store.save("k1", scorer, payload)
    loaded = store.load("k1")
    assert loaded is not None and loaded.payload == payload
    assert isinstance(loaded.payload, memoryview) and isinstance(loaded.payload.obj, mmap.mmap)
    # The scorer's postings are views of the mapped file too, shared by every process.
    base = loaded.scorer._doc_ids.base
    while base is not None and not isinstance(base, mmap.mmap | memoryview):
        base = getattr(base, "base", None)
    assert base is not None
    corpus = unpickle_corpus(loaded.payload)
    assert dataclasses.is_dataclass(corpus) and corpus.passages == seeds_engine.corpus.passages


def test_cut_and_joined_keep_stored_items_in_the_file() -> None:
    items = tuple((f"word{n}",) for n in range(20))
    column = stored({"tokens": items})["tokens"]
    pieces = [cut(column, 0, 5), cut(column, 5, 12), cut(column, 12, 20)]
    assert all(isinstance(p, StoredColumn) for p in pieces)
    whole = joined(pieces)
    assert isinstance(whole, StoredColumn) and whole == items  # consecutive views: one
    fresh = (("new",),)
    mixed = joined([pieces[0], fresh, pieces[2]])
    assert isinstance(mixed, Joined) and mixed == items[:5] + fresh + items[12:]
    assert mixed[5] == ("new",) and mixed[-1] == items[-1] and mixed[4:7] == mixed_slice(mixed)
    assert joined([fresh, ()]) == fresh and isinstance(joined([fresh]), tuple)
    assert cut(items, 2, 4) == items[2:4]
    # Written again, the stored items' bytes are copied as they are.
    again = stored({"tokens": mixed})["tokens"]
    assert again == mixed and pickle.loads(pickle.dumps(mixed)) == tuple(mixed)


def mixed_slice(column: Joined[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    return tuple(column[i] for i in range(4, 7))


def test_records_from_the_file_and_new_ones_are_written_as_one_column(
    seeds_engine: SearchEngine,
) -> None:
    passages = tuple(seeds_engine.passages)
    column = stored({"passages": passages})["passages"]
    mixed = joined([cut(column, 0, 3), passages[3:]])
    body = bytearray()
    specs = write_columns({"passages": mixed}, body)
    assert specs["passages"].record is Passage
    assert read_columns(memoryview(body), specs)["passages"] == passages


def test_a_cached_library_reloads_a_change_keeping_the_rest_in_the_file(
    seeds_engine: SearchEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    for n in range(4):
        (folder / f"note{n}.md").write_text(
            f"---\ntitle: Note {n}\ndate: 2024-03-0{n + 1}\n---\nThe harbour {n} reopened.\n",
            encoding="utf-8",
        )
    cache = tmp_path / "cache"
    Library.open(folder, cache_dir=cache, watch=None, settle_seconds=0).close()
    library = Library.open(folder, cache_dir=cache, watch=None, settle_seconds=0)
    assert isinstance(library.engine.corpus.passages, StoredColumn)
    (folder / "note2.md").write_text(
        "---\ntitle: Note 2\ndate: 2024-03-03\n---\nThe ferry was cancelled.\n", encoding="utf-8"
    )
    library.refresh()
    passages = library.engine.corpus.passages
    assert isinstance(passages, Joined)
    fresh = Library.open(folder, watch=None, settle_seconds=0)
    assert passages == fresh.engine.passages
    assert library.engine.search("ferry cancelled") == fresh.engine.search("ferry cancelled")


def test_cutting_a_joined_column_keeps_its_views_unread() -> None:
    items = tuple((f"word{n}",) for n in range(20))
    column = stored({"tokens": items})["tokens"]
    read = unpickled(column)  # the first item, read when the column is opened
    fresh = (("new",), ("newer",))
    mixed = joined([cut(column, 0, 8), fresh, cut(column, 12, 20)])
    assert isinstance(mixed, Joined)
    inside = cut(mixed, 2, 6)
    across = cut(mixed, 6, 12)
    assert isinstance(inside, StoredColumn) and isinstance(across, Joined)
    assert unpickled(column) == read
    assert inside == items[2:6] and across == items[6:8] + fresh + items[12:14]
    assert cut(mixed, 9, 9) == () and cut(mixed, 8, 10) == fresh
