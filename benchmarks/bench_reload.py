"""Live reload: how long the bot takes to pick up one new report in a large archive.

    .venv/bin/python -m benchmarks.bench_reload                    # 100k passages
    .venv/bin/python -m benchmarks.bench_reload --passages 1000000 --repeats 3

The archive is `benchmarks.corpus`'s synthetic folder (generated once under
/tmp and reused), copied with its modification times into a scratch folder,
since the benchmark adds, changes and deletes files.  It measures, on one
`retrieval.library.Library`:

* open, cold: load and analyze every file, build the index, save the cache;
* open, warm: what a restarting bot does (index cache + taking it over);
* new file: one new report dropped in → `refresh()` until it is searchable;
* changed file / deleted file: the same for an edit and a removal;
* with the parts of `refresh()` timed apart: the folder scan, and the engine
  rebuilt from already analyzed parts (BM25 statistics are global, so every
  reload recomputes them; the analysis of unchanged files is reused).

What a user waits for on top of a refresh: up to REPORTS_POLL_SECONDS (2 s) for the
next scan, and a file younger than a second waits for the following one (it may still
be being written).  Prints a Markdown table and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.corpus import CorpusSpec, default_corpus_dir, ensure_corpus
from retrieval.library import DEFAULT_SETTLE_SECONDS, Change, Library
from retrieval.search import SearchEngine

REPO = Path(__file__).resolve().parent.parent
# The bot's default rescan interval (REPORTS_POLL_SECONDS).
POLL_SECONDS = 2.0
RESULTS_DIR = REPO / "benchmarks" / "results"
T = TypeVar("T")

# A report in plain English with words the synthetic corpus never uses, so the
# question below can only be answered by it.
NEW_REPORT = """Glacier Observatory Opens {n}

The Kvitøya glacier observatory {n} opened on Thursday with twelve seismometers.

"We will finally hear the ice shelf move," said chief glaciologist Ingrid Solberg.
"""
QUESTION = "How many seismometers does the glacier observatory {n} have?"


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def settled_write(path: Path, text: str) -> None:
    """Write a finished file: dated a minute ago, so the settle rule lets it in at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    moment = time.time() - 60
    os.utime(path, (moment, moment))


def refresh(library: Library) -> Change:
    change = library.refresh()
    if change is None:
        raise SystemExit("refresh saw no change: the benchmark's file was not picked up")
    return change


def run(passages: int, repeats: int, work: Path) -> dict[str, Any]:
    spec = CorpusSpec(passages=passages)
    corpus = ensure_corpus(spec, default_corpus_dir(spec.passages, spec.seed, spec.layout))
    root = work / "reports"
    shutil.copytree(corpus.reports_dir, root)  # copy2: modification times kept
    cache = work / "index-cache"

    cold, cold_s = timed(lambda: Library.open(root, cache_dir=cache))
    library, warm_s = timed(lambda: Library.open(root, cache_dir=cache))
    print(
        f"{len(library.engine.reports)} reports, {len(library.engine.passages)} passages; "
        f"open cold {cold_s:.2f}s, warm {warm_s:.2f}s",
        file=sys.stderr,
    )
    del cold

    new_s: list[float] = []
    changed_s: list[float] = []
    deleted_s: list[float] = []
    scan_s: list[float] = []
    merge_s: list[float] = []
    for n in range(repeats):
        path = root / "live" / f"observatory-{n}.txt"
        settled_write(path, NEW_REPORT.format(n=n))
        change, seconds = timed(lambda: refresh(library))
        hits = change.engine.search(QUESTION.format(n=n))
        if (
            [r.path for r in change.added] != [str(path)]
            or not hits
            or hits[0].report.path != str(path)
        ):
            raise SystemExit(f"the new report was not picked up as expected: {change.describe()}")
        new_s.append(seconds)

        settled_write(path, NEW_REPORT.format(n=n).replace("twelve", "fourteen"))
        change, seconds = timed(lambda: refresh(library))
        if len(change.updated) != 1:
            raise SystemExit(f"the changed report was not picked up: {change.describe()}")
        changed_s.append(seconds)

        path.unlink()
        change, seconds = timed(lambda: refresh(library))
        if len(change.removed) != 1:
            raise SystemExit(f"the deleted report was not dropped: {change.describe()}")
        deleted_s.append(seconds)

        scan_s.append(timed(library.folder.walk)[1])
        parts = library.engine.parts()
        merge_s.append(timed(lambda: SearchEngine.from_parts(parts))[1])  # noqa: B023
        print(f"round {n + 1}: new {new_s[-1]:.2f}s", file=sys.stderr)

    passages, reports = len(library.engine.passages), len(library.engine.reports)
    picked_up_s = watched(library, root, repeats)
    return {
        "passages": passages,
        "reports": reports,
        "files": corpus.files,
        "repeats": repeats,
        "open_cold_s": cold_s,
        "open_warm_s": warm_s,
        "new_file_s": new_s,
        "changed_file_s": changed_s,
        "deleted_file_s": deleted_s,
        "scan_s": scan_s,
        "rebuild_from_parts_s": merge_s,
        "picked_up_while_watching_s": picked_up_s,
    }


