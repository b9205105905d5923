"""Text vectors kept on disk, so that a text is embedded once, ever.

The semantic stage embeds every window and sentence of the reports, which takes minutes
on two cores for ten thousand reports; a restart, or a rebuild after one report changed,
must not pay it again.  A `VectorStore` maps the sha256 of a text to its vector, for one
model (`model_id`).  The folder holds append-only chunks, each a `.keys` file (16 bytes of
sha256 per text), int8 rows and a float32 scale per row (`vector_quant`): about 390 bytes
a vector, memory-mapped once written, so the page cache holds them, once for every
process reading the folder.  Files are written whole to a temporary name and renamed,
the keys last, so a crash or a full disk leaves either a whole chunk or none; a damaged
chunk is skipped (its texts are embedded again) and named in one log line.

Chunks of the first layout (`chunk-N.keys` with float16 rows) are converted on load, and
many small chunks (the background embedder writes 256 rows at a time) are merged into
one, so that a search scans a few large arrays: both write the new chunk before they
remove the old files, and a key a later chunk holds counts there, so a crash half-way
only leaves rows that are merged away at the next start.

Which row holds a key's vector is kept by `retrieval.vector_keys.KeyRows`: sorted arrays,
24 bytes a text, not a dict's 150.

`snapshot()` and `locate()` give an index its own view: the chunks held at that moment,
which later additions and merges never change.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retrieval.vector_keys import KEY_BYTES, KeyRows
from retrieval.vector_quant import Chunk, Snapshot, quantise, sign_bits, words_for

log = logging.getLogger(__name__)

_CHUNK = re.compile(r"int8-(\d{6})\.keys")
_OLD_CHUNK = re.compile(r"chunk-(\d{6})\.keys")  # float16 rows: converted on load
# Merging: chunks under SMALL rows are merged once there are MANY of them.
SMALL = 16_384
MANY = 32
BIG = 1 << 18  # rows a merged chunk holds at most (100 MB at 384 dimensions)
_ROW_BITS = 32  # a location is chunk id << _ROW_BITS | row
# A chunk's files, the keys first: without them the rest does not count.
_PARTS = (".keys", ".rows.npy", ".scales.npy", ".signs.npy")


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


@dataclass(slots=True)
class _Held:
    chunk: Chunk
    number: int | None  # its files' number on disk, None when in memory only
    keys: bytes | None  # kept for small chunks only: a merge reads them


class VectorStore:
    """sha256(text) → vector, in memory and (when `folder` is given) on disk.

    Thread-safe: the background embedder adds while searches read."""

    def __init__(self, folder: Path | None, model_id: str, dimension: int) -> None:
        self.dimension = dimension
        self.folder = None if folder is None else folder / _safe(model_id)
        self._lock = threading.Lock()
        self._rows = KeyRows()  # key → chunk id << _ROW_BITS | row
        self._held: dict[int, _Held] = {}  # by chunk id, in the order added
        self._next_id = 0
        self._next_chunk = 0
        self._disk_ok = self.folder is not None
        if self.folder is not None:
            self._merge(self._load(self.folder), self._small())
            log.info("%d embedding vectors kept in %s", len(self._rows), self.folder)

    def __len__(self) -> int:
        with self._lock:  # a lookup may merge the keys put meanwhile
            return len(self._rows)

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._rows

    def missing(self, keys: Iterable[bytes]) -> list[bytes]:
        """The keys with no vector yet, each once, in the order first given."""
        with self._lock:
            return self._rows.missing(keys)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot()

    def locate(self, *key_lists: Sequence[bytes]) -> tuple[Snapshot, list[NDArray[np.int64]]]:
        """The chunks held now, and each key's row in them; each key must be held."""
        with self._lock:
            snapshot = self._snapshot()
            codes = [self._rows.locations(keys) for keys in key_lists]
        if any(len(c) and c.min() < 0 for c in codes):
            raise KeyError("locate() was given a key the store does not hold")
        mask = (1 << _ROW_BITS) - 1
        return snapshot, [snapshot.first_row[c >> _ROW_BITS] + (c & mask) for c in codes]

    def gather(self, keys: Sequence[bytes]) -> NDArray[np.float32]:
        """The vectors of `keys` ([len(keys), dimension], float32, as stored)."""
        snapshot, (rows,) = self.locate(keys)
        return snapshot.vectors(rows)

    def nbytes(self) -> int:
        """What the chunks take, mapped or in memory."""
        return self.snapshot().nbytes()

    def add(self, keys: Sequence[bytes], vectors: NDArray[np.floating]) -> None:
        """Keep `vectors` (one row per key) and write them as one chunk when on disk."""
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        if not keys:
            return
        chunk = quantise(np.asarray(vectors, dtype=np.float32))
        with self._lock:
            self._keep(list(keys), chunk)
            self._merge([], self._small())

    def _small(self) -> list[int]:
        return [ident for ident, held in self._held.items() if held.keys is not None]

    def _keep(self, keys: list[bytes], chunk: Chunk) -> None:
        """Hold `chunk` (written first when on disk); the lock is held."""
        number: int | None = None
        if self._disk_ok:
            number = self._next_chunk
            self._next_chunk += 1
            written = self._write(number, keys, chunk)
            if written is None:
                number = None
            else:
                chunk = written
        ident = self._next_id
        self._next_id += 1
        raw = b"".join(keys) if len(keys) < SMALL else None
        self._held[ident] = _Held(chunk, number, raw)
        if len(keys) < SMALL:  # the embedder's: merged into the sorted keys now and then
            for row, key in enumerate(keys):
                self._rows.put(key, ident << _ROW_BITS | row)
        else:
            self._rows.put_many(b"".join(keys), (ident << _ROW_BITS) + np.arange(len(keys)))

    def _merge(self, old: list[tuple[int, bytes, Path]], small: list[int]) -> None:
        """Chunks of what the `small` chunks (by id) and the `old` ones (first layout,
        not held yet) hold that no later chunk does; then their files go.  The lock is
        held, or the store is not shared yet."""
        if not old and len(small) < MANY:
            return
        pending: tuple[list[bytes], list[Chunk]] = ([], [])

        def hold(keys: list[bytes], chunk: Chunk, flush: bool = False) -> None:
            pending[0].extend(keys)
            pending[1].append(chunk)
            # Written every BIG rows: a conversion never holds the whole archive in memory.
            if pending[0] and (flush or len(pending[0]) >= BIG):
                self._keep(pending[0], Chunk.concatenate(pending[1], self.dimension))
                pending[0].clear()
                pending[1].clear()

        for ident in small:
            held = self._held[ident]
            assert held.keys is not None
            owners = self._rows.locations(_split(held.keys)) >> _ROW_BITS
            live = np.flatnonzero(owners == ident).tolist()
            hold(
                [held.keys[r * KEY_BYTES : (r + 1) * KEY_BYTES] for r in live],
                held.chunk.take(live),
            )
        converted = 0
        fresh_keys: set[bytes] = set()  # the old chunks' keys taken so far
        for _, raw, path in old:
            try:
                chunk = _read_float16(path, len(raw) // KEY_BYTES, self.dimension)
            except (OSError, ValueError) as error:
                log.warning("skipping the damaged embedding chunk %s: %s", path, error)
                continue
            known = self._rows.locations(_split(raw))
            live, fresh = [], []
            for r, key in enumerate(_split(raw)):
                if known[r] < 0 and key not in fresh_keys:  # a key twice: the first row counts
                    fresh_keys.add(key)
                    live.append(r)
                    fresh.append(key)
            hold(fresh, chunk.take(live))
            converted += 1
        hold([], Chunk.concatenate([], self.dimension), flush=True)
        for ident in small:
            number = self._held.pop(ident).number
            if number is not None:
                self._remove(f"int8-{number:06d}", _PARTS)
        for number, _, _ in old:
            self._remove(f"chunk-{number:06d}", (".keys", ".npy"))
        if converted:
            log.info("converted %d float16 embedding chunks in %s to int8", converted, self.folder)

    def _remove(self, stem: str, suffixes: tuple[str, ...]) -> None:
        if self.folder is None or not self._disk_ok:
            return
        for suffix in suffixes:  # the keys first: without them the rest does not count
            with contextlib.suppress(OSError):
                (self.folder / f"{stem}{suffix}").unlink(missing_ok=True)

    def _snapshot(self) -> Snapshot:
        chunks = tuple(h.chunk for h in self._held.values())
        first_row = np.zeros(self._next_id, dtype=np.int64)
        sizes = [len(c) for c in chunks]
        first_row[list(self._held)] = np.cumsum([0, *sizes], dtype=np.int64)[:-1]
        return Snapshot(chunks, first_row)

    def _write(self, number: int, keys: Sequence[bytes], chunk: Chunk) -> Chunk | None:
        """The chunk as written, memory-mapped; None when it could not be written."""
        assert self.folder is not None
        stem = self.folder / f"int8-{number:06d}"
        parts = (
            (".rows.npy", chunk.rows),
            (".scales.npy", chunk.scales),
            (".signs.npy", chunk.signs),
        )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for suffix, array in parts:
                temporary = Path(f"{stem}{suffix}.tmp")
                with temporary.open("wb") as file:
                    np.save(file, array)
                os.replace(temporary, f"{stem}{suffix}")
            temporary = Path(f"{stem}.keys.tmp")
            temporary.write_bytes(b"".join(keys))
            # The keys last: a chunk counts once its keys file exists.
            os.replace(temporary, f"{stem}.keys")
            return _read(stem, len(keys), self.dimension)
        except (OSError, ValueError) as error:
            # Vectors stay in memory: the bot goes on, and embeds them again after a restart.
            self._disk_ok = False
            log.warning(
                "cannot write embedding vectors to %s (%s): they are kept in memory only "
                "until the next start; free some space there",
                self.folder,
                getattr(error, "strerror", None) or error,
            )
            for suffix in (".rows.npy.tmp", ".scales.npy.tmp", ".signs.npy.tmp", ".keys.tmp"):
                with contextlib.suppress(OSError):  # the folder itself may be what failed
                    Path(f"{stem}{suffix}").unlink(missing_ok=True)
            return None

    def _load(self, folder: Path) -> list[tuple[int, bytes, Path]]:
        """Hold the chunks of `folder`; the first layout's, to be converted."""
        try:
            names = sorted(p.name for p in folder.iterdir())
        except FileNotFoundError:
            return []
        except OSError as error:
            log.warning("cannot read the embedding vectors in %s: %s", folder, error)
            return []
        old: list[tuple[int, bytes, Path]] = []
        # Every chunk's keys, in load order, put at once: one sort, not one merge a chunk.
        keys: list[bytes] = []
        codes: list[NDArray[np.int64]] = []
        for name in names:
            found = _CHUNK.fullmatch(name) or _OLD_CHUNK.fullmatch(name)
            if found is None:
                continue
            number = int(found.group(1))
            keys_path = folder / name
            try:
                raw = keys_path.read_bytes()
                if len(raw) % KEY_BYTES:
                    raise ValueError(f"{len(raw)} key bytes")
                count = len(raw) // KEY_BYTES
                if found.re is _OLD_CHUNK:
                    old.append((number, raw, keys_path))
                    continue
                self._next_chunk = max(self._next_chunk, number + 1)
                chunk = _read(folder / name.removesuffix(".keys"), count, self.dimension)
            except (OSError, ValueError) as error:
                log.warning("skipping the damaged embedding chunk %s: %s", keys_path, error)
                continue
            ident = self._next_id
            self._next_id += 1
            self._held[ident] = _Held(chunk, number, raw if count < SMALL else None)
            keys.append(raw)
            codes.append((ident << _ROW_BITS) + np.arange(count, dtype=np.int64))
        if keys:  # a key in two chunks: the later one counts, as put_many keeps the last
            self._rows.put_many(b"".join(keys), np.concatenate(codes))
        return old


def _read(stem: Path, count: int, dimension: int) -> Chunk:
    rows = np.load(f"{stem}.rows.npy", mmap_mode="r")
    scales = np.load(f"{stem}.scales.npy", mmap_mode="r")
    if rows.dtype != np.int8 or scales.dtype != np.float32:
        raise ValueError(f"rows of {rows.dtype} and scales of {scales.dtype}")
    if rows.shape != (count, dimension) or scales.shape != (count,):
        raise ValueError(f"{count} keys for rows {rows.shape} and scales {scales.shape}")
    return Chunk(rows, scales, _signs(stem, rows))


def _signs(stem: Path, rows: NDArray[np.int8]) -> NDArray[np.uint64]:
    """The chunk's sign bits, mapped; a chunk written before they were kept gets them
    computed once (a pass over its rows) and written beside it."""
    path = Path(f"{stem}.signs.npy")
    words = (len(rows), words_for(rows.shape[1]))
    with contextlib.suppress(OSError, ValueError, EOFError):  # missing or damaged: made again
        mapped: NDArray[np.uint64] = np.load(path, mmap_mode="r")
        if mapped.dtype == np.uint64 and mapped.shape == words:
            return mapped
    signs = sign_bits(rows)
    temporary = Path(f"{path}.tmp")
    try:
        with temporary.open("wb") as file:
            np.save(file, signs)
        os.replace(temporary, path)
    except OSError:  # kept in memory: the next start computes them again
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return signs


def _read_float16(keys_path: Path, count: int, dimension: int) -> Chunk:
    rows = np.load(keys_path.with_suffix(".npy"), mmap_mode="r")
    if rows.shape != (count, dimension):
        raise ValueError(f"{count} keys for rows {rows.shape}")
    return quantise(np.asarray(rows, dtype=np.float32))


def _split(raw: bytes) -> list[bytes]:
    return [raw[i : i + KEY_BYTES] for i in range(0, len(raw), KEY_BYTES)]


def _safe(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", model_id)[:80]
