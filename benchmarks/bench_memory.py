"""Whole-engine memory of one replica: cold start, warm start, questions, one reload.

    .venv/bin/python -m benchmarks.bench_memory                 # 100k passages, 3 repeats
    .venv/bin/python -m benchmarks.bench_memory --passages 1000000 --repeats 1

Over a copy of `benchmarks.corpus`'s synthetic folder (generated once under /tmp
and reused; copied with its modification times, since the warm phase adds a
file), each repeat runs two phases, each in a fresh process of its own, so the
memory of one never shows in the other:

* cold: an empty index cache, so `retrieval.library.Library.open` reads and
  analyzes every file, builds the engine and writes the cache (which then
  serves, mapped);
* warm: the same folder and cache, so the library loads the cached index, as
  a restarting replica does; then one new report is dropped into the folder
  and the engine rebuilt, as the bot's rescan does, and the cache saved, as
  the bot does within CACHE_SAVE_SECONDS (the saved entry then serves).

Each phase imports what a replica imports (`bot.runner`), opens the library as
the bot does (garbage collector off while loading, then `gc.freeze()`), then
asks the corpus's first `--questions` questions.  Resident memory is VmRSS and
peaks are the kernel's VmHWM (reset before each measured step), in MiB above
what the process holds after its imports.  The phases of a repeat take turns,
cold then warm, so a busy spell of the machine shows in both.

Prints a Markdown table (median and min-max over the repeats) and writes JSON
to benchmarks/results/ (gitignored).  No limit is asserted: it measures.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import add_corpus_arguments, corpus_from_args

REPO = Path(__file__).resolve().parent.parent
PHASES = ("cold", "warm")
# Plain English with words the synthetic corpus never uses, so the rebuild must add it.
PROBE = (
    "Glacier Observatory Opens\n\n"
    "The Kvitoya glacier observatory opened with twelve seismometers.\n"
)

# (phase, key, label, unit): the table's rows, in the order of docs/scaling.md's table.
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("cold", "imports_rss_mb", "after the imports (the baseline of the rows below)", "MiB"),
    ("cold", "open_s", "cold open: seconds", "s"),
    ("cold", "open_peak_mb", "cold open: peak", "MiB"),
    ("cold", "open_rss_mb", "cold open: held after it", "MiB"),
    ("cold", "after_questions_rss_mb", "cold open: held after the questions", "MiB"),
    ("warm", "open_s", "warm open (index cache): seconds", "s"),
    ("warm", "open_peak_mb", "warm open: peak", "MiB"),
    ("warm", "open_rss_mb", "warm open: held after it", "MiB"),
    ("warm", "open_file_mb", "  of which pages of mapped files (shared, page cache)", "MiB"),
    ("warm", "after_questions_rss_mb", "warm open: held after the questions", "MiB"),
    ("warm", "after_questions_file_mb", "  of which pages of mapped files", "MiB"),
    ("warm", "questions_s", "the questions, warm: seconds", "s"),
    ("warm", "rebuild_s", "one reload after a new file: seconds", "s"),
    ("warm", "rebuild_peak_over_serving_mb", "one reload: peak above the serving engine", "MiB"),
    ("warm", "after_rebuild_rss_mb", "held after that reload (a running replica)", "MiB"),
    ("warm", "after_rebuild_file_mb", "  of which pages of mapped files", "MiB"),
    ("warm", "after_rebuild_trim_mb", "  after malloc_trim (what is really held)", "MiB"),
    ("warm", "save_s", "saving the index cache after it: seconds", "s"),
    ("warm", "after_save_rss_mb", "held after that save (the saved entry serves)", "MiB"),
    ("warm", "after_save_file_mb", "  of which pages of mapped files", "MiB"),
    ("warm", "after_save_trim_mb", "  after malloc_trim (what is really held)", "MiB"),
    ("cold", "cache_disk_mb", "index cache on disk", "MiB"),
    ("cold", "process_peak_mb", "whole process, peak (absolute): cold run", "MiB"),
    ("warm", "process_peak_mb", "whole process, peak (absolute): warm run", "MiB"),
    ("cold", "wall_s", "whole process, start to exit: cold run", "s"),
    ("warm", "wall_s", "whole process, start to exit: warm run", "s"),
)


# ---- one phase, in its own process ------------------------------------------------------


def _kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0])


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


class Memory:
    """This process's resident memory, with the peak reset before each measured step."""

    def __init__(self) -> None:
        # Resetting VmHWM loses the peak so far; keep it for the whole process's peak.
        self._process_peak_kib = 0

    def peak_kib(self) -> int:
        peak = _kib("VmHWM")
        self._process_peak_kib = max(self._process_peak_kib, peak)
        return peak

    def rss_kib(self) -> int:
        return _kib("VmRSS")

    def file_kib(self) -> int:
        """Of `rss_kib`, the pages of mapped files: the page cache's, shared with every
        process that maps the same file (the index cache, libraries)."""
        return _kib("RssFile")

    def trimmed_rss_kib(self) -> int:
        """`rss_kib` once free heap pages went back to the kernel: what is held, not
        what was (glibc keeps freed pages for later allocations until trimmed)."""
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        return self.rss_kib()

    def reset_peak(self) -> int:
        """Drop garbage, start a new peak; the resident KiB it starts from."""
        self.peak_kib()
        gc.collect()
        # Free heap pages go back to the kernel, so RSS counts what is held, not what was.
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        # "5" resets VmHWM to the current RSS (proc(5), /proc/pid/clear_refs).
        Path("/proc/self/clear_refs").write_text("5")
        return self.rss_kib()

    @property
    def process_peak_mb(self) -> float:
        return _mib(max(self._process_peak_kib, self.peak_kib()))


