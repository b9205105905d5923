"""The index cache: real files in a temporary folder, damaged the ways disks damage them."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from retrieval.bm25 import FastBM25
from retrieval.bm25_forward import ForwardBM25
from retrieval.errors import IndexCacheError
from retrieval.index_store import IndexStore, fingerprint

CORPUS = [["storm", "coast", "storm"], ["rain", "coast"], [], ["été", "storm"]]
PAYLOAD = b"reports and passages, as the search engine serialised them" * 50
QUERIES = [["storm"], ["coast", "été"], ["rain", "rain"]]


@pytest.fixture
def scorer() -> FastBM25:
    return FastBM25.build(CORPUS)


def entries(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir())


def test_roundtrip_gives_the_same_scorer_and_payload(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path)
    store.save("k1", scorer, PAYLOAD)
    loaded = store.load("k1")
    assert loaded is not None
    cached, payload = loaded.scorer, loaded.payload
    assert payload == PAYLOAD
    for query in QUERIES:
        assert np.array_equal(cached.get_scores(query), scorer.get_scores(query))
    assert loaded.report_scorer is None and loaded.listing is None
    assert entries(tmp_path) == ["index-k1"]  # no temporary folder left behind


def test_the_report_scorer_and_the_listing_come_back_too(tmp_path: Path, scorer: FastBM25) -> None:
    reports = ForwardBM25.build([["storm", "coast", "rain"], ["été"]])
    IndexStore(tmp_path).save("k1", scorer, PAYLOAD, report_scorer=reports, listing=b"files")
    loaded = IndexStore(tmp_path).load("k1")
    assert loaded is not None and loaded.listing == b"files"
    assert loaded.report_scorer is not None
    assert np.array_equal(loaded.report_scorer.get_scores(["storm"]), reports.get_scores(["storm"]))
    # The file is the report index's own kind: read as a passage index, it is refused.
    with pytest.raises(IndexCacheError, match="bm25-forward"):
        FastBM25.load(tmp_path / "index-k1" / "reports.idx")


def test_latest_is_the_newest_good_entry_of_its_source(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path, keep=5)
    for age, (key, source) in enumerate([("k1", "a"), ("k2", "a"), ("k3", "b")]):
        store.save(key, scorer, key.encode(), source=source)
        stamp = 1_700_000_000 + 60 * age
        os.utime(tmp_path / f"index-{key}", (stamp, stamp))
    newest = store.latest("a")
    assert newest is not None and newest.payload == b"k2"
    assert store.latest("c") is None
    # A damaged newest entry is dropped and the one before it served.
    (tmp_path / "index-k2" / "payload.bin").write_bytes(b"garbage")
    older = store.latest("a")
    assert older is not None and older.payload == b"k1"
    assert "index-k2" not in entries(tmp_path)


def test_missing_and_other_keys_miss(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path / "not-created-yet")
    assert store.load("k1") is None
    store.save("k1", scorer, PAYLOAD)
    assert store.load("k2") is None
    assert store.load("k1") is not None  # the other key's entry is untouched


def test_an_entry_renamed_to_another_key_is_not_served(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path)
    store.save("k1", scorer, PAYLOAD)
    (tmp_path / "index-k1").rename(tmp_path / "index-k2")
    assert store.load("k2") is None
    assert entries(tmp_path) == []


@pytest.mark.parametrize(
    "name", ["bm25.idx", "payload.bin", "manifest.json", "reports.idx", "listing.bin"]
)
@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "empty", "delete"])
def test_damaged_entries_are_dropped_and_rebuilt(
    tmp_path: Path, scorer: FastBM25, name: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = IndexStore(tmp_path)
    store.save(
        "k1", scorer, PAYLOAD, report_scorer=ForwardBM25.build(CORPUS), listing=b"the listing"
    )
    path = tmp_path / "index-k1" / name
    data = bytearray(path.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) - 1]))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()

    with caplog.at_level(logging.WARNING, logger="retrieval.index_store"):
        assert store.load("k1") is None
    assert "rebuilding" in caplog.text
    assert entries(tmp_path) == []

    store.save("k1", scorer, PAYLOAD)  # the rebuild is cached again
    assert store.load("k1") is not None


class _ScorerThatFailsHalfwayThroughSaving(FastBM25):
    def save(self, path: Path) -> None:
        path.write_bytes(b"the first half of an index")
        raise OSError(28, "No space left on device")


def test_a_failed_save_leaves_nothing_visible(
    tmp_path: Path, scorer: FastBM25, caplog: pytest.LogCaptureFixture
) -> None:
    store = IndexStore(tmp_path)
    failing = _ScorerThatFailsHalfwayThroughSaving.build(CORPUS)
    with caplog.at_level(logging.WARNING, logger="retrieval.index_store"):
        store.save("k1", failing, PAYLOAD)
    assert "No space left" in caplog.text and str(tmp_path) in caplog.text
    assert "point DATA_DIR at a writable folder" in caplog.text
    assert entries(tmp_path) == []
    assert store.load("k1") is None


def test_a_failed_resave_keeps_the_previous_entry(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path)
    store.save("k1", scorer, PAYLOAD)
    store.save("k1", _ScorerThatFailsHalfwayThroughSaving.build(CORPUS), b"other")
    loaded = store.load("k1")
    assert loaded is not None and loaded[1] == PAYLOAD
    assert entries(tmp_path) == ["index-k1"]


def test_saving_an_existing_key_replaces_it(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path)
    store.save("k1", scorer, PAYLOAD)
    store.save("k1", FastBM25.build([["new"]]), b"new payload")
    loaded = store.load("k1")
    assert loaded is not None and loaded[1] == b"new payload" and loaded[0].n_docs == 1
    assert entries(tmp_path) == ["index-k1"]


def test_only_the_most_recently_used_entries_are_kept(tmp_path: Path, scorer: FastBM25) -> None:
    store = IndexStore(tmp_path, keep=3)
    for age, key in enumerate(["k1", "k2", "k3", "k4"]):
        store.save(key, scorer, PAYLOAD)
        # Saves this quick can share a timestamp; date them a minute apart.
        stamp = 1_700_000_000 + 60 * age
        os.utime(tmp_path / f"index-{key}", (stamp, stamp))
    assert entries(tmp_path) == ["index-k2", "index-k3", "index-k4"]
    assert store.load("k2") is not None  # using k2 makes it the most recent
    store.save("k5", scorer, PAYLOAD)
    assert entries(tmp_path) == ["index-k2", "index-k4", "index-k5"]


def test_keys_must_be_safe_folder_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache key"):
        IndexStore(tmp_path).load("../elsewhere")


def test_fingerprint_changes_with_any_input_but_not_file_order() -> None:
    files = [("a.md", 10, 1_000), ("b/c.txt", 20, 2_000)]
    base = fingerprint(files, "analyzer-v1")
    assert len(base) == 32 and int(base, 16) >= 0
    assert fingerprint(list(reversed(files)), "analyzer-v1") == base
    variants = [
        fingerprint([("a.md", 11, 1_000), files[1]], "analyzer-v1"),
        fingerprint([("a.md", 10, 1_001), files[1]], "analyzer-v1"),
        fingerprint([("A.md", 10, 1_000), files[1]], "analyzer-v1"),
        fingerprint(files[:1], "analyzer-v1"),
        fingerprint(files, "analyzer-v2"),
        fingerprint(files, "analyzer-v1", extra="search-v2"),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
