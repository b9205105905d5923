"""The live collection: the reports folder plus reports from elsewhere (feeds), kept
indexed as files come, change and go.

`Library.refresh()` rescans `root` by (path, size, mtime_ns), loads only new
or changed files, drops deleted ones, and builds a new `SearchEngine` from
per-report parts analyzed earlier: only the BM25 statistics, which are global,
are recomputed (a fraction of a second at 100k passages, against ~12 s to
analyze everything again).  The engine it returns is complete and immutable,
so whoever swaps it in never exposes a half-built index.

A file is only read once it has settled: its modification time is at least
`settle_seconds` old, or it kept the same size and mtime over `settle_seconds`
of scans (for clocks that disagree).  A file that changes while it is read is
put back to wait.  Temporary, hidden and editor files are never read at all
(`loader.is_report_file`).

Nothing here knows about Telegram; the bot runs `refresh` in a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.analyzer import Analyzer
from retrieval.corpus import CorpusPart, index_reports
from retrieval.loader import LoadProblem, load_file, report_files
from retrieval.models import Report
from retrieval.search import SearchEngine, SearchSettings

log = logging.getLogger(__name__)

DEFAULT_SETTLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Signature:
    size: int
    mtime_ns: int


# Recorded for files whose signature is not known (seeded from an engine whose
# files vanished since): never equal to a real one, so the next scan decides.
_UNKNOWN = Signature(-1, -1)


@dataclass(frozen=True, slots=True)
class _File:
    signature: Signature
    parts: tuple[CorpusPart, ...]  # one per report, in the file's order
    problems: tuple[LoadProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """What one refresh changed, and the engine that holds the result."""

    engine: SearchEngine
    # New reports to announce (not those of a feed's first fetch, not the initial load).
    added: tuple[Report, ...] = ()
    updated: tuple[Report, ...] = ()
    removed: tuple[str, ...] = ()
    files_read: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"{len(self.engine.reports)} reports, {len(self.engine.passages)} passages "
            f"(+{len(self.added)} new, {len(self.updated)} changed, {len(self.removed)} gone; "
            f"{self.files_read} files read) in {self.seconds:.2f}s"
        )


@dataclass
class _Pending:
    """Reports handed in from outside (feeds) since the last refresh."""

    put: dict[str, Report] = field(default_factory=dict)
    quiet: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)


class Library:
    """Owns the reports folder's index; `refresh()` brings it up to date."""

    def __init__(
        self,
        root: str | Path,
        settings: SearchSettings | None = None,
        *,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root).expanduser()
        self.settings = settings or SearchSettings()
        self.settle_seconds = settle_seconds
        self._wall_clock = wall_clock
        self._clock = clock
        # Our own analyzer: the engine's serves questions on other threads.
        self._analyzer = Analyzer(self.settings.analyzer)
        self._files: dict[str, _File] = {}
        self._order: list[str] = []  # the loader's file order: decides duplicate ids
        self._extras: dict[str, CorpusPart] = {}  # reports from outside, by id
        self._waiting: dict[str, tuple[Signature, float]] = {}  # unsettled files
        self._pending = _Pending()
        self._pending_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._engine: SearchEngine | None = None
        self._root_missing = False
        # Bumped when the folder's index changes; compared with what the cache last got.
        self._folder_version = 0
        self._saved_version = 0

    @classmethod
    def open(
        cls,
        root: str | Path,
        settings: SearchSettings | None = None,
        cache_dir: Path | None = None,
        *,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> Library:
        """Load the folder (from the index cache when it is fresh) and keep it live.

        The files are listed *before* the engine loads them, so a file that
        changes in between is seen as changed by the first refresh.
        """
        library = cls(root, settings, settle_seconds=settle_seconds)
        listing = library._scan()
        engine = SearchEngine.from_path(library.root, library.settings, cache_dir)
        library._seed(engine, listing)
        return library

    @property
    def engine(self) -> SearchEngine:
        """The newest complete engine (built on first use if nothing was loaded yet)."""
        if self._engine is None:
            self.refresh()
        assert self._engine is not None
        return self._engine

    # -- reports from outside the folder ------------------------------------------------

    def put_reports(self, reports: Iterable[Report], *, announce: bool = True) -> None:
        """Add or replace reports (by id) at the next refresh; thread-safe and cheap.

        `announce=False` keeps new ones out of `Change.added` (a feed's backlog).
        """
        with self._pending_lock:
            for report in reports:
                self._pending.put[report.id] = report
                self._pending.removed.discard(report.id)
                if announce:
                    self._pending.quiet.discard(report.id)
                else:
                    self._pending.quiet.add(report.id)

    def remove_reports(self, report_ids: Iterable[str]) -> None:
        """Drop reports handed in with `put_reports` (by id) at the next refresh;
        thread-safe and cheap.  Reports from the folder are not touched."""
        with self._pending_lock:
            for report_id in report_ids:
                self._pending.put.pop(report_id, None)
                self._pending.removed.add(report_id)

    # -- refreshing ------------------------------------------------------------------------

    def refresh(self) -> Change | None:
        """Bring the index up to date; None when nothing changed (the engine stays)."""
        with self._refresh_lock:
            started = self._clock()
            files_read, folder_changed = self._refresh_files()
            self._folder_version += folder_changed
            with self._pending_lock:
                pending, self._pending = self._pending, _Pending()
            extras_changed = self._apply_extras(pending)
            if self._engine is not None and not (folder_changed or extras_changed):
                return None
            previous = self._engine
            engine = self._build()
            self._engine = engine
            change = _diff(previous, engine, pending.quiet)
            return Change(
                engine=engine,
                added=change.added,
                updated=change.updated,
                removed=change.removed,
                files_read=files_read,
                seconds=self._clock() - started,
            )

    def _refresh_files(self) -> tuple[int, bool]:
        listing = self._scan()
        changed = False
        for path in [p for p in self._files if p not in listing]:
            del self._files[path]
            changed = True
        self._waiting = {p: w for p, w in self._waiting.items() if p in listing}
        read = 0
        for path, signature in listing.items():
            known = self._files.get(path)
            if known is not None and known.signature == signature:
                continue
            # The first load reads everything, as SearchEngine.from_path would.
            if self._engine is not None and not self._settled(path, signature):
                continue
            loaded = self._load(path, signature)
            read += 1
            if loaded is None:
                continue  # it changed while we read it: wait for it to settle again
            self._files[path] = loaded
            changed = True
        self._order = list(listing)
        return read, changed

    def _scan(self) -> dict[str, Signature]:
        """The report files now under root, in the loader's order, with their signatures."""
        if self._engine is not None and not self.root.exists():
            # More likely an unmounted volume than a deliberate deletion of
            # everything: keep answering from what we have.
            if not self._root_missing:
                log.warning("%s has gone; keeping the reports loaded so far", self.root)
            self._root_missing = True
            return {
                path: self._files[path].signature for path in self._order if path in self._files
            }
        self._root_missing = False
        listing: dict[str, Signature] = {}
        for file in report_files(self.root):
            signature = _signature(file)
            if signature is not None:
                listing[str(file)] = signature
        return listing

    def _settled(self, path: str, signature: Signature) -> bool:
        age = self._wall_clock() - signature.mtime_ns / 1e9
        if age >= self.settle_seconds:
            self._waiting.pop(path, None)
            return True
        now = self._clock()
        seen = self._waiting.get(path)
        if seen is not None and seen[0] == signature:
            if now - seen[1] >= self.settle_seconds:
                self._waiting.pop(path, None)
                return True
            return False
        self._waiting[path] = (signature, now)
        return False

    def _load(self, path: str, signature: Signature) -> _File | None:
        file = Path(path)
        base = self.root if self.root.is_dir() else self.root.parent
        loaded = load_file(file, base)
        if _signature(file) != signature:
            self._waiting[path] = (signature, self._clock())
            return None
        parts = index_reports(loaded.reports, self._analyzer)
        return _File(signature, tuple(parts), loaded.problems)

    def _apply_extras(self, pending: _Pending) -> bool:
        gone = [report_id for report_id in pending.removed if report_id in self._extras]
        for report_id in gone:
            del self._extras[report_id]
        fresh = [r for r in pending.put.values() if not _holds(self._extras.get(r.id), r)]
        for part in index_reports(fresh, self._analyzer):
            self._extras[part.reports[0].id] = part
        return bool(fresh or gone)

    @property
    def cache_stale(self) -> bool:
        """The folder changed since it was loaded (Library.open) or saved (save_cache)."""
        return self._folder_version != self._saved_version

    def save_cache(self, cache_dir: Path) -> bool:
        """Save the folder's index (outside reports left out) as the index cache for its
        files as last read, so a restart loads it instead of analyzing everything again.

        False when there is nothing to save, or a file is still waiting to settle (the
        folder then does not match what the index holds).
        """
        with self._refresh_lock:
            if self._engine is None or not self.cache_stale or self._waiting:
                return False
            paths = [p for p in self._order if p in self._files]
            if any(self._files[p].signature == _UNKNOWN for p in paths):
                return False
            engine = self._build(with_extras=False) if self._extras else self._engine
            signatures = [
                (
                    self._relative(p),
                    self._files[p].signature.size,
                    self._files[p].signature.mtime_ns,
                )
                for p in paths
            ]
            version = self._folder_version
        engine.save_to_cache(cache_dir, signatures)  # the engine is immutable: no lock needed
        self._saved_version = max(self._saved_version, version)
        return True

    def _relative(self, path: str) -> str:
        """A file's name as the index cache's key lists it (see corpus_cache.file_signatures)."""
        return str(Path(path).relative_to(self.root)) if self.root.is_dir() else Path(path).name

    def _build(self, *, with_extras: bool = True) -> SearchEngine:
        parts: list[CorpusPart] = []
        problems: list[LoadProblem] = []
        seen: dict[str, str] = {}
        for path in self._order:
            file = self._files.get(path)
            if file is None:
                continue
            problems.extend(file.problems)
            for part in file.parts:
                report = part.reports[0]
                if report.id in seen:
                    problems.append(_duplicate(path, report.id, seen[report.id]))
                    continue
                seen[report.id] = path
                parts.append(part)
        for report_id, part in self._extras.items() if with_extras else ():
            if report_id in seen:
                problems.append(_duplicate("(feed)", report_id, seen[report_id]))
                continue
            seen[report_id] = "(feed)"
            parts.append(part)
        return SearchEngine.from_parts(parts, self.settings, problems)

    def _seed(self, engine: SearchEngine, listing: dict[str, Signature]) -> None:
        """Take over an engine loaded from the folder, with the signatures listed
        before it was loaded, so only files changed since are read again."""
        by_file: dict[str, list[CorpusPart]] = {}
        for part in engine.parts():
            by_file.setdefault(part.reports[0].path or "", []).append(part)
        problems: dict[str, list[LoadProblem]] = {}
        for problem in engine.problems:
            # A JSON Lines problem names "path:line".
            path = problem.path if problem.path in listing else problem.path.rsplit(":", 1)[0]
            problems.setdefault(path, []).append(problem)
        for path in dict.fromkeys([*listing, *by_file]):
            if not path:
                continue
            self._files[path] = _File(
                listing.get(path, _UNKNOWN),
                tuple(by_file.get(path, ())),
                tuple(problems.get(path, ())),
            )
        self._order = list(dict.fromkeys([*listing, *by_file]))
        self._engine = engine


@dataclass(frozen=True, slots=True)
class _Diff:
    added: tuple[Report, ...]
    updated: tuple[Report, ...]
    removed: tuple[str, ...]


def _diff(previous: SearchEngine | None, engine: SearchEngine, quiet: set[str]) -> _Diff:
    if previous is None:  # the first load is where we start, not news
        return _Diff((), (), ())
    added: list[Report] = []
    updated: list[Report] = []
    for report in engine.reports:
        old = previous.report(report.id)
        if old is None:
            if report.id not in quiet:
                added.append(report)
        elif old != report:
            updated.append(report)
    removed = tuple(r.id for r in previous.reports if engine.report(r.id) is None)
    return _Diff(tuple(added), tuple(updated), removed)


def _holds(part: CorpusPart | None, report: Report) -> bool:
    return part is not None and part.reports[0] == report


def _signature(path: Path) -> Signature | None:
    try:
        info = os.stat(path)
    except OSError:
        return None  # vanished: it is simply not there any more
    return Signature(info.st_size, info.st_mtime_ns)


def _duplicate(path: str, report_id: str, first: str) -> LoadProblem:
    problem = LoadProblem(
        path, f"duplicate report id {report_id!r} (first seen in {first}); this copy is skipped"
    )
    log.warning("skipped %s: %s", problem.path, problem.reason)
    return problem
