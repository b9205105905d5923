"""Stamps let a restart map its index cache without hashing it first; the hashes are
checked later, so a disk's bit rot still costs only a rebuild."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from retrieval import cache_stamps, index_store
from retrieval.bm25 import FastBM25
from retrieval.bm25_forward import ForwardBM25
from retrieval.index_store import IndexStore
from retrieval.library import Library

CORPUS = [["storm", "coast", "storm"], ["rain", "coast"], ["été", "storm"]]
PAYLOAD = b"reports and passages, as the search engine serialised them" * 50
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports" / "good"
NAMES = ["bm25.idx", "payload.bin", "reports.idx", "listing.bin"]


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    scorer = FastBM25.build(CORPUS)
    store = IndexStore(tmp_path)
    reports = ForwardBM25.build(CORPUS)
    store.save("k1", scorer, PAYLOAD, report_scorer=reports, listing=b"the listing")
    return store


@pytest.fixture
def old_files(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files count as old enough to stamp at once (in life: 2 s after they were written).
    monkeypatch.setattr(cache_stamps, "RACY_S", 0.0)


def no_hashing(*args: object) -> None:
    raise AssertionError("a stamped entry was hashed on load")


def stamps(store: IndexStore) -> dict[str, list[int]]:
    record = json.loads((store.entry_dir("k1") / "verified.json").read_bytes())
    files: dict[str, list[int]] = record["files"]
    return files


def restamp(store: IndexStore, key: str = "k1") -> None:
    """What a change no file system sees (bit rot) looks like: stamps that still fit."""
    entry = store.entry_dir(key)
    files = {}
    for name in [*NAMES, "manifest.json"]:
        info = os.stat(entry / name)
        files[name] = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev]
    (entry / "verified.json").write_text(json.dumps({"key": key, "files": files}))


def test_files_just_written_are_not_stamped(store: IndexStore) -> None:
    # A coarse clock can give a file changed in the next moment the same times.
    loaded = store.load("k1")
    assert loaded is not None and loaded.check is None
    assert not (store.entry_dir("k1") / "verified.json").exists()


def test_a_saved_entry_is_stamped_in_the_background_once_old_enough(
    tmp_path: Path, old_files: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Else the first restart after a build hashes the whole entry before it answers.
    monkeypatch.setattr(index_store, "_STAMP_MARGIN_S", 0.0)
    store = IndexStore(tmp_path)
    store.save("k1", FastBM25.build(CORPUS), PAYLOAD, listing=b"the listing")
    verified = store.entry_dir("k1") / "verified.json"
    deadline = time.monotonic() + 30
    while not verified.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(stamps(store)) == ["bm25.idx", "listing.bin", "manifest.json", "payload.bin"]
    monkeypatch.setattr(index_store, "hashed", no_hashing)
    loaded = store.load("k1")
    assert loaded is not None and loaded.check is not None  # mapped on its stamps
    assert bytes(loaded.payload) == PAYLOAD
    loaded.check.run()


def test_stamping_leaves_an_entry_that_is_gone_or_too_new_alone(
    store: IndexStore, tmp_path: Path
) -> None:
    store.stamp("k1")  # written just now: its times could still change unseen
    assert not (store.entry_dir("k1") / "verified.json").exists()
    store.stamp("no-such-key")  # pruned meanwhile: nothing to do, nothing raised
    assert store.load("k1") is not None


def test_a_stamped_entry_is_mapped_without_hashing(
    store: IndexStore, old_files: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.load("k1")
    assert first is not None and first.check is None  # hashed whole, then stamped
    assert sorted(stamps(store)) == sorted([*NAMES, "manifest.json"])
    monkeypatch.setattr(index_store, "hashed", no_hashing)
    second = store.load("k1")
    assert second is not None and second.check is not None
    assert bytes(second.payload) == PAYLOAD and bytes(second.listing or b"") == b"the listing"
    assert (
        second.scorer.get_scores(["storm"]).tolist() == first.scorer.get_scores(["storm"]).tolist()
    )
    # The hashes are still checked, in the background, after the first questions.
    assert any(t.name == "index-cache-check" for t in threading.enumerate())
    monkeypatch.undo()
    assert second.check.run() and not second.check.failed


@pytest.mark.parametrize("name", [*NAMES, "manifest.json"])
@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "replace"])
def test_a_file_changed_after_its_stamp_is_hashed_again(
    store: IndexStore, old_files: None, name: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.load("k1") is not None and stamps(store)
    path = store.entry_dir("k1") / name
    data = bytearray(path.read_bytes())
    time.sleep(0.02)  # past the clock's tick (the stamped times are from an earlier one)
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))  # in place: same size, same inode
    elif damage == "truncate":
        with open(path, "r+b") as file:
            file.truncate(len(data) - 1)
    else:  # the same bytes in another file
        path.unlink()
        path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="retrieval.index_store"):
        loaded = store.load("k1")
    if damage == "replace":
        assert loaded is not None and loaded.check is None  # hashed: good, and stamped again
        assert store.load("k1") is not None
    else:
        assert loaded is None and "rebuilding" in caplog.text
        assert not store.entry_dir("k1").exists()


def test_bit_rot_under_good_stamps_is_found_by_the_check(
    store: IndexStore, old_files: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.load("k1") is not None
    path = store.entry_dir("k1") / "payload.bin"
    data = bytearray(path.read_bytes())
    data[7] ^= 0x40
    path.write_bytes(bytes(data))
    restamp(store)
    loaded = store.load("k1")
    assert loaded is not None and loaded.check is not None  # served on its stamps
    with caplog.at_level(logging.WARNING, logger="retrieval.cache_stamps"):
        assert not loaded.check.run()
        assert not loaded.check.run()  # checked once: said once
    assert loaded.check.failed
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "payload.bin" in warnings[0] and "rebuilding" in warnings[0]
    assert not store.entry_dir("k1").exists()


def test_a_failed_check_leaves_an_entry_saved_again_meanwhile(
    store: IndexStore, old_files: None
) -> None:
    assert store.load("k1") is not None
    path = store.entry_dir("k1") / "listing.bin"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    restamp(store)
    loaded = store.load("k1")
    assert loaded is not None and loaded.check is not None
    store.save("k1", FastBM25.build([["new"]]), b"another build")  # another replica's
    assert not loaded.check.run()
    again = store.load("k1")
    assert again is not None and bytes(again.payload) == b"another build"


def test_stamps_for_another_key_are_not_trusted(
    store: IndexStore, old_files: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.load("k1") is not None
    record_path = store.entry_dir("k1") / "verified.json"
    record = json.loads(record_path.read_bytes())
    record_path.write_text(json.dumps({**record, "key": "k2"}))
    hashes: list[str] = []
    real = cache_stamps.hashed

    def counted(file: BinaryIO) -> tuple[int, str]:
        size, digest = real(file)
        hashes.append(digest)
        return size, digest

    monkeypatch.setattr(index_store, "hashed", counted)
    loaded = store.load("k1")
    assert loaded is not None and loaded.check is None and hashes


@pytest.mark.parametrize("record", [b"", b"not json", b"[]", b'{"key": "k1", "files": 3}'])
def test_a_broken_stamp_record_means_hashing(
    store: IndexStore, old_files: None, record: bytes
) -> None:
    assert store.load("k1") is not None
    (store.entry_dir("k1") / "verified.json").write_bytes(record)
    loaded = store.load("k1")
    assert loaded is not None and loaded.check is None
    assert stamps(store)  # and the record is good again


def test_a_library_whose_cache_fails_its_check_reads_every_file_again(
    tmp_path: Path, old_files: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "reports"
    shutil.copytree(FIXTURES, folder)
    files = len(list(folder.rglob("*.*")))
    cache = tmp_path / "cache"
    Library.open(folder, cache_dir=cache)  # reads everything and caches it
    Library.open(folder, cache_dir=cache)  # hashes the entry, and stamps it
    built = Library.open(folder)  # what the files give, from no cache
    [entry] = cache.glob("index-*")
    payload = entry / "payload.bin"
    data = bytearray(payload.read_bytes())
    data[64] ^= 0x01  # inside the first stored passage, not the header
    payload.write_bytes(bytes(data))
    restamp(IndexStore(cache), entry.name.removeprefix("index-"))
    monkeypatch.setattr(cache_stamps, "CHECK_AFTER_S", 0.0)
    library = Library.open(folder, cache_dir=cache)  # served on its stamps meanwhile
    for thread in threading.enumerate():
        if thread.name == "index-cache-check":
            thread.join(30)
    assert not entry.exists()
    change = library.refresh()
    assert change is not None and change.files_read == files
    assert not change.added and not change.removed
    question = "How many refugees have entered camps in Turkey?"
    assert [h.passage for h in library.engine.search(question)] == [
        h.passage for h in built.engine.search(question)
    ]
    assert library.save_cache(cache) and len(list(cache.glob("index-*"))) == 1
