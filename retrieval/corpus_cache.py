"""How a built corpus is stored in the index cache, and what keys it.

The cache key (`retrieval.index_store.fingerprint`) combines the report files'
signatures, the analyzer's fingerprint and `code_version()`; the payload is
the corpus (`retrieval.corpus.Corpus`) pickled to load fast, next to the listing
of the files it was built from.  `source_id` names what an entry was built for
(a folder, its settings, this code), so a live library can take the newest one
and read again only what changed.  `retrieval.search` decides when to use them.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import importlib
import io
import json
import logging
import os
import pickle
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrieval.listing import Lister, list_reports

log = logging.getLogger(__name__)

# The modules whose code decides what the cached corpus holds (see code_version).
_CORPUS_MODULES = (
    "models.py",
    "formats.py",
    "loader.py",
    "loader_io.py",
    "listing.py",
    "folder.py",
    "library.py",
    "changes.py",
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
    """Pickles a dataclass record as a call of a maker with its field values.

    By default a slotted dataclass is restored through `__setstate__`, which
    looks up the class's fields again for each of the 100,000s of records, and
    even its generated `__init__` sets each field of a frozen class through
    `object.__setattr__`.  The maker (`_maker`) sets the slots directly and
    builds records in half the time: the corpus of 100,000 small reports loads
    in about 0.6 s instead of 1.1 s.  Only for classes whose `__init__` takes
    every field positionally and does nothing else; others pickle as usual.
    Field order is then part of the payload, which is why models.py and
    rerank.py are among the _CORPUS_MODULES.

    Equal immutable values in records (strings, dates, frozensets, short tuples
    of them) are pickled once and shared on loading: 100,000 reports dated by
    the same file time, or 400,000 empty cue sets, are then one object each,
    which loads faster and takes less memory.  (Sharing is safe because they
    are immutable; records themselves are never shared.)
    """

    def __init__(self, file: io.BytesIO, protocol: int) -> None:
        super().__init__(file, protocol)
        self._fields: dict[type, tuple[str, ...] | None] = {}
        self._values: dict[object, object] = {}

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls not in self._fields:
            self._fields[cls] = _init_fields(cls)
        names = self._fields[cls]
        if names is None:
            return NotImplemented
        return _maker(cls), tuple([self._shared(getattr(obj, name)) for name in names])

    def _shared(self, value: object) -> object:
        kind = type(value)
        if kind is str or kind is datetime or kind is frozenset:
            return self._values.setdefault(value, value)
        # A record's own tuples are short; the corpus's columns (records, interned
        # tokens) are long and gain nothing.
        if kind is tuple and len(value) <= _SHARED_TUPLE_ITEMS:  # type: ignore[arg-type]
            items = tuple([self._shared(item) for item in value])  # type: ignore[attr-defined]
            try:
                return self._values.setdefault(items, items)
            except TypeError:  # something unhashable inside: shared items, own tuple
                return items
        return value


_SHARED_TUPLE_ITEMS = 64
_MAKER_PREFIX = "_make__"


def _maker(cls: type) -> Any:
    """A function of this module that builds a `cls` from its field values in order:
    `cls` itself, unless every field is a slot, which it then sets directly."""
    name = f"{_MAKER_PREFIX}{cls.__module__}__{cls.__qualname__}".replace(".", "_dot_")
    made = globals().get(name)
    if made is not None:
        return made
    fields = _init_fields(cls)
    slots = [cls.__dict__.get(field) for field in fields or ()]
    if fields is None or not all(type(slot).__name__ == "member_descriptor" for slot in slots):
        return cls
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    namespace.update({f"set{i}": slot.__set__ for i, slot in enumerate(slots)})  # type: ignore[union-attr]
    values = ", ".join(f"v{i}" for i in range(len(slots)))
    body = "".join(f"    set{i}(record, v{i})\n" for i in range(len(slots)))
    exec(f"def {name}({values}):\n    record = new(cls)\n{body}    return record\n", namespace)
    made = namespace[name]
    made.__module__, made.__qualname__ = __name__, name
    globals()[name] = made
    return made


def __getattr__(name: str) -> Any:
    """The makers a payload names, made again on loading (see _RecordPickler)."""
    if not name.startswith(_MAKER_PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, qualname = name[len(_MAKER_PREFIX) :].replace("_dot_", ".").rpartition("__")
    if not module.startswith("retrieval."):
        raise AttributeError(f"{name!r} names a class outside retrieval")
    cls = getattr(importlib.import_module(module), qualname)
    made = _maker(cls)
    if made is cls:
        raise AttributeError(f"{qualname} can no longer be made field by field")
    return made


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


def file_signatures(
    root: Path, *, follow_outside_links: bool = False
) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of each file the loader would read: the cache key.

    Files that vanish or cannot be stat'ed are left out: the loader reports them.
    """
    if not root.is_dir():
        return [(root.name, size, mtime) for _, (size, mtime) in list_reports(root)]
    lister = Lister(root, follow_outside_links=follow_outside_links)
    files = lister.walk().files
    return [(lister.relative(path), size, mtime) for path, (size, mtime) in files.items()]


def source_id(root: Path, follow_outside_links: bool, analyzer_fingerprint: str) -> str:
    """What an index was built for: this folder (wherever the process runs from), which
    links were followed, the analyzer settings and this code."""
    material = [os.path.abspath(root), follow_outside_links, analyzer_fingerprint, code_version()]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:32]


def pickle_listing(signatures: Sequence[tuple[str, int, int]]) -> bytes:
    return pickle.dumps([tuple(s) for s in signatures], pickle.HIGHEST_PROTOCOL)


def unpickle_listing(payload: bytes) -> list[tuple[str, int, int]] | None:
    """A listing written by `pickle_listing`; None when it is not one."""
    try:
        listing = pickle.loads(payload)
    except Exception as error:
        log.warning("cached listing cannot be read (%r); rebuilding", error)
        return None
    # What pickle_listing wrote, checksummed by the index store: a look at the first
    # item is enough to tell another format (looking at all 100,000 is not cheap).
    if not isinstance(listing, list) or not all(
        isinstance(item, tuple) and len(item) == 3 for item in listing[:1]
    ):
        return None
    return listing


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
