"""The on-disk cache of a built search index, so a restart does not re-index.

An entry is a folder `index-<key>/` holding the scorer (`bm25.idx`), the
engine's opaque payload (`payload.bin`), optionally a second scorer over whole
reports (`reports.idx`) and the listing of the files it was built from
(`listing.bin`), and a `manifest.json` with the key, the source (which folder
and settings it was built for) and each file's size and sha256.  The key
fingerprints the report files and the analyzer settings, so changed reports or
settings miss the cache; `latest(source)` finds the newest entry of a source
whatever its files were, for a caller that brings it up to date itself.

Entries are written into a temporary folder and renamed into place, so a
reader sees a whole entry or none.  Anything that fails verification (a
changed byte, a cut file, a manifest for another key, another format) is
logged, deleted and reported as a miss: a bad cache is rebuilt, never served.

Once an entry has been hashed whole, its files' stamps are recorded, and a later
load of files that still have them maps them at once and hashes them in the
background (retrieval.cache_stamps): a restart does not wait for a gigabyte of
sha256.  A saved entry is hashed and stamped in the background as soon as its files
are old enough to stamp, so this holds for the first restart after a build too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Final, NamedTuple

from retrieval import cache_stamps
from retrieval.bm25 import FastBM25
from retrieval.bm25_forward import ForwardBM25
from retrieval.cache_stamps import MANIFEST as _MANIFEST
from retrieval.cache_stamps import (
    CacheCheck,
    Stamp,
    hashed,
    open_stamped,
    record_stamps,
    stamp_of,
)
from retrieval.errors import IndexCacheError

log = logging.getLogger(__name__)

_FORMAT: Final = "reports-bot/index-cache"
_VERSION: Final = 1
_SCORER: Final = "bm25.idx"
_PAYLOAD: Final = "payload.bin"
_REPORT_SCORER: Final = "reports.idx"
_LISTING: Final = "listing.bin"
_FILES: Final = (_SCORER, _PAYLOAD, _REPORT_SCORER, _LISTING)
_ENTRY_PREFIX: Final = "index-"
_TMP_PREFIX: Final = ".tmp-"
# A temporary folder this old belongs to a save that died, not one in progress.
_ABANDONED_AFTER_S: Final = 3600.0
# How much later than cache_stamps.RACY_S a saved entry is stamped (IndexStore.stamp).
_STAMP_MARGIN_S = 0.5


def fingerprint(
    files: Iterable[tuple[str, int, int]], analyzer_fingerprint: str, extra: str = ""
) -> str:
    """A cache key: sha256 (32 hex digits) of every (relative path, size, mtime_ns) and settings.

    The files are sorted first, so the order a folder walk yields them in does not matter.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([analyzer_fingerprint, extra]).encode())
    # One line per file; a path holds no NUL, so no two listings make the same lines.
    lines = sorted(f"{path}\0{int(size)}\0{int(mtime)}\n" for path, size, mtime in files)
    digest.update("".join(lines).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


class CachedIndex(NamedTuple):
    """One entry, checked against its manifest: hashed, or (`check` set) its stamps."""

    scorer: FastBM25
    payload: bytes | bytearray | memoryview  # mapped when loaded (see _read_checked)
    report_scorer: ForwardBM25 | None = None
    listing: bytes | memoryview | None = None
    check: CacheCheck | None = None  # the hashes still to check, for an entry served on stamps


class IndexStore:
    """A folder of cache entries keyed by `fingerprint`; keeps the `keep` most recently used."""

    def __init__(self, cache_dir: Path, keep: int = 3) -> None:
        self.cache_dir = cache_dir
        self.keep = max(keep, 1)

    def entry_dir(self, key: str) -> Path:
        if not key or not all(c.isalnum() or c in "-_" for c in key):
            raise ValueError(f"cache key {key!r} must be letters, digits, '-' or '_'")
        return self.cache_dir / f"{_ENTRY_PREFIX}{key}"

    def load(self, key: str) -> CachedIndex | None:
        """The cached entry for `key`, or None on a miss or a bad entry."""
        entry = self.entry_dir(key)
        if not entry.exists():
            return None
        try:
            cached = _read_entry(entry, key)
        except (IndexCacheError, OSError) as error:
            log.warning("search index cache %s is unusable (%s); rebuilding", entry, error)
            _remove(entry)
            return None
        _touch(entry)  # mark as recently used, so pruning keeps it
        return cached

    def latest(self, source: str) -> CachedIndex | None:
        """The most recently used good entry saved for `source`, whatever its key."""
        found: list[tuple[float, str]] = []
        try:
            children = list(self.cache_dir.iterdir())
        except OSError:
            return None
        for child in children:
            if not child.name.startswith(_ENTRY_PREFIX):
                continue
            try:
                manifest = json.loads((child / _MANIFEST).read_bytes())
                if manifest.get("source") == source:
                    found.append((child.stat().st_mtime, str(manifest["key"])))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # a broken entry is dealt with when it is loaded by its key
        for _, key in sorted(found, reverse=True):
            try:
                cached = self.load(key)
            except ValueError:
                continue  # a manifest naming a key that is no folder name
            if cached is not None:
                return cached
        return None

    def save(
        self,
        key: str,
        scorer: FastBM25,
        payload: bytes | bytearray,
        *,
        report_scorer: ForwardBM25 | None = None,
        listing: bytes | None = None,
        source: str = "",
    ) -> None:
        """Store an entry atomically, then prune old ones.

        The cache only saves time: if the disk refuses (full, read-only,
        permissions) we log why and carry on, and the next start rebuilds.
        """
        entry = self.entry_dir(key)
        tmp = self.cache_dir / f"{_TMP_PREFIX}{key}-{uuid.uuid4().hex}"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            _write_entry(tmp, key, CachedIndex(scorer, payload, report_scorer, listing), source)
            _install(tmp, entry)
            _fsync_dir(self.cache_dir)
        except OSError as error:
            _remove(tmp)
            log.warning(
                "could not save the search index cache in %s (%s); searches still work, "
                "but the next start re-indexes: free some space or make that folder "
                "writable (the bot keeps it in DATA_DIR: point DATA_DIR at a writable folder)",
                self.cache_dir,
                error,
            )
            return
        except BaseException:
            _remove(tmp)
            raise
        self._prune(keep_key=key)
        # Once the files are old enough to stamp: the first restart after a build would
        # otherwise hash the whole entry before its first answer (a gigabyte at 1M).
        timer = threading.Timer(cache_stamps.RACY_S + _STAMP_MARGIN_S, self.stamp, (key,))
        timer.name, timer.daemon = "index-cache-stamp", True  # only reads, hashes, records
        timer.start()

    def stamp(self, key: str) -> None:
        """Hash the entry for `key` whole and record its files' stamps, as its first load
        would, so the next load maps it at once.  Nothing when the entry is gone, does not
        match, or is too new to stamp (cache_stamps.RACY_S): a load deals with it then."""
        entry = self.entry_dir(key)
        try:
            with open(entry / _MANIFEST, "rb") as file:
                manifest_stamp = stamp_of(file)
                listed = json.loads(file.read())["files"]
            names = [name for name in _FILES if name in listed]
            _hashed_files(entry, listed, names, manifest_stamp, key)
        except (OSError, ValueError, KeyError, TypeError, IndexCacheError) as error:
            log.debug("search index cache %s not stamped (%s)", entry, error)

    def _prune(self, keep_key: str) -> None:
        """Delete all but the `keep` most recently used entries, and dead temporary folders."""
        try:
            children = list(self.cache_dir.iterdir())
        except OSError:
            return
        entries = []
        now = time.time()
        for child in children:
            try:
                mtime = child.stat().st_mtime
            except OSError:
                continue
            if child.name.startswith(_TMP_PREFIX) and now - mtime > _ABANDONED_AFTER_S:
                _remove(child)
            elif (
                child.name.startswith(_ENTRY_PREFIX) and child.name != f"{_ENTRY_PREFIX}{keep_key}"
            ):
                entries.append((mtime, child))
        entries.sort(reverse=True)
        for _, stale in entries[self.keep - 1 :]:
            _remove(stale)


def _write_entry(folder: Path, key: str, cached: CachedIndex, source: str) -> None:
    cached.scorer.save(folder / _SCORER)
    _write_synced(folder / _PAYLOAD, cached.payload)
    names = [_SCORER, _PAYLOAD]
    if cached.report_scorer is not None:
        cached.report_scorer.save(folder / _REPORT_SCORER)
        names.append(_REPORT_SCORER)
    if cached.listing is not None:
        _write_synced(folder / _LISTING, cached.listing)
        names.append(_LISTING)
    files = {name: _describe(folder / name) for name in names}
    manifest = {
        "format": _FORMAT,
        "version": _VERSION,
        "key": key,
        "source": source,
        "files": files,
    }
    _write_synced(folder / _MANIFEST, json.dumps(manifest, indent=1).encode())


def _read_entry(entry: Path, key: str) -> CachedIndex:
    try:
        with open(entry / _MANIFEST, "rb") as file:
            manifest_stamp = stamp_of(file)
            manifest = json.loads(file.read())
        if manifest["format"] != _FORMAT or manifest["version"] != _VERSION:
            raise IndexCacheError(f"format {manifest['format']} v{manifest['version']}")
        if manifest["key"] != key:
            raise IndexCacheError(f"it was written for key {manifest['key']}")
        listed = manifest["files"]
        if _SCORER not in listed or _PAYLOAD not in listed:
            raise KeyError(f"{_SCORER} and {_PAYLOAD}")
        names = [n for n in _FILES if n in listed]
        expected = {name: str(listed[name]["sha256"]) for name in names}
        stamped = open_stamped(entry, key, names, manifest_stamp)
        check: CacheCheck | None = None
        if stamped is None:
            contents = _hashed_files(entry, listed, names, manifest_stamp, key)
        else:
            contents = _mapped_files(stamped, {name: listed[name]["size"] for name in names})
            check = CacheCheck(entry, stamped, expected)
            check.start()
    except (ValueError, KeyError, TypeError) as error:
        raise IndexCacheError(f"unreadable manifest: {error}") from error
    scorer = FastBM25.from_bytes(contents[_SCORER], source=str(entry / _SCORER))
    reports = contents.get(_REPORT_SCORER)
    report_scorer = (
        None if reports is None else ForwardBM25.from_bytes(reports, str(entry / _REPORT_SCORER))
    )
    return CachedIndex(scorer, contents[_PAYLOAD], report_scorer, contents.get(_LISTING), check)


def _hashed_files(
    entry: Path, listed: dict[str, dict[str, object]], names: list[str], manifest: Stamp, key: str
) -> dict[str, bytes | memoryview]:
    """Each file mapped, once its size and sha256 match the manifest's; the files' stamps
    are then recorded, so the next load need not hash them."""
    # Reading and hashing release the GIL: in threads, the files are checked on both
    # cores at once, and the rest of a start-up (imports, the token check) goes on.
    with ThreadPoolExecutor(len(names)) as pool:
        checked = dict(zip(names, pool.map(lambda n: _read_checked(entry / n), names), strict=True))
    contents = {}
    for name, (data, digest, _) in checked.items():
        expected = listed[name]
        if len(data) != expected["size"] or digest != expected["sha256"]:
            raise IndexCacheError(f"{name} does not match its checksum")
        contents[name] = data
    stamps = {name: stamp for name, (_, _, stamp) in checked.items()}
    record_stamps(entry, key, {**stamps, _MANIFEST: manifest})
    return contents


def _read_checked(path: Path) -> tuple[bytes | memoryview, str, Stamp]:
    """The file mapped read-only (a view of it, equal to its bytes), the sha256 of what it
    holds, and its stamp from before it was read.

    Hashed through reads, not the mapping, so checking it adds nothing to the process's
    resident memory; all three come from one open file, so what is mapped is what was
    hashed (entries are replaced by renaming folders, never written in place).  The page
    cache holds the mapped pages once for every process that maps them.
    """
    with open(path, "rb") as file:
        stamp = stamp_of(file)
        size, digest = hashed(file)
        return _mapped(file, size), digest, stamp


def _mapped(file: BinaryIO, size: int) -> bytes | memoryview:
    if size == 0:
        return b""
    return memoryview(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ))


