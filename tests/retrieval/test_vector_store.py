"""The on-disk vector store: real files, a crash half-way, a damaged chunk, a folder it
cannot write, the first (float16) layout converted, small chunks merged."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from retrieval import vector_store
from retrieval.vector_store import VectorStore, text_key

DIM = 4


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    unit: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def close(got: np.ndarray, expected: np.ndarray) -> None:
    # int8 rows: each component within half a step of its row's scale (max |v| / 127).
    step = np.abs(expected).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(got - expected) <= step / 2 + 1e-7)


def keys_of(*texts: str) -> list[bytes]:
    return [text_key(t) for t in texts]


def test_vectors_come_back_and_survive_a_restart(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "model-a", DIM)
    keys = keys_of("one", "two", "three")
    first = vectors(3)
    store.add(keys[:2], first[:2])
    store.add(keys[2:], first[2:])
    assert store.missing([*keys, text_key("four")]) == [text_key("four")]
    close(store.gather(keys[::-1]), first[::-1])
    again = VectorStore(tmp_path, "model-a", DIM)
    assert len(again) == 3
    np.testing.assert_array_equal(again.gather(keys), store.gather(keys))
    # Another model's vectors live apart.
    assert len(VectorStore(tmp_path, "model-b", DIM)) == 0


def test_written_chunks_are_int8_and_read_back_memory_mapped(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add(keys_of("a", "b"), vectors(2))
    # The page cache holds what is on disk, once for every process reading it.
    (chunk,) = store.snapshot().chunks
    assert isinstance(chunk.rows, np.memmap) and isinstance(chunk.scales, np.memmap)
    assert chunk.rows.dtype == np.int8 and chunk.scales.dtype == np.float32
    assert store.nbytes() == 2 * DIM + 2 * 4 + 2 * 8  # int8 rows, scales, a word of signs
    in_memory = VectorStore(None, "m", DIM)
    in_memory.add(keys_of("a", "b"), vectors(2))
    np.testing.assert_array_equal(store.gather(keys_of("b")), in_memory.gather(keys_of("b")))


def test_without_a_folder_vectors_stay_in_memory() -> None:
    store = VectorStore(None, "m", DIM)
    store.add([text_key("a")], vectors(1))
    assert text_key("a") in store


def test_a_chunk_whose_keys_were_never_written_does_not_count(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add([text_key("a")], vectors(1))
    assert store.folder is not None
    # A crash before the keys' rename leaves rows without keys: that chunk is not there.
    np.save(store.folder / "int8-000001.rows.npy", np.zeros((2, DIM), np.int8))
    np.save(store.folder / "int8-000001.scales.npy", np.zeros(2, np.float32))
    (store.folder / "int8-000002.keys.tmp").write_bytes(b"x" * 16)
    again = VectorStore(tmp_path, "m", DIM)
    assert len(again) == 1
    again.add([text_key("b")], vectors(1, seed=1))
    assert (store.folder / "int8-000001.keys").exists()  # the orphaned rows replaced
    assert len(VectorStore(tmp_path, "m", DIM)) == 2


@pytest.mark.parametrize("damage", ["short keys", "rows of another type", "no scales"])
def test_a_damaged_chunk_is_skipped_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add(keys_of("a", "b"), vectors(2))
    store.add(keys_of("c"), vectors(1))
    assert store.folder is not None
    if damage == "short keys":
        (store.folder / "int8-000000.keys").write_bytes(b"short")
    elif damage == "rows of another type":
        np.save(store.folder / "int8-000000.rows.npy", np.zeros((2, DIM), np.float16))
    else:
        (store.folder / "int8-000000.scales.npy").unlink()
    with caplog.at_level(logging.WARNING):
        again = VectorStore(tmp_path, "m", DIM)
    assert again.missing(keys_of("a", "c")) == [text_key("a")]
    said = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(said) == 1 and "int8-000000.keys" in said[0]


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
    close(store.gather(keys_of("a", "b")), np.concatenate([vectors(1), vectors(1)]))
    said = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(said) == 1  # once, not at every chunk


def test_keys_and_rows_must_match(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 keys for 1 vectors"):
        VectorStore(tmp_path, "m", DIM).add([text_key("a"), text_key("b")], vectors(1))


def write_float16_chunk(folder: Path, number: int, keys: list[bytes], rows: np.ndarray) -> None:
    """A chunk as the first layout wrote it: float16 rows, then the keys."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"chunk-{number:06d}.npy", rows.astype(np.float16))
    (folder / f"chunk-{number:06d}.keys").write_bytes(b"".join(keys))


def test_float16_chunks_of_the_first_layout_are_converted_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "m"
    keys, rows = keys_of("a", "b", "c"), vectors(3)
    write_float16_chunk(folder, 0, keys[:2], rows[:2])
    write_float16_chunk(folder, 1, keys[2:], rows[2:])
    with caplog.at_level(logging.INFO):
        store = VectorStore(tmp_path, "m", DIM)
    assert len(store) == 3
    close(store.gather(keys), rows.astype(np.float16).astype(np.float32))
    assert not list(folder.glob("chunk-*"))  # the old files are gone
    assert sorted(p.name for p in folder.iterdir()) == [
        "int8-000000.keys",
        "int8-000000.rows.npy",
        "int8-000000.scales.npy",
        "int8-000000.signs.npy",
    ]
    said = [r.getMessage() for r in caplog.records if "converted" in r.getMessage()]
    assert len(said) == 1
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = VectorStore(tmp_path, "m", DIM)
    np.testing.assert_array_equal(again.gather(keys), store.gather(keys))
    assert not [r for r in caplog.records if "converted" in r.getMessage()]


