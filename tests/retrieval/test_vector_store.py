"""The on-disk vector store: real files, a crash half-way, a damaged chunk, a folder it
cannot write."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from retrieval.vector_store import VectorStore, text_key

DIM = 4


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_vectors_come_back_and_survive_a_restart(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "model-a", DIM)
    keys = [text_key(t) for t in ("one", "two", "three")]
    first = vectors(3)
    store.add(keys[:2], first[:2])
    store.add(keys[2:], first[2:])
    assert store.missing([*keys, text_key("four")]) == [text_key("four")]
    # float16 on disk: equal to about three significant digits.
    np.testing.assert_allclose(store.gather(keys[::-1]), first[::-1], rtol=2e-3, atol=2e-3)
    again = VectorStore(tmp_path, "model-a", DIM)
    assert len(again) == 3
    np.testing.assert_array_equal(again.gather(keys), store.gather(keys))
    # Another model's vectors live apart.
    assert len(VectorStore(tmp_path, "model-b", DIM)) == 0


def test_written_chunks_are_read_back_memory_mapped(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add([text_key("a"), text_key("b")], vectors(2))
    # The page cache holds what is on disk; the process keeps no second copy of it.
    assert all(isinstance(chunk, np.memmap) for chunk in store._chunks)
    in_memory = VectorStore(None, "m", DIM)
    in_memory.add([text_key("a"), text_key("b")], vectors(2))
    np.testing.assert_array_equal(store.gather([text_key("b")]), in_memory.gather([text_key("b")]))


def test_without_a_folder_vectors_stay_in_memory() -> None:
    store = VectorStore(None, "m", DIM)
    store.add([text_key("a")], vectors(1))
    assert text_key("a") in store


def test_a_chunk_whose_keys_were_never_written_does_not_count(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add([text_key("a")], vectors(1))
    assert store.folder is not None
    # A crash between the two renames leaves rows without keys: that chunk is not there.
    np.save(store.folder / "chunk-000001.npy", vectors(2).astype(np.float16))
    (store.folder / "chunk-000002.keys.tmp").write_bytes(b"x" * 16)
    again = VectorStore(tmp_path, "m", DIM)
    assert len(again) == 1
    again.add([text_key("b")], vectors(1, seed=1))  # does not reuse a number on disk
    assert len(VectorStore(tmp_path, "m", DIM)) == 2


def test_a_damaged_chunk_is_skipped_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add([text_key("a"), text_key("b")], vectors(2))
    store.add([text_key("c")], vectors(1))
    assert store.folder is not None
    (store.folder / "chunk-000000.keys").write_bytes(b"short")
    with caplog.at_level(logging.WARNING):
        again = VectorStore(tmp_path, "m", DIM)
    assert again.missing([text_key("a"), text_key("c")]) == [text_key("a")]
    assert [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]


def test_a_folder_it_cannot_write_keeps_the_vectors_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = VectorStore(blocked, "m", DIM)
    with caplog.at_level(logging.WARNING):
        store.add([text_key("a")], vectors(1))
        store.add([text_key("b")], vectors(1))
    assert text_key("a") in store and text_key("b") in store
    said = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(said) == 1  # once, not at every chunk


def test_keys_and_rows_must_match(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 keys for 1 vectors"):
        VectorStore(tmp_path, "m", DIM).add([text_key("a"), text_key("b")], vectors(1))
