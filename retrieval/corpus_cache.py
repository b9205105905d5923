"""How a built corpus is stored in the index cache, and what keys it.

The cache key (`retrieval.index_store.fingerprint`) combines the report files'
signatures, the analyzer's fingerprint and `code_version()`; the payload is
the corpus (`retrieval.corpus.Corpus`) pickled to load fast (`pickle_corpus`), next to the listing
of the files it was built from.  `source_id` names what an entry was built for
(a folder, its settings, this code), so a live library can take the newest one
and read again only what changed.  `retrieval.search` decides when to use them.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from retrieval.corpus import Corpus
from retrieval.listing import Lister, list_reports
from retrieval.models import Report
from retrieval.record_views import pack
from retrieval.records import Fields, Records, Sharer
from retrieval.stored_columns import read_columns, write_columns

log = logging.getLogger(__name__)

# The modules whose code decides what the cached corpus holds (see code_version).
_CORPUS_MODULES = (
    "models.py",
    "formats.py",
    "format_html.py",
    "format_pdf.py",
    "format_docx.py",
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
    "languages.py",
    "language_arrays.py",
    "cache_stamps.py",  # the detector's model and arrays are hashed by it
    "language_kernel.py",
    "language_walk.py",
    "scripts.py",
    "answer_types.py",
    "rerank.py",
    "rerank_profile.py",
    "rerank_pack.py",
    # The cached passage index holds the forward index stage two reads.
    "bm25.py",
    "bm25_build.py",
    "bm25_file.py",
    "bm25_forward.py",
    "forward_tokens.py",
    "scorer.py",
    "corpus.py",
    "corpus_rows.py",
    "search.py",
    "corpus_cache.py",
    "records.py",
    "record_views.py",
    "stored_columns.py",
    "row_codecs.py",
)


# The payload's first bytes: this layout, version 6 (1 was one pickle of the whole corpus,
# 2 kept the tokens too, 3 the reports' paragraphs in the header, 4 their other fields,
# 5 the passages' sentences as strings, 6 the reports' paths in their rows alone).
_MAGIC = b"RBCORP07"
_HEADER_AT = len(_MAGIC) + 8  # where the columns start: after the magic and the header's place
# The columns a question reads a few items of, and only a reload reads whole: kept in
# the file (retrieval.stored_columns).  The rest is small and unpickled at load.
_STORED = ("passages", "profiles")
# The reports' rows, and the fields read for every report at once (retrieval.records):
# the ids and languages when an engine starts, the dates for /latest, the paths (and
# ids) when a live library first cuts the corpus into parts (retrieval.record_views).
_REPORT_ROWS = "report_rows"
_REPORT_FIELDS = "report_fields"
_WHOLE = ("id", "language", "published", "path")
# Kept in neither: the BM25 indexes hold them, as term ids (retrieval.forward_tokens).
_IN_INDEXES = ("passage_tokens", "report_tokens")


def pickle_corpus(corpus: Corpus) -> bytearray:
    """The cache payload: the magic bytes, where the header starts, the big columns,
    then the header (the corpus without those columns, pickled, and where they lie).

    The reports are stored as `retrieval.records.Records` (rows of field values, each
    record made on first use), their rows and the `_WHOLE` fields as
    `retrieval.stored_columns` columns, as are the passages and their profiles: read
    item by item from the mapped file.  Field order is then part of the payload, which
    is why models.py, rerank.py, records.py and stored_columns.py are among the
    _CORPUS_MODULES.
    """
    reports = pack(corpus.reports, Sharer())
    stored = {name: getattr(corpus, name) for name in _STORED}
    in_columns = isinstance(reports, Records) and reports.record_class is Report
    if isinstance(reports, Records) and in_columns:
        stored[_REPORT_ROWS] = reports.rows
        stored[_REPORT_FIELDS] = [reports.column(name) for name in _WHOLE]
        reports = ()
    small = dataclasses.replace(
        corpus,
        reports=reports,
        **{name: () for name in (*_STORED, *_IN_INDEXES)},
    )
    payload = bytearray(_MAGIC + bytes(8))
    specs = write_columns(stored, payload)
    header_at = len(payload)
    payload[len(_MAGIC) : _HEADER_AT] = header_at.to_bytes(8, "little")
    header = {"corpus": small, "reports_in_columns": in_columns, "columns": specs}
    payload += pickle.dumps(header, pickle.HIGHEST_PROTOCOL)
    return payload


def unpickle_corpus(payload: bytes | bytearray | memoryview) -> object:
    """A cached corpus: its header unpickled, its big columns read from `payload` as
    questions need them (so `payload` may be the mapped file).

    Unpickling with the collector on makes it walk the growing heap again and again,
    so it is paused meanwhile and back in the state it was in when this returns.  The
    objects made then sit in the collector's youngest generation; freezing them
    (`gc.freeze()`) is a decision for the whole process, so it is left to the caller:
    a long-running one loads the index with the collector off and freezes before
    turning it back on,

        gc.disable()
        library = Library.open(reports, cache_dir=cache)
        gc.freeze()
        gc.enable()

    None when the payload cannot be read: the caller rebuilds, as for any bad cache.
    """
    view = memoryview(payload)
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        log.warning("cached index payload is in another format; rebuilding")
        return None
    enabled = gc.isenabled()
    gc.disable()
    try:
        header = pickle.loads(view[int.from_bytes(view[len(_MAGIC) : _HEADER_AT], "little") :])
        columns: dict[str, object] = dict(read_columns(view, header["columns"]))
        if header["reports_in_columns"]:
            fields = Fields(_WHOLE, columns.pop(_REPORT_FIELDS))  # type: ignore[arg-type]
            rows = columns.pop(_REPORT_ROWS)
            columns["reports"] = Records(Report, rows, fields)  # type: ignore[arg-type]
        return dataclasses.replace(header["corpus"], **columns)
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


def unpickle_listing(payload: bytes | memoryview) -> list[tuple[str, int, int]] | None:
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