def test_a_conversion_cut_short_is_finished_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    keys, rows = keys_of("a", "b"), vectors(2)
    write_float16_chunk(folder, 0, keys, rows)
    converted = VectorStore(tmp_path, "m", DIM).gather(keys)
    # A crash after the new chunk was written, before the old files were removed.
    write_float16_chunk(folder, 0, keys, rows)
    again = VectorStore(tmp_path, "m", DIM)
    assert again.snapshot().size == 2
    np.testing.assert_array_equal(again.gather(keys), converted)
    assert not list(folder.glob("chunk-*"))


def test_a_damaged_float16_chunk_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "m"
    write_float16_chunk(folder, 0, keys_of("a", "b"), vectors(2))
    write_float16_chunk(folder, 1, keys_of("c"), vectors(2))  # two rows for one key
    with caplog.at_level(logging.WARNING):
        store = VectorStore(tmp_path, "m", DIM)
    assert store.missing(keys_of("a", "b", "c")) == [text_key("c")]
    said = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(said) == 1 and "chunk-000001.keys" in said[0]


def test_many_small_chunks_are_merged_into_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_store, "MANY", 4)
    store = VectorStore(tmp_path, "m", DIM)
    texts = [f"text {i}" for i in range(6)]
    rows = vectors(6)
    store.add(keys_of(*texts[:1]), rows[:1])
    before = store.snapshot()
    before_cosines = before.cosines(rows[0])
    for i in range(1, 6):
        store.add(keys_of(texts[i]), rows[i : i + 1])
    # The first four chunks became one; the next two wait for more.
    assert [len(c) for c in store.snapshot().chunks] == [4, 1, 1]
    assert store.folder is not None
    assert len(list(store.folder.glob("int8-*.keys"))) == 3
    close(store.gather(keys_of(*texts)), rows)
    # A snapshot taken before is what it was.
    assert len(before.chunks) == 1
    np.testing.assert_array_equal(before.cosines(rows[0]), before_cosines)
    again = VectorStore(tmp_path, "m", DIM)
    np.testing.assert_array_equal(again.gather(keys_of(*texts)), store.gather(keys_of(*texts)))
    store.add(keys_of("one more"), vectors(1, seed=3))
    assert [len(c) for c in store.snapshot().chunks] == [7]  # a merged chunk merges again


def test_chunks_of_many_rows_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_store, "MANY", 2)
    monkeypatch.setattr(vector_store, "SMALL", 3)
    store = VectorStore(tmp_path, "m", DIM)
    store.add(keys_of("a", "b", "c"), vectors(3))
    store.add(keys_of("d"), vectors(1))
    assert [len(c) for c in store.snapshot().chunks] == [3, 1]


def test_a_conversion_writes_a_chunk_every_big_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_store, "BIG", 2)
    folder = tmp_path / "m"
    keys, rows = keys_of("a", "b", "c", "d", "e"), vectors(5)
    for number, (low, high) in enumerate([(0, 1), (1, 2), (2, 5)]):
        write_float16_chunk(folder, number, keys[low:high], rows[low:high])
    store = VectorStore(tmp_path, "m", DIM)
    assert [len(c) for c in store.snapshot().chunks] == [2, 3]
    close(store.gather(keys), rows.astype(np.float16).astype(np.float32))
    assert len(list(folder.glob("int8-*.keys"))) == 2


@pytest.mark.parametrize("damage", ["missing", "damaged", "of another shape"])
def test_sign_bits_are_kept_beside_the_rows_and_made_again_when_lost(
    tmp_path: Path, damage: str
) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    keys = keys_of("a", "b", "c")
    store.add(keys, vectors(3))
    assert store.folder is not None
    signs = store.folder / "int8-000000.signs.npy"
    written = np.load(signs)
    snapshot, (rows,) = store.locate(keys)
    np.testing.assert_array_equal(snapshot.signs(rows), written)
    if damage == "missing":  # a chunk written before signs were kept
        signs.unlink()
    elif damage == "damaged":
        signs.write_bytes(b"not numpy")
    else:
        np.save(signs, np.zeros((2, 1), np.uint64))
    again = VectorStore(tmp_path, "m", DIM)
    snapshot, (rows,) = again.locate(keys)
    np.testing.assert_array_equal(snapshot.signs(rows), written)
    np.testing.assert_array_equal(np.load(signs), written)  # written again for the next start


def test_locating_a_key_it_does_not_hold_raises(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m", DIM)
    store.add(keys_of("a"), vectors(1))
    with pytest.raises(KeyError):
        store.locate(keys_of("a", "never added"))
    _, (rows,) = store.locate(keys_of("a"))
    assert rows.tolist() == [0]
