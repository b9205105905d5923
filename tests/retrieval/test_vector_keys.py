"""KeyRows, the store's compact key → location map, against a dict doing the same."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import vector_keys
from retrieval.vector_keys import KeyRows


def keys(count: int, seed: int) -> list[bytes]:
    raw = np.random.default_rng(seed).bytes(16 * count)
    return [raw[i : i + 16] for i in range(0, len(raw), 16)]


def test_it_finds_what_a_dict_finds_through_puts_merges_and_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vector_keys, "_MERGE_AT", 50)  # the dict merged in often
    rng = np.random.default_rng(0)
    pool = keys(600, seed=1)
    # Keys sharing their first 8 bytes, or ending in zero bytes.
    pool += [pool[0][:8] + bytes(8), pool[0][:8] + b"\xff" * 8, bytes(16), b"\x01" + bytes(15)]
    rows, expected = KeyRows(), dict[bytes, int]()
    for step in range(40):
        picked = [pool[int(i)] for i in rng.integers(0, len(pool), 30)]
        codes = rng.integers(0, 1 << 40, len(picked))
        if step % 3:
            for key, code in zip(picked, codes.tolist(), strict=True):
                rows.put(key, code)
                expected[key] = code
        else:  # a key twice within one batch: the last counts
            rows.put_many(b"".join(picked), codes)
            expected.update(zip(picked, codes.tolist(), strict=True))
        asked = [pool[int(i)] for i in rng.integers(0, len(pool), 50)]
        got = rows.locations(asked).tolist()
        assert got == [expected.get(k, -1) for k in asked]
        assert [rows.get(k) for k in asked] == [expected.get(k) for k in asked]
        assert len(rows) == len(expected)
    assert rows.missing([*pool, pool[0]]) == [k for k in pool if k not in expected]
    assert rows.nbytes() == 24 * len(expected)


def test_an_empty_map_holds_nothing() -> None:
    rows = KeyRows()
    assert len(rows) == 0 and rows.get(bytes(16)) is None and bytes(16) not in rows
    assert rows.locations([]).tolist() == [] and rows.locations(keys(3, 2)).tolist() == [-1] * 3
    assert rows.missing(keys(2, 3)) == keys(2, 3)