def drop_probe(root: Path) -> Path:
    """The new report of the reload, dated a minute ago so the settle rule lets it in."""
    path = root / "live" / "memory-probe.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(PROBE, encoding="utf-8")
    moment = time.time() - 60
    os.utime(path, (moment, moment))
    return path


def measure_phase(
    phase: str, root: Path, cache: Path, questions: Path, count: int
) -> dict[str, Any]:
    # Everything a replica imports, in the baseline, so the rows below are the engine's.
    importlib.import_module("bot.runner")
    from retrieval.library import Library

    memory = Memory()
    out: dict[str, Any] = {"phase": phase}
    base = memory.reset_peak()
    base_file = memory.file_kib()
    out["imports_rss_mb"] = _mib(base)
    # As bot/runner.py loads: the collector would walk the growing heap over and over.
    gc.disable()
    opened = time.perf_counter()
    library = Library.open(root, cache_dir=cache, watch=None)
    engine = library.engine
    out["open_s"] = round(time.perf_counter() - opened, 2)
    gc.freeze()
    gc.enable()
    out["reports"], out["passages"] = len(engine.reports), len(engine.passages)
    out["open_peak_mb"] = _mib(memory.peak_kib() - base)
    out["open_rss_mb"] = _mib(memory.rss_kib() - base)
    out["open_file_mb"] = _mib(memory.file_kib() - base_file)
    with questions.open(encoding="utf-8") as lines:
        asked = [json.loads(line)["question"] for line in lines if line.strip()][:count]
    searching = time.perf_counter()
    for question in asked:
        engine.search(question)
    out["questions"] = len(asked)
    out["questions_s"] = round(time.perf_counter() - searching, 2)
    out["after_questions_rss_mb"] = _mib(memory.rss_kib() - base)
    out["after_questions_file_mb"] = _mib(memory.file_kib() - base_file)
    if phase == "warm":
        probe = drop_probe(root)
        before = memory.reset_peak()
        rebuilding = time.perf_counter()
        # Without a watcher a refresh walks the whole folder, as the bot's first rescan does.
        change = library.refresh()
        out["rebuild_s"] = round(time.perf_counter() - rebuilding, 2)
        if change is None or not change.added:
            raise SystemExit("the probe report was not picked up by the reload")
        out["rebuild_peak_over_serving_mb"] = _mib(memory.peak_kib() - before)
        # The old engine goes, as in the bot once no question holds it any more.
        del change, engine
        gc.collect()
        out["after_rebuild_rss_mb"] = _mib(memory.rss_kib() - base)
        out["after_rebuild_file_mb"] = _mib(memory.file_kib() - base_file)
        out["after_rebuild_trim_mb"] = _mib(memory.trimmed_rss_kib() - base)
        # As the bot does within CACHE_SAVE_SECONDS; the saved entry then serves, mapped.
        saving = time.perf_counter()
        library.save_cache(cache)
        out["save_s"] = round(time.perf_counter() - saving, 2)
        gc.collect()
        out["after_save_rss_mb"] = _mib(memory.rss_kib() - base)
        out["after_save_file_mb"] = _mib(memory.file_kib() - base_file)
        out["after_save_trim_mb"] = _mib(memory.trimmed_rss_kib() - base)
        probe.unlink()
    files = [f for f in cache.rglob("*") if f.is_file()]
    out["cache_disk_mb"] = round(sum(f.stat().st_size for f in files) / 2**20, 1)
    library.close()
    out["process_peak_mb"] = memory.process_peak_mb
    return out


