"""How a built corpus is stored in the index cache, and what keys it.

The cache key (`retrieval.index_store.fingerprint`) combines the report files'
signatures, the analyzer's fingerprint and `code_version()`; the payload is
the corpus (`retrieval.corpus.Corpus`) pickled to load fast.  `retrieval.search`
decides when to use it.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import io
import logging
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrieval.loader import report_files

log = logging.getLogger(__name__)

# The modules whose code decides what the cached corpus holds (see code_version).
_CORPUS_MODULES = (
    "models.py",
    "formats.py",
    "loader.py",
    "sentences.py",
    "speakers.py",
    "passages.py",
    "analyzer.py",
    "answer_types.py",
    "rerank.py",
    "corpus.py",
    "search.py",
    "corpus_cache.py",
)


def pickle_corpus(corpus: object) -> bytes:
    """The cache payload: `corpus` pickled to load fast (see _RecordPickler, unpickle_corpus)."""
    buffer = io.BytesIO()
    _RecordPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(corpus)
    return buffer.getvalue()


class _RecordPickler(pickle.Pickler):
    """Pickles a dataclass record as a call of its constructor with its field values.

    By default a slotted dataclass is restored through `__setstate__`, which
    looks up the class's fields again for each of the 100,000s of records;
    calling the generated `__init__` loads the corpus in 0.5 s instead of
    0.8 s at 100k passages.  Only for classes whose `__init__` takes every
    field positionally and does nothing else; others pickle as usual.  Field
    order is then part of the payload, which is why models.py is one of the
    _CORPUS_MODULES.
    """

    def __init__(self, file: io.BytesIO, protocol: int) -> None:
        super().__init__(file, protocol)
        self._fields: dict[type, tuple[str, ...] | None] = {}

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls not in self._fields:
            self._fields[cls] = _init_fields(cls)
        names = self._fields[cls]
        if names is None:
            return NotImplemented
        return cls, tuple(getattr(obj, name) for name in names)


def _init_fields(cls: type) -> tuple[str, ...] | None:
    """The fields a record class's `__init__` takes, in order, when it takes all of
    them positionally and does nothing else; None otherwise."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    if not all(f.init and not f.kw_only for f in fields):
        return None
    return tuple(f.name for f in fields)


def unpickle_corpus(payload: bytes) -> object:
    """A cached corpus, unpickled with the cyclic garbage collector paused.

    Unpickling makes millions of objects (records, tuples, strings); with the
    collector on, it walks that growing heap again and again and the load takes
    five times longer (4 s instead of 0.8 s at 100k passages).  None of it is
    garbage.  The collector is back in the state it was in when this returns.

    The objects then sit in the collector's youngest generation, so the next
    collections walk all of them, though they live as long as the engine: about
    1 s in all at 100k passages, spent in whatever runs next (the rest of the
    load, or the first questions).  Freezing them (`gc.freeze()`) is a decision
    for the whole process, so it is left to the caller: a long-running one loads
    the index with the collector off and freezes before turning it back on,

        gc.disable()
        library = Library.open(reports, cache_dir=cache)
        gc.freeze()
        gc.enable()

    (`gc.freeze()` only after the load, with the collector on, is too late: the
    walks have happened inside it.)

    None when the payload does not unpickle: the caller rebuilds, as for any bad cache.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(payload)
    except Exception as error:  # e.g. a record class changed in a module outside the key
        log.warning("cached index payload cannot be read (%r); rebuilding", error)
        return None
    finally:
        if enabled:
            gc.enable()


def file_signatures(root: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of each file the loader would read: the cache key."""
    signatures: list[tuple[str, int, int]] = []
    for path in report_files(root):
        try:
            stat = path.stat()
        except OSError:
            continue  # vanished or unreadable: the loader reports it
        name = str(path.relative_to(root)) if root.is_dir() else path.name
        signatures.append((name, stat.st_size, stat.st_mtime_ns))
    return signatures


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the modules that shape the cached corpus.

    Any change to how reports are parsed, cut or indexed makes old caches
    stale on its own, so nobody has to remember to bump a version number.
    """
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for module in _CORPUS_MODULES:
        digest.update((package / module).read_bytes())
    return digest.hexdigest()[:16]
