"""Text vectors kept on disk, so that a text is embedded once, ever.

The semantic stage embeds every window and sentence of the reports, which takes minutes
on two cores for ten thousand reports; a restart, or a rebuild after one report changed,
must not pay it again.  A `VectorStore` maps the sha256 of a text to its vector, for one
model (`model_id`): the folder holds append-only chunks, each a `.keys` file (16 bytes of
sha256 per text) and a `.npy` file of float16 rows.  Chunks are written whole to a
temporary name and renamed, so a crash or a full disk leaves either a whole chunk or
none; a damaged chunk is skipped (its texts are embedded again) and named in one log line.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

KEY_BYTES = 16
_CHUNK = re.compile(r"chunk-(\d{6})\.keys")


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


class VectorStore:
    """sha256(text) → vector, in memory and (when `folder` is given) on disk.

    Thread-safe: the background embedder adds while searches read."""

    def __init__(self, folder: Path | None, model_id: str, dimension: int) -> None:
        self.dimension = dimension
        self.folder = None if folder is None else folder / _safe(model_id)
        self._lock = threading.Lock()
        self._rows: dict[bytes, tuple[int, int]] = {}
        self._chunks: list[NDArray[np.float16]] = []
        self._next_chunk = 0
        self._disk_ok = self.folder is not None
        if self.folder is not None:
            self._load(self.folder)
            log.info("%d embedding vectors kept in %s", len(self._rows), self.folder)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: bytes) -> bool:
        return key in self._rows

    def missing(self, keys: Iterable[bytes]) -> list[bytes]:
        """The keys with no vector yet, each once, in the order first given."""
        rows = self._rows
        return [k for k in dict.fromkeys(keys) if k not in rows]

    def gather(self, keys: Sequence[bytes]) -> NDArray[np.float32]:
        """The vectors of `keys` ([len(keys), dimension], float32); each must be held."""
        out = np.empty((len(keys), self.dimension), dtype=np.float32)
        with self._lock:
            where = [self._rows[k] for k in keys]
            chunks = list(self._chunks)
        by_chunk: dict[int, tuple[list[int], list[int]]] = {}
        for i, (chunk, row) in enumerate(where):
            targets, rows = by_chunk.setdefault(chunk, ([], []))
            targets.append(i)
            rows.append(row)
        for chunk, (targets, rows) in by_chunk.items():
            out[targets] = chunks[chunk][rows]
        return out

    def add(self, keys: Sequence[bytes], vectors: NDArray[np.floating]) -> None:
        """Keep `vectors` (one row per key) and write them as one chunk when on disk."""
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        if not keys:
            return
        rows = np.ascontiguousarray(vectors, dtype=np.float16)
        with self._lock:
            number = self._next_chunk
            self._next_chunk += 1
            # Once written, the chunk is read back memory-mapped: the page cache holds it,
            # not the process (the engine keeps its own float32 copy for searching).
            written = self._write(number, keys, rows) if self._disk_ok else None
            self._chunks.append(rows if written is None else written)
            chunk = len(self._chunks) - 1
            for row, key in enumerate(keys):
                self._rows[key] = (chunk, row)

    def _write(
        self, number: int, keys: Sequence[bytes], rows: NDArray[np.float16]
    ) -> NDArray[np.float16] | None:
        """The chunk as written, memory-mapped; None when it could not be written."""
        assert self.folder is not None
        stem = self.folder / f"chunk-{number:06d}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = stem.with_suffix(".npy.tmp")
            with temporary.open("wb") as file:
                np.save(file, rows)
            os.replace(temporary, stem.with_suffix(".npy"))
            temporary = stem.with_suffix(".keys.tmp")
            temporary.write_bytes(b"".join(keys))
            # The keys last: a chunk counts once its keys file exists.
            os.replace(temporary, stem.with_suffix(".keys"))
            mapped: NDArray[np.float16] = np.load(stem.with_suffix(".npy"), mmap_mode="r")
            return mapped
        except OSError as error:
            # Vectors stay in memory: the bot goes on, and embeds them again after a restart.
            self._disk_ok = False
            log.warning(
                "cannot write embedding vectors to %s (%s): they are kept in memory only "
                "until the next start; free some space there",
                self.folder,
                error.strerror or error,
            )
            for suffix in (".npy.tmp", ".keys.tmp"):
                with contextlib.suppress(OSError):  # the folder itself may be what failed
                    stem.with_suffix(suffix).unlink(missing_ok=True)
            return None

    def _load(self, folder: Path) -> None:
        try:
            names = sorted(p.name for p in folder.iterdir())
        except FileNotFoundError:
            return
        except OSError as error:
            log.warning("cannot read the embedding vectors in %s: %s", folder, error)
            return
        for name in names:
            found = _CHUNK.fullmatch(name)
            if found is None:
                continue
            number = int(found.group(1))
            self._next_chunk = max(self._next_chunk, number + 1)
            keys_path = folder / name
            try:
                raw = keys_path.read_bytes()
                rows = np.load(keys_path.with_suffix(".npy"), mmap_mode="r")
            except (OSError, ValueError) as error:
                log.warning("skipping the damaged embedding chunk %s: %s", keys_path, error)
                continue
            count = len(raw) // KEY_BYTES
            if len(raw) % KEY_BYTES or rows.shape != (count, self.dimension):
                log.warning(
                    "skipping the damaged embedding chunk %s: %d key bytes for rows %s",
                    keys_path,
                    len(raw),
                    rows.shape,
                )
                continue
            chunk = len(self._chunks)
            self._chunks.append(rows)
            for row in range(count):
                self._rows[raw[row * KEY_BYTES : (row + 1) * KEY_BYTES]] = (chunk, row)


def _safe(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", model_id)[:80]
