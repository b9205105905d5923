"""Analysis on more than one core: a big batch of reports, or of report files, cut into
chunks that this process and worker processes share, the results put back in order.

Analysis is pure Python, so threads would take turns on one core; processes do not.
Workers are started with "spawn", never forked: the bot runs threads, and a forked
child inherits whatever locks they held at that moment.  This process goes through the
chunks from the first, the workers from the last, and does here a chunk no worker has
started when it comes to it.  So `workers` counts this process (two cores: one worker),
half the results at most cross between processes, and a worker slow to start or short
of a core only takes less of the work.  Batches below `MIN_POOL_CHARS` of text stay
here, and so does everything in a worker (each imports the main script again: one that
builds must do it under `__name__ == "__main__"`).

What comes back is exactly what analyzing here gives (same records, same order): a
worker runs the same `retrieval.corpus` code on its chunk.  Whatever goes wrong with a
worker (killed, or no processes allowed) costs only time: this process does what did not
come back, after one warning.  A chunk whose analysis raised comes back empty and is
done here, so it raises (or is logged and skipped, for a file) as without workers.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from retrieval.analyzer import Analyzer, AnalyzerSettings
from retrieval.corpus import (
    Corpus,
    CorpusPart,
    collector_paused,
    index_reports,
    make_corpus,
    merge_parts,
    split_parts,
)
from retrieval.corpus_rows import Packed, pack, records_of, rows_of, unpack
from retrieval.folder import FileContent, FolderFiles
from retrieval.listing import Signature, Walk, signature_of
from retrieval.loader import LoadProblem, load_file
from retrieval.models import Report

log = logging.getLogger(__name__)

# About 15,000 passages of news, three seconds of analysis: a worker starts in half a
# second, on the other core, while this one works.
MIN_POOL_CHARS = 3_000_000
# Chunks per process: enough that where the two meet, this process waits little for the
# chunks a worker has taken (two at most); few enough that sending each costs little.
_CHUNKS_PER_PROCESS = 16
_MAX_CHUNK_CHARS = 2_000_000

T = TypeVar("T")
R = TypeVar("R")


def pool_size(workers: int) -> int:
    """How many processes analysis may use, this one included: `workers`, at most one per
    core we may run on; one in a worker process (or a main script a worker imports)."""
    if multiprocessing.parent_process() is not None:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(workers, cores or 1))


# ---- a corpus from reports in memory (SearchEngine.build) ------------------------------


def make_corpus_pooled(
    reports: Sequence[Report],
    analyzer: Analyzer,
    problems: Sequence[LoadProblem],
    workers: int,
    *,
    min_chars: int | None = None,
) -> Corpus:
    """`make_corpus(reports, analyzer, problems)`, shared with workers when it pays."""
    sizes = [_report_chars(report) for report in reports]
    processes = pool_size(workers)
    # Reports sharing an id are profiled together (corpus._report_groups): never cut them.
    distinct = len({report.id for report in reports}) == len(reports)
    enough = sum(sizes) >= (MIN_POOL_CHARS if min_chars is None else min_chars)
    if processes < 2 or not enough or not distinct:
        return make_corpus(reports, analyzer, problems)
    chunks = [tuple(reports[start:end]) for start, end in _chunks(sizes, processes)]
    # As rows of field values, which pickle in a third of the time records take.
    tasks = [rows_of(chunk, Report) for chunk in chunks]
    with (
        collector_paused(),
        closing(_Shared(_analyze_reports, tasks, analyzer, processes)) as shared,
    ):
        parts = [
            unpack(packed, chunk)
            if (packed := shared.take(i))
            else make_corpus(chunk, analyzer, ())
            for i, chunk in enumerate(chunks)
        ]
        # With distinct ids, each chunk's report indices are the merged list's less an offset.
        return merge_parts(parts, problems)


def _report_chars(report: Report) -> int:
    return len(report.title) + len(report.caption or "") + sum(map(len, report.paragraphs))


def _analyze_reports(rows: tuple[tuple[Any, ...], ...]) -> Packed | None:
    try:
        with collector_paused():
            reports = records_of(rows, Report)
            return pack(make_corpus(reports, _worker_analyzer(), ()), with_reports=False)
    except Exception:  # done again in the parent, which raises it there
        return None


# ---- report files read and analyzed (the live library's cold start) --------------------


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """What reading and analyzing one file gave, as `retrieval.folder` would make it."""

    signature: Signature
    parts: tuple[CorpusPart, ...]
    problems: tuple[LoadProblem, ...]
    # What the loader logged meanwhile: `emit_log` says it when the file is taken.
    log_records: tuple[logging.LogRecord, ...]

    def emit_log(self) -> None:
        for record in self.log_records:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)


class PooledFolder(FolderFiles):
    """`FolderFiles` that shares the files a walk brings with workers when there are
    enough of them (a cold start, or a restart after many edits).  The walk is applied as
    ever, file by file in order; the workers read the last files meanwhile."""

    def __init__(
        self,
        root: Path,
        analyzer: Analyzer,
        *,
        workers: int,
        settle_seconds: float,
        follow_outside_links: bool,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            root,
            analyzer,
            settle_seconds=settle_seconds,
            follow_outside_links=follow_outside_links,
            wall_clock=wall_clock,
            clock=clock,
        )
        self.workers = workers
        self._shared: _Shared[_FileTask, _ChunkResult | None] | None = None
        self._chunk_of: dict[str, int] = {}
        self._untaken: set[int] = set()
        self._taken: dict[str, LoadedFile] = {}

    def apply_walk(self, walk: Walk, *, read_all: bool) -> tuple[int, bool]:
        processes = pool_size(self.workers)
        # A single file named as the root is one task: nothing to share.
        if processes < 2 or not self.root.is_dir():
            return super().apply_walk(walk, read_all=read_all)
        known, now = self.signatures, self._wall_clock()
        files = [
            (path, signature)
            for path, signature in walk.files.items()
            if known.get(path) != signature
            # Only files sure to be read; one still settling waits, as it would.
            and (read_all or now - signature[1] / 1e9 >= self.settle_seconds)
        ]
        if sum(signature[0] for _, signature in files) < MIN_POOL_CHARS:
            return super().apply_walk(walk, read_all=read_all)
        chunks = _chunks([signature[0] for _, signature in files], processes)
        self._chunk_of = {path: i for i, (a, b) in enumerate(chunks) for path, _ in files[a:b]}
        self._untaken = set(range(len(chunks)))
        tasks = [(str(self.root), self.follow_outside_links, tuple(files[a:b])) for a, b in chunks]
        shared = _Shared(_load_files, tasks, self._analyzer, processes)
        with collector_paused(), closing(shared):
            self._shared = shared
            try:
                return super().apply_walk(walk, read_all=read_all)
            finally:
                self._shared, self._chunk_of, self._untaken, self._taken = None, {}, set(), {}

    def _load(self, path: str, signature: Signature) -> FileContent | None:
        index = self._chunk_of.pop(path, -1)
        # The first of a chunk's files to be read takes the whole chunk's results.
        if index in self._untaken and self._shared is not None:
            self._untaken.discard(index)
            self._take(self._shared.take(index))
        loaded = self._taken.pop(path, None)
        if loaded is None or loaded.signature != signature:
            return super()._load(path, signature)  # read here, as without workers
        loaded.emit_log()
        return FileContent(loaded.parts, loaded.problems)

    def _take(self, result: _ChunkResult | None) -> None:
        if result is None:
            return
        files, packed = result
        # One part per report, the chunk's files' one after another.
        parts = split_parts(unpack(packed, None))
        start = 0
        for name, walked, count, problems, records in files:
            self._taken[name] = LoadedFile(
                walked, tuple(parts[start : start + count]), problems, records
            )
            start += count


_FileTask = tuple[str, bool, tuple[tuple[str, Signature], ...]]
# A file read: its path, signature, how many reports, problems and log.
_FileRead = tuple[str, Signature, int, tuple[LoadProblem, ...], tuple[logging.LogRecord, ...]]
# Each file read, and all their reports analyzed, packed as one corpus: the terms of the
# chunk's tokens cross once.
_ChunkResult = tuple[list[_FileRead], "Packed"]


def _load_files(task: _FileTask) -> _ChunkResult | None:
    """Each file of the chunk as `FolderFiles._load` reads it; one left out (it changed
    since the walk, or raised) is read again by the parent, and so is every file of a
    chunk that could not be packed."""
    root, follow_outside_links, files = task
    results: list[_FileRead] = []
    parts: list[CorpusPart] = []
    # Paused as in the bot's start-up: analysis makes long-lived objects and no cycles,
    # and whatever cycles a document's parser leaves are a chunk's worth at most.
    with collector_paused():
        for path, signature in files:
            with _captured_log() as records:
                try:
                    loaded = load_file(
                        Path(path), Path(root), follow_outside_links=follow_outside_links
                    )
                    if signature_of(path) != signature:
                        continue  # changed while read: the parent makes it wait to settle
                    file_parts = index_reports(loaded.reports, _worker_analyzer())
                except Exception:  # read again by the parent, which logs it as a problem
                    continue
            parts.extend(file_parts)
            results.append((path, signature, len(file_parts), loaded.problems, tuple(records)))
        try:
            return results, pack(merge_parts(parts, ()), with_reports=True)
        except Exception:
            return None


# ---- chunks, and the workers ----------------------------------------------------------


def _chunks(sizes: Sequence[int], processes: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive runs of items of about even total size."""
    total = sum(sizes)
    target = min(_MAX_CHUNK_CHARS, max(1, total // (processes * _CHUNKS_PER_PROCESS)))
    chunks: list[tuple[int, int]] = []
    start = filled = 0
    for index, size in enumerate(sizes):
        filled += size
        if filled >= target:
            chunks.append((start, index + 1))
            start, filled = index + 1, 0
    if start < len(sizes):
        chunks.append((start, len(sizes)))
    return chunks


class _Shared(Generic[T, R]):
    """Tasks offered to `processes - 1` worker processes, the last task first; the caller
    takes each task's result in order, None for one it must do itself (no worker started
    it, or the workers failed)."""

    def __init__(
        self, work: Callable[[T], R], tasks: Sequence[T], analyzer: Analyzer, processes: int
    ) -> None:
        self._futures: dict[int, Future[R]] = {}
        self._failed = False
        self._pool = ProcessPoolExecutor(
            max_workers=processes - 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(analyzer.settings, logging.getLogger().getEffectiveLevel()),
        )
        try:
            for index in reversed(range(len(tasks))):
                self._futures[index] = self._pool.submit(work, tasks[index])
        except Exception as error:  # no processes here: this process does it all
            self._fail(error)

    def take(self, index: int) -> R | None:
        future = self._futures.pop(index, None)
        if future is None or future.cancel():
            return None
        try:
            return future.result()
        except Exception as error:  # the worker, not the task: that returns None instead
            self._fail(error)
            return None

    def _fail(self, error: BaseException) -> None:
        if not self._failed:
            log.warning(
                "analysis in a worker process failed (%s); this process does the rest",
                error or type(error).__name__,
            )
        self._failed = True
        for future in self._futures.values():
            future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_ANALYZER: Analyzer | None = None
_RECORDS: list[logging.LogRecord] | None = None


def _start_worker(settings: AnalyzerSettings, level: int) -> None:
    global _ANALYZER
    _ANALYZER = Analyzer(settings)
    gc.freeze()  # what the imports made lives as long as the worker: never walk it
    root = logging.getLogger()
    root.handlers = [_Collector()]
    root.setLevel(level)


def _worker_analyzer() -> Analyzer:
    assert _ANALYZER is not None, "runs in a worker started by _start_worker"
    return _ANALYZER


class _Collector(logging.Handler):
    """A worker's log, kept to be said by the parent when it takes the file."""

    def emit(self, record: logging.LogRecord) -> None:
        if _RECORDS is None:
            return
        # Made plain so it pickles whatever its arguments were.
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        record.msg, record.args, record.exc_info, record.exc_text = message, None, None, None
        _RECORDS.append(record)


@contextmanager
def _captured_log() -> Iterator[list[logging.LogRecord]]:
    global _RECORDS
    records: list[logging.LogRecord] = []
    _RECORDS = records
    try:
        yield records
    finally:
        _RECORDS = None
