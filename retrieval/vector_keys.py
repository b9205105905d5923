"""Where each text's vector is: its 16-byte key → a location, kept compactly.

A dict of bytes to int costs about 150 bytes an entry (the key's object, the int's, the
table): half a gigabyte for the 3.4 million windows and sentences of a million passages,
more than their vectors' sign bits.  `KeyRows` keeps the keys sorted, as two uint64
arrays (a key's first and last 8 bytes), with their locations in an int64 array beside
them: 24 bytes an entry, found by binary search.  Keys put one by one (the background
embedder adds 256 at a time) wait in a small dict until the next lookup of many, which
merges them in.

A key put again takes its new location: the store's later chunk counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

KEY_BYTES = 16
Codes = NDArray[np.int64]
Words = NDArray[np.uint64]
# Keys waiting in the dict past which a put merges them at once.
_MERGE_AT = 1 << 16


def _words(raw: bytes) -> tuple[Words, Words]:
    words = np.frombuffer(raw, dtype=np.uint64).reshape(-1, 2)
    return words[:, 0], words[:, 1]


class KeyRows:
    """16-byte keys → int64 locations (see the module's docstring)."""

    def __init__(self) -> None:
        self._high: Words = np.zeros(0, dtype=np.uint64)
        self._low: Words = np.zeros(0, dtype=np.uint64)
        self._codes: Codes = np.zeros(0, dtype=np.int64)
        self._waiting: dict[bytes, int] = {}

    def __len__(self) -> int:
        self._merge_waiting()
        return len(self._codes)

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def get(self, key: bytes) -> int | None:
        code = self._waiting.get(key)
        if code is not None:
            return code
        at = int(self._positions(*_words(key))[0])
        return None if at < 0 else int(self._codes[at])

    def put(self, key: bytes, code: int) -> None:
        self._waiting[key] = code
        if len(self._waiting) >= _MERGE_AT:
            self._merge_waiting()

    def put_many(self, raw: bytes, codes: Codes) -> None:
        """Keys `raw` (KEY_BYTES each, joined) at `codes`; within them the last counts."""
        self._merge_waiting()
        self._merge(*_words(raw), np.asarray(codes, dtype=np.int64))

    def locations(self, keys: Sequence[bytes]) -> Codes:
        """Each key's location, -1 for a key not held."""
        self._merge_waiting()
        if not keys:
            return np.zeros(0, dtype=np.int64)
        at = self._positions(*_words(b"".join(keys)))
        return np.where(at >= 0, self._codes[np.maximum(at, 0)], -1) if len(self._codes) else at

    def missing(self, keys: Iterable[bytes]) -> list[bytes]:
        """The keys not held, each once, in the order first given."""
        asked = keys if isinstance(keys, list) else list(keys)
        # Looked up as they come (most are held), and only those not held made distinct.
        absent = np.flatnonzero(self.locations(asked) < 0).tolist()
        return list(dict.fromkeys(asked[i] for i in absent))

    def nbytes(self) -> int:
        return self._high.nbytes + self._low.nbytes + self._codes.nbytes

    def _merge_waiting(self) -> None:
        if not self._waiting:
            return
        raw = b"".join(self._waiting)
        codes = np.fromiter(self._waiting.values(), dtype=np.int64, count=len(self._waiting))
        self._waiting = {}
        self._merge(*_words(raw), codes)

    def _merge(self, high: Words, low: Words, codes: Codes) -> None:
        if not len(codes):
            return
        # Sorted by key, and of a key given twice only the last kept.
        order = np.lexsort((np.arange(len(codes)), low, high))
        high, low, codes = high[order], low[order], codes[order]
        last = np.ones(len(codes), dtype=bool)
        last[:-1] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
        high, low, codes = high[last], low[last], codes[last]
        at = self._positions(high, low)
        held = at >= 0
        self._codes[at[held]] = codes[held]
        new = ~held
        if not new.any():
            return
        high, low, codes = high[new], low[new], codes[new]
        into = self._insertion_points(high, low)
        self._high = np.insert(self._high, into, high)
        self._low = np.insert(self._low, into, low)
        self._codes = np.insert(self._codes, into, codes)

    def _insertion_points(self, high: Words, low: Words) -> Codes:
        """Where keys (sorted, none of them held) go to keep the arrays sorted."""
        into: Codes = np.searchsorted(self._high, high, side="left").astype(np.int64)
        size = len(self._high)
        if not size:
            return into
        # Keys sharing their first 8 bytes with a held one (one in 10^12 pairs for
        # sha256) are ordered by their last 8.
        for i in np.flatnonzero((into < size) & (self._high[np.minimum(into, size - 1)] == high)):
            j = int(into[i])
            while j < size and self._high[j] == high[i] and self._low[j] < low[i]:
                j += 1
            into[i] = j
        return into

    def _positions(self, high: Words, low: Words) -> Codes:
        """The index of each key in the sorted arrays, -1 where it is not held."""
        size = len(self._high)
        found = np.full(len(high), -1, dtype=np.int64)
        if not size or not len(high):
            return found
        # The queries sorted first: a search in order reads the arrays in order.
        order = np.argsort(high, kind="stable")
        at = np.searchsorted(self._high, high[order], side="left")
        clipped = np.minimum(at, size - 1)
        same_high = (at < size) & (self._high[clipped] == high[order])
        match = same_high & (self._low[clipped] == low[order])
        found[order[match]] = at[match]
        for i in np.flatnonzero(same_high & ~match):  # a shared first half: look further
            j = int(at[i]) + 1
            query = order[i]
            while j < size and self._high[j] == high[query]:
                if self._low[j] == low[query]:
                    found[query] = j
                    break
                j += 1
        return found
