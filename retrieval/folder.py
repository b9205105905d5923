"""The report files of the live library's folder, each read and analyzed once.

`FolderFiles` is brought up to date either from a walk of the whole folder
(`walk` then `apply_walk`) or from the paths a watcher saw change
(`apply_changes`): those paths alone are looked at, a folder that appeared is
walked on its own, and one that went takes its files with it.  Either way a file
is read only when its signature (size, mtime) differs from the one it was read
with, and only once it has settled: its modification time is at least
`settle_seconds` old, or it kept the same signature over `settle_seconds` of
scans (for clocks that disagree).  A file that changes while it is read is put
back to wait.  Whatever goes wrong while one file is read or analyzed becomes a
problem of that file; the others load.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from retrieval.analyzer import Analyzer
from retrieval.corpus import CorpusPart, index_reports
from retrieval.listing import Lister, Signature, Walk, signature_of, stat_of
from retrieval.loader import LoadProblem, describe_skipped_types, load_file
from retrieval.record_views import field_of

log = logging.getLogger("retrieval.library")

# Recorded for files whose signature is not known (in an engine, gone from the folder
# since): never equal to a real one, so the next look decides.
UNKNOWN: Signature = (-1, -1)


@dataclass(frozen=True, slots=True)
class FileContent:
    parts: tuple[CorpusPart, ...]  # one per report, in the file's order
    problems: tuple[LoadProblem, ...] = ()


class FolderFiles:
    """The folder's report files: their signatures, and what was read from them.

    A file in `signatures` but not in `contents` was read by an earlier run: its
    reports are in the engine loaded from the index cache, and are cut out of it
    (`Library`) only when an engine is next built, off a restart's path.
    """

    def __init__(
        self,
        root: Path,
        analyzer: Analyzer,
        *,
        settle_seconds: float,
        follow_outside_links: bool,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.lister = Lister(root, follow_outside_links=follow_outside_links)
        self.follow_outside_links = follow_outside_links
        self.settle_seconds = settle_seconds
        self._analyzer = analyzer
        self._wall_clock = wall_clock
        self._clock = clock
        self._signatures: dict[str, Signature] = {}  # every file known, as it was read
        self._adopted: Callable[[], dict[str, Signature]] | None = None
        # Dropped since adopt(), until fill_from() takes the cached parts: not theirs.
        self._gone: set[str] | None = None
        self.contents: dict[str, FileContent] = {}
        self.waiting: dict[str, tuple[Signature, float]] = {}  # unsettled: signature, first seen
        self.folders: dict[str, str] = {}  # every folder walked → its real path
        self._names: dict[str, str] = {}  # real path → the folder's name in the walk
        self.walk_problems: tuple[LoadProblem, ...] = ()
        self.files_checked = 0  # files stat'ed so far: what a refresh costs
        self.walk_seconds = 0.0  # how long the last walk of everything took
        self._order: list[str] | None = None

    # -- what the folder holds -------------------------------------------------------------

    @property
    def signatures(self) -> dict[str, Signature]:
        """Every file known, as it was read."""
        adopted, self._adopted = self._adopted, None
        if adopted is not None:
            self._signatures = adopted()
        return self._signatures

    def listing(self) -> list[tuple[str, int, int]]:
        """Every file known as (name, size, mtime_ns), as the index cache lists them
        (retrieval.corpus_cache): names relative to the root, or a lone file's name."""
        if not self.root.is_dir():
            return [(self.root.name, size, mtime) for size, mtime in self.signatures.values()]
        relative = self.lister.relative
        return [(relative(path), size, mtime) for path, (size, mtime) in self.signatures.items()]

    def order(self) -> list[str]:
        """The loaded files in the loader's order (it decides which duplicate id wins)."""
        if self._order is None:
            self._order = sorted(self.signatures, key=self.lister.order_key)
        return self._order

    def invalidate_order(self) -> None:
        self._order = None

    def _set(self, path: str, signature: Signature, content: FileContent) -> None:
        signatures = self.signatures
        if path not in signatures:
            self._order = None
        signatures[path] = signature
        self.contents[path] = content

    def _drop(self, path: str) -> bool:
        self.waiting.pop(path, None)
        self.contents.pop(path, None)
        if self.signatures.pop(path, None) is None:
            return False
        if self._gone is not None:
            self._gone.add(path)
        self._order = None
        return True

    def replace_parts(self, views: Mapping[int, CorpusPart]) -> None:
        """Each part whose id() is in `views` replaced by that view (Library._as_views_of)."""
        for path, content in self.contents.items():
            if any(id(part) in views for part in content.parts):
                parts = tuple(views.get(id(part), part) for part in content.parts)
                self.contents[path] = FileContent(parts, content.problems)

    # -- a walk of everything --------------------------------------------------------------

    def walk(self) -> Walk:
        started = time.perf_counter()
        if self.root.is_dir():
            walk = self.lister.walk()
        else:  # REPORTS_DIR names one file
            walk = Walk()
            signature = signature_of(str(self.root))
            if signature is not None:
                walk.files[str(self.root)] = signature
        self.files_checked += len(walk.files)
        self.walk_seconds = time.perf_counter() - started
        return walk

    def apply_walk(self, walk: Walk, *, read_all: bool) -> tuple[int, bool]:
        """Bring the files in line with a walk of everything; (files read, anything changed).

        `read_all` reads unsettled files too (the first load, as a restart would).
        """
        changed = False
        for path in [p for p in self.signatures if p not in walk.files]:
            changed |= self._drop(path)
        self.waiting = {p: w for p, w in self.waiting.items() if p in walk.files}
        self.folders = dict(walk.folders)
        self._names = {real: folder for folder, real in walk.folders.items()}
        self._report_walk(walk)
        read = 0
        for path, signature in walk.files.items():
            was_read, did_change = self._consider(path, signature, read_now=read_all)
            read += was_read
            changed |= did_change
        return read, changed

    def adopt(self, signatures: Callable[[], dict[str, Signature]]) -> None:
        """Take the files `signatures()` lists as read, their reports inside the engine the
        caller loaded from the index cache for exactly these signatures.  The next walk
        compares.  The list is made when first needed: over 100,000 files that takes a
        tenth of a second, and a restart answers its first question before."""
        self._adopted = signatures
        self._gone = set()
        self.contents = {}
        self.waiting = {}
        self._order = None

    def fill_from(self, parts: Iterable[CorpusPart], problems: Iterable[LoadProblem]) -> None:
        """Take every file not read since it was adopted from `parts` (one per report) and
        `problems`: an engine loaded from the index cache, cut up.  A file they name that
        is not known is taken as read too, its signature UNKNOWN, so a walk reads it;
        not one dropped since (deleted while the engine served)."""
        by_file: dict[str, list[CorpusPart]] = {}
        for part in parts:
            by_file.setdefault(field_of(part.reports, 0, "path") or "", []).append(part)
        signatures, contents = self.signatures, self.contents
        gone, self._gone = self._gone or set(), None
        found: dict[str, list[LoadProblem]] = {}
        for problem in problems:
            # A JSON Lines problem names "path:line".
            path = problem.path if problem.path in signatures else problem.path.rsplit(":", 1)[0]
            found.setdefault(path, []).append(problem)
        for path in dict.fromkeys([*signatures, *by_file]):
            if not path or path in contents or path in gone:
                continue  # read again or gone since: the cached parts are out of date
            signatures.setdefault(path, UNKNOWN)
            contents[path] = FileContent(tuple(by_file.get(path, ())), tuple(found.get(path, ())))
        self.invalidate_order()

    def _report_walk(self, walk: Walk) -> None:
        new = [p for p in walk.problems if p not in self.walk_problems]
        for problem in new if self.walk_problems or self.signatures else ():
            log.warning("skipped %s: %s", problem.path, problem.reason)
        self.walk_problems = tuple(walk.problems)
        skipped = describe_skipped_types(Path(p) for p in walk.other_files)
        if skipped:
            log.warning("%s: %s", self.root, skipped)

    # -- the paths a watcher saw change ----------------------------------------------------

    def apply_changes(
        self, relatives: Iterable[str], created: Collection[str] = ()
    ) -> tuple[int, bool]:
        """Look at these paths (relative to the root) alone, and at the files still waiting
        to settle; (files read, anything changed).  A folder walked before is walked again
        only when it is among those `created` (made again, or moved in): that a folder was
        modified says no more than the events for its files do."""
        candidates: dict[str, Signature] = {}
        gone_folders: list[str] = []
        walk_from: set[str] = set()
        changed = False
        paths = {self.lister.path_of(r) for r in relatives} | set(self.waiting)
        for path in paths:
            self.files_checked += 1
            info = stat_of(path)
            if info is None:
                gone = self._walked_name(path) or path
                changed |= self._drop(gone)
                if gone in self.folders:
                    gone_folders.append(gone)
                continue
            if stat.S_ISDIR(info.st_mode):
                if path in self.folders and self.lister.relative(path) not in created:
                    continue
                start = self._walk_start(path)
                if start is not None:
                    walk_from.add(start)
                continue
            name = self._walked_name(path)
            if name is None:
                start = self._walk_start(self.lister.split(path)[0])
                if start is not None:
                    walk_from.add(start)  # a folder we have not walked yet: walk it
            elif name in self.signatures or self.lister.admits_file(name):
                candidates[name] = (info.st_size, info.st_mtime_ns)
        changed |= self._forget_folders(gone_folders)
        for start in _outermost(walk_from, self.lister):
            walk = self._walk_folder(start)
            changed |= self._forget_under(start, keep=walk.files)
            candidates.update(walk.files)
        read = 0
        for path, signature in candidates.items():
            was_read, did_change = self._consider(path, signature, read_now=False)
            read += was_read
            changed |= did_change
        return read, changed

    def _walked_name(self, path: str) -> str | None:
        """`path` as the walk names it (through the first name of an aliased folder);
        None when its folder was never walked."""
        folder, name = self.lister.split(path)
        if folder in self.folders:
            return path
        known = self._names.get(os.path.realpath(folder))
        return None if known is None else self.lister.join(known, name)

    def _walk_start(self, folder: str) -> str | None:
        """The folder to walk for a change at `folder`: itself when its parent was walked
        (a walked folder is walked again), else the outermost one above it whose parent
        was; None when nothing above it was ever walked."""
        if folder == self.lister.root:
            return folder
        name = self._walked_name(folder)
        if name is not None:
            return name
        parent, _ = self.lister.split(folder)
        return None if parent == folder else self._walk_start(parent)

    def _walk_folder(self, folder: str) -> Walk:
        """Walk one folder again by the loader's rules, aliases of folders elsewhere skipped."""
        inside = self.lister.join(folder, "")
        elsewhere = {
            real: name
            for real, name in self._names.items()
            if name != folder and not name.startswith(inside)
        }
        walk = self.lister.walk(self.lister.relative(folder), elsewhere)
        self.files_checked += len(walk.files)
        self._forget_walked([folder])
        self.folders.update(walk.folders)
        self._names.update({real: name for name, real in walk.folders.items()})
        skipped = describe_skipped_types(Path(p) for p in walk.other_files)
        if skipped:
            log.warning("%s: %s", folder, skipped)
        return walk

    def _forget_under(self, folder: str, keep: dict[str, Signature]) -> bool:
        inside = self.lister.join(folder, "")
        gone = [p for p in self.signatures if p.startswith(inside) and p not in keep]
        for path in gone:
            self._drop(path)
        return bool(gone)

    def _forget_folders(self, folders: list[str]) -> bool:
        """Drop the files (and folders) under folders that are gone."""
        if not folders:
            return False
        inside = self._forget_walked(folders)
        gone = [p for p in self.signatures if p.startswith(inside)]
        for path in gone:
            self._drop(path)
        return bool(gone)

    def _forget_walked(self, folders: Collection[str]) -> tuple[str, ...]:
        """Forget that these folders, and every folder under them, were walked; returns
        their prefixes (what every path inside them starts with)."""
        inside = tuple(self.lister.join(f, "") for f in folders)
        for name in [f for f in self.folders if f in folders or f.startswith(inside)]:
            self._names.pop(self.folders.pop(name), None)
        return inside

    # -- reading one file ------------------------------------------------------------------

    def read_now(self, path: str) -> tuple[int, bool]:
        """Read `path` now, not once it settles (it was written whole: an upload), or forget
        it when it is gone; (files read, anything changed)."""
        signature = signature_of(path)
        if signature is None:
            return 0, self._drop(path)
        return self._consider(path, signature, read_now=True)

    def _consider(self, path: str, signature: Signature, *, read_now: bool) -> tuple[int, bool]:
        if self.signatures.get(path) == signature:
            self.waiting.pop(path, None)
            return 0, False
        if not read_now and not self._settled(path, signature):
            return 0, False
        content = self._load(path, signature)
        if content is None:
            return 1, False  # it changed while we read it: wait for it to settle again
        self._set(path, signature, content)
        return 1, True

    def _settled(self, path: str, signature: Signature) -> bool:
        age = self._wall_clock() - signature[1] / 1e9
        if age >= self.settle_seconds:
            self.waiting.pop(path, None)
            return True
        now = self._clock()
        seen = self.waiting.get(path)
        if seen is not None and seen[0] == signature:
            if now - seen[1] >= self.settle_seconds:
                self.waiting.pop(path, None)
                return True
            return False
        self.waiting[path] = (signature, now)
        return False

    def _load(self, path: str, signature: Signature) -> FileContent | None:
        file = Path(path)
        try:
            # A single report file named as the root is its own root, as load_reports has it.
            base = self.root if self.root.is_dir() or str(self.root) == path else self.root.parent
            loaded = load_file(file, base, follow_outside_links=self.follow_outside_links)
            if signature_of(path) != signature:
                self.waiting[path] = (signature, self._clock())
                return None
            parts = tuple(index_reports(loaded.reports, self._analyzer))
        except Exception as error:
            # A bug or an input nobody foresaw costs this file, never the rescan.
            problem = LoadProblem(
                path,
                f"cannot be read or indexed ({type(error).__name__}: {error}); "
                "fix or remove the file",
            )
            log.warning("skipped %s: %s", problem.path, problem.reason)
            return FileContent((), (problem,))
        return FileContent(parts, loaded.problems)


def _outermost(folders: set[str], lister: Lister) -> list[str]:
    """The folders not inside another one of them."""
    kept: list[str] = []
    for folder in sorted(folders, key=len):
        if not any(folder.startswith(lister.join(k, "")) for k in kept):
            kept.append(folder)
    return kept