# ---- the runs, from the parent ----------------------------------------------------------


def run_phase(
    phase: str, root: Path, cache: Path, questions: Path, count: int, timeout: float
) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "benchmarks.bench_memory", "--phase", phase),
        *("--reports", str(root), "--cache", str(cache)),
        *("--questions-file", str(questions), "--questions", str(count)),
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"the {phase} phase exited with status {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def run(args: argparse.Namespace, reports: Path, questions: Path) -> list[dict[str, Any]]:
    from benchmarks.load_bot import log

    runs: list[dict[str, Any]] = []
    for repeat in range(1, args.repeats + 1):
        work = Path(tempfile.mkdtemp(prefix="reports-bot-memory-"))
        try:
            root = work / "reports"
            # copy2 keeps modification times: the files count as settled, as in the corpus.
            shutil.copytree(reports, root)
            cache = work / "cache"
            done: dict[str, Any] = {"repeat": repeat}
            for phase in PHASES:
                got = run_phase(phase, root, cache, questions, args.questions, args.timeout)
                done[phase] = got
                log(
                    f"repeat {repeat}, {phase}: open {got['open_s']:.2f}s, "
                    f"peak {got['open_peak_mb']:.0f} MiB, whole process {got['wall_s']:.1f}s"
                )
            runs.append(done)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return runs


def summary(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """phase -> key -> median, min, max over the repeats."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for phase, key, _, _ in ROWS:
        values = [float(run[phase][key]) for run in runs]
        out.setdefault(phase, {})[key] = {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }
    return out


def _number(value: float, unit: str, largest: float) -> str:
    if unit == "s":
        return f"{value:.2f}"
    # One precision per row, so a spread such as 99.5–100 does not read as two kinds.
    return f"{value:,.0f}" if largest >= 100 else f"{value:.1f}"


def markdown(runs: Sequence[dict[str, Any]], passages: int, questions: int) -> str:
    figures = summary(runs)
    lines = [
        f"{passages:,} passages, {questions} questions; MiB above the baseline unless marked",
        "",
        "| measurement | unit | runs | median | min–max |",
        "|---|---|---|---|---|",
    ]
    for phase, key, label, unit in ROWS:
        stats = figures[phase][key]
        top = stats["max"]
        spread = ""
        if len(runs) > 1:
            spread = f"{_number(stats['min'], unit, top)}–{_number(stats['max'], unit, top)}"
        median = _number(stats["median"], unit, top)
        lines.append(f"| {label} | {unit} | {len(runs)} | {median} | {spread} |")
    return "\n".join(lines)


def _memory_gib() -> float:
    meminfo = Path("/proc/meminfo").read_text()
    return round(int(meminfo.split("MemTotal:", 1)[1].split()[0]) / 2**20, 1)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_corpus_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3, help="cold + warm pairs to measure")
    parser.add_argument("--questions", type=int, default=500, help="questions asked per phase")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds a phase may take")
    # How the parent runs one phase in a child; not for people.
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--reports", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--questions-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.phase and not (args.reports and args.cache and args.questions_file):
        parser.error("--phase needs --reports, --cache and --questions-file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase:
        result = measure_phase(
            args.phase, args.reports, args.cache, args.questions_file, args.questions
        )
        print(json.dumps(result))
        return 0
    # Imported here, not at the top: a phase's baseline holds only what a replica imports.
    from benchmarks.load_bot import log, write_result

    corpus = corpus_from_args(args)
    log(f"corpus: {corpus.root} ({corpus.passages:,} passages, {corpus.files:,} files)")
    runs = run(args, corpus.reports_dir, corpus.questions_path)
    table = markdown(runs, corpus.passages, args.questions)
    print(table)
    path = write_result(
        "bench-memory",
        {
            "benchmark": "bench_memory",
            "at": datetime.now(UTC).isoformat(),
            "corpus": {
                "dir": str(corpus.root),
                "passages": corpus.passages,
                "reports": corpus.reports,
                "files": corpus.files,
                "bytes": corpus.bytes,
            },
            "settings": {"repeats": args.repeats, "questions": args.questions},
            "runs": runs,
            "summary": summary(runs),
            "table": table,
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gib": _memory_gib(),
                "python": sys.version.split()[0],
                "nice": os.nice(0),
            },
        },
    )
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
