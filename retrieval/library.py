"""The live collection: the reports folder plus reports from elsewhere (feeds), kept
indexed as files come, change and go.

`Library.refresh()` loads only new or changed files (by size and mtime), drops deleted
ones, and builds a new `SearchEngine` from per-report parts analyzed earlier: only the
BM25 indexes, whose statistics are global, are built again.  The engine it returns is
complete and immutable, so whoever swaps it in never exposes a half-built index; with
a semantic stage (`use_semantic`) each new engine's corpus is embedded in the background.

Without a watcher (`watch=None`) every refresh walks the whole folder.  With one
(`watch="auto"`, "events" or "polling": `retrieval.watch`, started by the first refresh)
a refresh looks only at the paths the file system reported and at files still waiting
to settle; the folder is walked again only when the watcher (re)starts or may have
missed events.  A restart (`open` with an index cache) takes the newest engine cached
for the folder as it is, with the files it was built from, so its first walk reads
again only what changed while it was down.  Reading, settling and per-file isolation
are `retrieval.folder`'s; the bot runs `refresh` in a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from retrieval import languages
from retrieval.analyzer import Analyzer
from retrieval.cache_stamps import CacheCheck
from retrieval.changes import DUPLICATE_REASON, Change, Pending, diff, first_of_each, holds
from retrieval.corpus import CorpusPart, index_reports, parts_reading
from retrieval.corpus_cache import source_id
from retrieval.corpus_pool import PooledFolder
from retrieval.errors import ReportsNotFoundError
from retrieval.folder import UNKNOWN, FileContent
from retrieval.listing import Signature, Walk
from retrieval.models import Report
from retrieval.search import SearchEngine, SearchSettings
from retrieval.semantic_stage import SemanticStage
from retrieval.watch import Changes, FolderWatcher, Mode

log = logging.getLogger(__name__)

DEFAULT_SETTLE_SECONDS = 1.0
# Polling a big folder stats every file each round: stretch the interval so that
# it takes about this share of one core at most.
_POLL_SHARE = 0.1
_STAT_SECONDS = 5e-6  # a walk's cost per file, about, with the files in the page cache

__all__ = ["DEFAULT_SETTLE_SECONDS", "Change", "Library"]


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
        follow_outside_links: bool = False,
        watch: Mode | None = None,
        poll_seconds: float = 2.0,
    ) -> None:
        self.root = Path(root).expanduser()
        self.settings = settings or SearchSettings()
        self.follow_outside_links = follow_outside_links
        # Our own analyzer: the engine's serves questions on other threads.
        self._analyzer = Analyzer(self.settings.analyzer)
        self.folder = PooledFolder(
            self.root,
            self._analyzer,
            workers=self.settings.build_workers,
            settle_seconds=settle_seconds,
            follow_outside_links=follow_outside_links,
            wall_clock=wall_clock,
            clock=clock,
        )
        self._watch = watch
        self._poll_seconds = poll_seconds
        self._watcher: FolderWatcher | None = None
        self._root_id: tuple[int, int] | None = None  # (device, inode) the watcher watches
        self._root_missing = False
        self._extras: dict[str, CorpusPart] = {}  # reports from outside, by id
        self._pending = Pending()
        self._pending_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._engine: SearchEngine | None = None
        self._semantic: SemanticStage | None = None
        self._seed: SearchEngine | None = None  # the cached engine whose parts are not cut out
        self._cache_check: CacheCheck | None = None  # its hashes, checked in the background
        self._closed = False
        self._watch_failed = False  # said once, not at every refresh
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
        follow_outside_links: bool = False,
        watch: Mode | None = None,
        poll_seconds: float = 2.0,
    ) -> Library:
        """Load the folder and keep it live.  With `cache_dir`, the newest index cached
        for this folder is loaded as it is, with the files it was built from: the first
        refresh reads again only the files that changed since (a restart answers at once,
        even after edits).  Without one, or with no entry yet, every file is read, and the
        result cached.  Raises ReportsNotFoundError when `root` does not exist."""
        library = cls(
            root,
            settings,
            settle_seconds=settle_seconds,
            follow_outside_links=follow_outside_links,
            watch=watch,
            poll_seconds=poll_seconds,
        )
        if not library.root.exists():
            raise ReportsNotFoundError(
                f"no reports at {library.root}: the path does not exist. "
                "Point it at a folder of reports or at one .txt, .md or .jsonl file."
            )
        # The first question needs the language detector: it loads while the cache is read.
        languages.warm_up(library.settings.analyzer.language_model, cache_dir)
        if cache_dir is not None and library._load_cached(cache_dir):
            return library
        library._refresh(library.folder.walk())
        if cache_dir is not None:
            library._saved_version = -1  # what was just read is not in the cache yet
            library.save_cache(cache_dir)
        return library

    def _source(self) -> str:
        return source_id(self.root, self.follow_outside_links, self._analyzer.fingerprint())

    def _load_cached(self, cache_dir: Path) -> bool:
        found = SearchEngine.from_latest_cache(cache_dir, self._source(), self.settings)
        if found is None:
            return False
        engine, listing, self._cache_check = found
        prefix = self.folder.lister.join(str(self.root), "") if self.root.is_dir() else None

        def signatures() -> dict[str, Signature]:
            if prefix is None:
                return {str(self.root): (size, mtime) for _, size, mtime in listing}
            return {prefix + name: (size, mtime) for name, size, mtime in listing}

        # Files with other signatures are read again by the next walk.  The engine's parts
        # are cut out per file only when an engine is next built, off the start-up's path.
        self.folder.adopt(signatures)
        self._seed = engine
        self._engine = self._with_semantic(engine)
        return True

    def use_semantic(self, stage: SemanticStage | None) -> None:
        """Engines from now on have `stage`, which embeds each new corpus in the
        background (until it is done, they answer with BM25 alone)."""
        with self._refresh_lock:
            self._semantic = stage
            if self._engine is not None:
                self._engine = self._with_semantic(self._engine)

    def _with_semantic(self, engine: SearchEngine) -> SearchEngine:
        if self._semantic is not None:
            self._semantic.request(engine.corpus)
        return engine.with_semantic(self._semantic)

    @property
    def engine(self) -> SearchEngine:
        """The newest complete engine (built on first use if nothing was loaded yet)."""
        if self._engine is None:
            self.refresh()
        assert self._engine is not None
        return self._engine

    @property
    def watch_mode(self) -> str:
        """How changes are found: "events", "polling", or "walk" (every refresh)."""
        if self._watcher is not None and self._watcher.mode is not None:
            return self._watcher.mode
        return "walk"

    # -- reports from outside the folder ------------------------------------------------

    def put_reports(self, reports: Iterable[Report], *, announce: bool = True) -> None:
        """Add or replace reports (by id) at the next refresh; thread-safe and cheap.

        `announce=False` keeps new ones out of `Change.added` (a feed's backlog).
        """
        with self._pending_lock:
            self._pending.put_all(reports, announce)

    def remove_reports(self, report_ids: Iterable[str]) -> None:
        """Drop reports handed in with `put_reports` (by id) at the next refresh;
        thread-safe and cheap.  Reports from the folder are not touched."""
        with self._pending_lock:
            self._pending.remove_all(report_ids)

    # -- refreshing ------------------------------------------------------------------------

    def refresh(self) -> Change | None:
        """Bring the index up to date; None when nothing changed (the engine stays)."""
        if self._cache_check is not None and self._cache_check.failed:
            # The cached index failed its hashes (retrieval.cache_stamps): read every file.
            self._cache_check, self._seed = None, None
            self.folder.adopt(dict)
            return self._refresh(self.folder.walk())
        return self._refresh(None)

    def index_file(self, relative: str) -> tuple[Change | None, FileContent | None]:
        """Read the file `relative` (to the root) now, not once it settles (it was just
        written whole: an upload), or drop it when it is gone; what changed (`engine` is the
        newest engine either way) and what the file gave (None: nothing, it is gone)."""
        path = self.folder.lister.path_of(relative)
        return self._refresh(None, now=path), self.folder.contents.get(path)

    def _refresh(self, walk: Walk | None, now: str | None = None) -> Change | None:
        """`walk`: a walk of the whole folder just made, to use instead of what changed."""
        with self._refresh_lock:
            started = time.monotonic()
            if now is None:
                files_read, folder_changed = self._refresh_files(walk)
            else:
                files_read, folder_changed = self.folder.read_now(now)
            self._folder_version += folder_changed
            with self._pending_lock:
                pending, self._pending = self._pending, Pending()
            extras_changed = self._apply_extras(pending)
            if self._engine is not None and not (folder_changed or extras_changed):
                return None
            previous, engine = self._engine, self._with_semantic(self._build())
            self._engine = engine
            found, seconds = diff(previous, engine, pending.quiet), time.monotonic() - started
            return Change(engine, found.added, found.updated, found.removed, files_read, seconds)

    def _refresh_files(self, walk: Walk | None) -> tuple[int, bool]:
        folder = self.folder
        if walk is not None:
            return folder.apply_walk(walk, read_all=self._engine is None)
        if not self._root_present():
            return 0, False
        changes = self._changes()
        if changes is None:
            return folder.apply_walk(folder.walk(), read_all=self._engine is None)
        if not changes.paths and not folder.waiting:
            return 0, False
        return folder.apply_changes(changes.paths, changes.created)

    def _root_present(self) -> bool:
        # False while the root is gone: more likely an unmounted volume than a deliberate
        # deletion of everything, so the reports loaded so far keep being answered.
        try:
            info = os.stat(self.root)
        except OSError:
            info = None
        if info is None and self._engine is not None:
            if not self._root_missing:
                log.warning("%s has gone; keeping the reports loaded so far", self.root)
            self._root_missing = True
            return False
        moved = info is not None and (info.st_dev, info.st_ino) != self._root_id
        if self._watcher is not None and (self._root_missing or moved):
            # Back, or another folder in its place: what watched the old one is blind.
            self._stop_watcher()
        self._root_missing = False
        return True

    def _changes(self) -> Changes | None:
        """What the watcher saw change, or None: walk everything."""
        if self._watch is None or self._closed or not self.root.is_dir():
            return None
        watcher = self._watcher  # close() may drop it meanwhile, from another thread
        if watcher is None or not watcher.running:
            self._start_watcher()
            return None  # nothing watched until now: walk once, with the watcher on
        changes = watcher.take()
        return None if changes.rescan else changes

    def _start_watcher(self) -> None:
        assert self._watch is not None
        self._stop_watcher()
        # Before the first walk, guess its cost from the files the cache listed.
        walk_cost = self.folder.walk_seconds or len(self.folder.signatures) * _STAT_SECONDS
        poll = max(self._poll_seconds, walk_cost / _POLL_SHARE)
        watcher = FolderWatcher(self.root, mode=self._watch, poll_seconds=poll)
        try:
            info = os.stat(self.root)
            watcher.start()
        except (OSError, RuntimeError) as error:
            if not self._watch_failed:
                log.warning("cannot watch %s (%s); rescans read it in full", self.root, error)
            self._watch_failed = True
            return
        self._watch_failed = False
        self._watcher, self._root_id = watcher, (info.st_dev, info.st_ino)
        if self._closed:  # closed while it started
            self._stop_watcher()

    def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def close(self) -> None:
        """Stop watching the folder (the engine keeps answering); for shut-down."""
        self._closed = True
        self._stop_watcher()
        if self._semantic is not None:
            self._semantic.close()

    def _apply_extras(self, pending: Pending) -> bool:
        gone = [report_id for report_id in pending.removed if report_id in self._extras]
        for report_id in gone:
            del self._extras[report_id]
        fresh = [r for r in pending.put.values() if not holds(self._extras.get(r.id), r)]
        indexed = 0
        for report in fresh:
            try:
                [part] = index_reports([report], self._analyzer)
            except Exception as error:  # one report nobody foresaw costs only itself
                log.warning("skipped report %s: cannot be indexed (%r)", report.id, error)
                continue
            self._extras[report.id] = part
            indexed += 1
        return bool(indexed or gone)

    @property
    def cache_stale(self) -> bool:
        """The folder changed since it was loaded (Library.open) or saved (save_cache)."""
        return self._folder_version != self._saved_version

    def save_cache(self, cache_dir: Path, *, then_map: bool = True) -> bool:
        """Save the folder's index (outside reports left out) as the index cache for its
        files as last read, so a restart loads it instead of analyzing everything again.
        With `then_map`, and no outside reports, the entry saved then serves instead of
        the engine it came from, as after a restart: the same index, its arrays the page
        cache's (shared with other processes) instead of the process's own.

        False when there is nothing to save, or a file is still waiting to settle (the
        folder then does not match what the index holds).
        """
        with self._refresh_lock:
            known = dict(self.folder.signatures)
            if self._engine is None or not self.cache_stale or self.folder.waiting:
                return False
            if any(signature == UNKNOWN for signature in known.values()):
                return False
            engine = self._build(with_extras=False) if self._extras else self._engine
            signatures = self.folder.listing()
            version = self._folder_version
        # The engine is immutable: no lock needed.
        engine.save_to_cache(cache_dir, signatures, source=self._source())
        self._saved_version = max(self._saved_version, version)
        if then_map and engine is self._engine:
            mapped = SearchEngine.from_cache(cache_dir, signatures, self.settings)
            with self._refresh_lock:
                if mapped is not None and engine is self._engine:  # not refreshed meanwhile
                    self.folder.adopt(lambda: known)
                    self._seed, self._engine = mapped, self._with_semantic(mapped)
        return True

    def _build(self, *, with_extras: bool = True) -> SearchEngine:
        self._cut_seed()
        contents = self.folder.contents
        files = [(p, contents[p].parts, contents[p].problems) for p in self.folder.order()]
        extras = [("(feed)", (part,), ()) for part in self._extras.values()]
        parts, problems = first_of_each([*files, *(extras if with_extras else [])])
        walk_problems = list(self.folder.walk_problems)
        engine = SearchEngine.from_parts(parts, self.settings, walk_problems + problems)
        if with_extras:  # to serve: its cut parts replace these (tokens kept once, as ids)
            views = dict(zip(map(id, parts), parts_reading(engine.corpus, parts), strict=True))
            self.folder.replace_parts(views)
            self._extras = {key: views.get(id(p), p) for key, p in self._extras.items()}
        return engine

    def _cut_seed(self) -> None:
        engine, self._seed = self._seed, None
        if engine is not None:  # every build finds the duplicates again: theirs are not kept
            kept = [p for p in engine.problems if not p.reason.startswith(DUPLICATE_REASON)]
            self.folder.fill_from(engine.parts(), kept)