def watched(library: Library, root: Path, repeats: int) -> list[float]:
    """As in the bot: a rescan every POLL_SECONDS after the previous one ends; a file is
    written (the ordinary way: mtime now) at a random moment; how long until it is in the
    engine that answers questions?"""
    stop = threading.Event()

    def rescans() -> None:
        while not stop.is_set():
            library.refresh()
            stop.wait(POLL_SECONDS)

    scanner = threading.Thread(target=rescans, daemon=True)
    scanner.start()
    rng = random.Random(1)
    seconds: list[float] = []
    try:
        for n in range(repeats):
            time.sleep(rng.uniform(0, POLL_SECONDS))
            path = root / "watched" / f"observatory-{n}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            path.write_text(NEW_REPORT.format(n=f"w{n}"), encoding="utf-8")
            report_id = f"watched/observatory-{n}"
            while library.engine.report(report_id) is None:
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"{path} was not picked up within a minute")
                time.sleep(0.01)
            seconds.append(time.perf_counter() - started)
            print(f"watched {n + 1}: picked up after {seconds[-1]:.2f}s", file=sys.stderr)
    finally:
        stop.set()
        scanner.join()
    return seconds


def markdown(result: dict[str, Any]) -> str:
    def median(key: str) -> str:
        return f"{statistics.median(result[key]):.2f}"

    return "\n".join(
        [
            f"Archive: {result['passages']:,} passages, {result['reports']:,} reports, "
            f"{result['files']:,} files; median of {result['repeats']} rounds.",
            "",
            "| step | seconds |",
            "| --- | --- |",
            f"| open, cold (analyze everything, build, save cache) | {result['open_cold_s']:.2f} |",
            f"| open, warm (index cache, as on a restart) | {result['open_warm_s']:.2f} |",
            f"| **refresh: one new report searchable** | **{median('new_file_s')}** |",
            f"| refresh: one changed report | {median('changed_file_s')} |",
            f"| refresh: one deleted report | {median('deleted_file_s')} |",
            f"| of which: scanning the folder | {median('scan_s')} |",
            f"| of which: engine from analyzed parts (BM25 rebuild) | "
            f"{median('rebuild_from_parts_s')} |",
            f"| **written → answerable, rescans every {POLL_SECONDS:g} s (median / max)** | "
            f"**{median('picked_up_while_watching_s')} / "
            f"{max(result['picked_up_while_watching_s']):.2f}** |",
            "",
            f"A file is read once it is {DEFAULT_SETTLE_SECONDS:g} s old (it may still be being "
            "written), so the wait is the settle time, up to one rescan interval, and a refresh.",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temp folder)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="reports-bot-reload-"))
    try:
        result = run(args.passages, args.repeats, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(markdown(result))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench-reload-{stamp}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"\nfull figures: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
