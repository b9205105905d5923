"""Stamps that let a restart map its index cache without hashing it first.

Hashing a million passages' cache entry (a gigabyte) takes most of a second of a
restart.  Once `retrieval.index_store` has hashed an entry whole, it records each
file's stamp (size, mtime, ctime, inode, device) in the entry's `verified.json`; a
later load whose files still have those stamps maps them at once.  Any write
through the file system changes a file's ctime, which no program can set back, so
a changed, cut or replaced file misses its stamp and is hashed as before.  What a
stamp cannot see, a disk's bit rot, the entry's `CacheCheck` finds: the same
hashes, through the same open files, a few seconds later in the background.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import BinaryIO, Final

log = logging.getLogger(__name__)

STAMPS: Final = "verified.json"
MANIFEST: Final = "manifest.json"
_HASH_CHUNK: Final = 1 << 22
# A file changed this soon after its stamp was taken can keep its times on a coarse
# clock (ext4 ticks in milliseconds, FAT in 2 s): only files older are stamped.
RACY_S = 2.0
# How long after a start from stamps its hashes are checked: not while the first
# questions are answered.
CHECK_AFTER_S = 10.0


# (size, mtime_ns, ctime_ns, inode, device); None for a file too new to tell by.
Stamp = tuple[int, int, int, int, int] | None


def stamp_of(file: BinaryIO) -> Stamp:
    taken = time.time_ns()
    info = os.fstat(file.fileno())
    if info.st_ctime_ns >= taken - int(RACY_S * 1e9):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def record_stamps(entry: Path, key: str, stamps: dict[str, Stamp]) -> None:
    if any(stamp is None for stamp in stamps.values()):
        return  # hashed again next time, when the files are old enough
    record = json.dumps({"key": key, "files": stamps}).encode()
    tmp = entry / f".{STAMPS}-{uuid.uuid4().hex}"
    try:
        tmp.write_bytes(record)
        os.replace(tmp, entry / STAMPS)
    except OSError:  # a read-only cache: every start hashes, as before stamps
        with contextlib.suppress(OSError):
            tmp.unlink()


def open_stamped(
    entry: Path, key: str, names: list[str], manifest: Stamp
) -> dict[str, BinaryIO] | None:
    """The files, opened, when each (and the manifest) still has its recorded stamp."""
    try:
        record = json.loads((entry / STAMPS).read_bytes())
        stamps = {name: tuple(stamp) for name, stamp in record["files"].items()}
        if record["key"] != key or manifest is None or stamps.get(MANIFEST) != manifest:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    files: dict[str, BinaryIO] = {}
    try:
        for name in names:
            file: BinaryIO = open(entry / name, "rb")  # noqa: SIM115  # closed by the check
            files[name] = file
            if stamp_of(file) != stamps.get(name):
                break
        else:
            return files
    except OSError:
        pass
    for file in files.values():
        file.close()
    return None


def hashed(file: BinaryIO) -> tuple[int, str]:
    """The size and sha256 of what `file` holds from where it is, read a chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    while chunk := file.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


class CacheCheck:
    """The sha256 check of an entry served on its stamps, run later (`start`) or now
    (`run`), through the files it mapped; `failed` once they do not match (the entry is
    then deleted and one warning logged)."""

    def __init__(self, entry: Path, files: dict[str, BinaryIO], expected: dict[str, str]):
        self._entry = entry
        self._files = files
        self._expected = expected
        self._inodes = {name: os.fstat(file.fileno()).st_ino for name, file in files.items()}
        self._failed = False
        self._done = threading.Event()
        self._lock = threading.Lock()

    @property
    def failed(self) -> bool:
        return self._failed

    def start(self, delay: float | None = None) -> None:
        timer = threading.Timer(CHECK_AFTER_S if delay is None else delay, self.run)
        timer.name, timer.daemon = "index-cache-check", True  # only reads and hashes
        timer.start()

    def run(self) -> bool:
        """Hash every file now (once: later calls return the outcome); True when all match."""
        with self._lock:
            if not self._done.is_set():
                try:
                    bad = [name for name, file in self._files.items() if not self._matches(name)]
                finally:
                    for file in self._files.values():
                        file.close()
                    self._done.set()
                if bad:
                    self._failed = True
                    self._drop(bad)
        return not self._failed

    def _matches(self, name: str) -> bool:
        file = self._files[name]
        try:
            file.seek(0)
            return hashed(file)[1] == self._expected[name]
        except OSError:
            return False

    def _drop(self, bad: list[str]) -> None:
        log.warning(
            "search index cache %s does not match its checksums (%s: the disk changed it); "
            "deleting it and rebuilding the index from the reports",
            self._entry,
            ", ".join(bad),
        )
        # Only the entry these files are in: one saved again meanwhile is another folder.
        with contextlib.suppress(OSError):
            if os.stat(self._entry / bad[0]).st_ino == self._inodes[bad[0]]:
                shutil.rmtree(self._entry, ignore_errors=True)