def _mapped_files(
    files: dict[str, BinaryIO], sizes: dict[str, object]
) -> dict[str, bytes | memoryview]:
    contents = {}
    for name, file in files.items():
        size = os.fstat(file.fileno()).st_size
        if size != sizes[name]:
            for opened in files.values():
                opened.close()
            raise IndexCacheError(f"{name} is not the size its manifest gives")
        contents[name] = _mapped(file, size)
    return contents


def _describe(path: Path) -> dict[str, int | str]:
    with open(path, "rb") as file:
        size, digest = hashed(file)
    return {"size": size, "sha256": digest}


def _write_synced(path: Path, data: bytes | bytearray | memoryview) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _install(tmp: Path, entry: Path) -> None:
    """Rename the finished folder into place, replacing an existing entry for the same key."""
    try:
        os.replace(tmp, entry)
        return
    except OSError:
        if not entry.exists():
            raise
    # A folder cannot be renamed over a non-empty one: move the old entry aside first.
    # Readers in between see a miss, never a mix of the two.
    aside = entry.with_name(f"{_TMP_PREFIX}old-{entry.name}-{uuid.uuid4().hex}")
    os.replace(entry, aside)
    os.replace(tmp, entry)
    _remove(aside)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _touch(entry: Path) -> None:
    # A read-only cache still serves; it just cannot record recency.
    with contextlib.suppress(OSError):
        os.utime(entry)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
