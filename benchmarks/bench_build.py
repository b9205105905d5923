"""Cold build: how long analyzing and indexing a whole archive takes, and its peak memory.

    .venv/bin/python -m benchmarks.bench_build                          # 100k passages, 3 repeats
    .venv/bin/python -m benchmarks.bench_build --passages 1000000 --repeats 1
    .venv/bin/python -m benchmarks.bench_build --tree before=/tmp/before --workers 1,2

Over `benchmarks.corpus`'s synthetic folder (generated once under /tmp and reused),
two phases, each run in a fresh process of its own:

* build: `load_reports` of the folder, then `SearchEngine.build` over its reports
  (what `search`/`eval --no-cache` do): only the build is timed;
* library: `Library.open` without an index cache, as the bot's cold start does
  (garbage collector off meanwhile, as bot/runner.py has it): the walk, reading,
  analysis and both BM25 indexes.

Each is run for every `--workers` count (`SearchSettings.build_workers`; a tree
without that setting always builds in one process) and every `--tree` (a checkout
to compare, e.g. `git worktree add /tmp/before HEAD`; its `retrieval` is imported
through PYTHONPATH), taking turns within each repeat so a busy spell of the machine
shows in all of them.  Peaks are the kernel's VmHWM of the process (reset after its
imports and the reports' loading) and the largest worker's, in MiB.  A digest of what
was built (tokens, profiles, report tokens) tells whether every variant built the
same thing.

Prints a Markdown table (median and min-max over the repeats) and writes JSON to
benchmarks/results/ (gitignored).  No limit is asserted: it measures.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PHASES = ("build", "library")


# ---- one phase, in its own process ------------------------------------------------------


def _kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0])


def _reset_peak() -> int:
    """Start a new VmHWM from the resident size now (proc(5), clear_refs); that size."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return _kib("VmRSS")


def _digest(corpus: Any) -> str:
    """What was built, in a form that does not depend on the process (sets sorted)."""
    digest = hashlib.sha256()
    for tokens in corpus.passage_tokens:
        digest.update(" ".join(tokens).encode() + b"\n")
    for profile in corpus.profiles:
        cues = [sorted(kind) for sentence in profile.cues for kind in sentence]
        material = (profile.sentence_ends, profile.first_sentence, cues, profile.recurring)
        digest.update(repr(material).encode())
    for tokens in corpus.report_tokens:
        digest.update(" ".join(tokens).encode() + b"\n")
    return digest.hexdigest()[:16]


def measure(phase: str, root: Path, workers: int, check: bool) -> dict[str, Any]:
    import dataclasses

    import retrieval
    from retrieval.library import Library
    from retrieval.loader import load_reports
    from retrieval.search import SearchEngine, SearchSettings

    has_workers = "build_workers" in {f.name for f in dataclasses.fields(SearchSettings)}
    chosen: dict[str, Any] = {"build_workers": workers} if has_workers else {}
    settings = dataclasses.replace(SearchSettings(), **chosen)
    out: dict[str, Any] = {"retrieval": str(Path(retrieval.__file__).parent)}
    if phase == "build":
        started = time.perf_counter()
        reports = load_reports(root).reports
        out["load_s"] = round(time.perf_counter() - started, 2)
        base = _reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        engine = SearchEngine.build(reports, settings)
    else:
        base = _reset_peak()
        gc.disable()
        started, cpu = time.perf_counter(), time.process_time()
        engine = Library.open(root, settings, watch=None).engine
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["cpu_s"] = round(time.process_time() - cpu, 2)
    gc.enable()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["workers_cpu_s"] = round(children.ru_utime + children.ru_stime, 2)
    out["peak_mb"] = round((_kib("VmHWM") - base) / 1024)
    out["worker_peak_mb"] = round(children.ru_maxrss / 1024)
    out["passages"] = len(engine.passages)
    out["digest"] = _digest(engine._corpus) if check else ""
    return out


# ---- the runs, from the parent ----------------------------------------------------------


def run_child(
    phase: str, tree: Path, root: Path, workers: int, check: bool, timeout: float
) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", phase]
    command += ["--reports", str(root), "--workers", str(workers)]
    command += [] if check else ["--no-check"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=tree, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(f"{phase} in {tree} exited with status {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def variants(args: argparse.Namespace) -> list[tuple[str, Path, int, str]]:
    """(label, tree, workers, phase) of every run of one repeat, in turn order."""
    trees = [("this", REPO)] + [(label, Path(path)) for label, path in args.tree]
    runs = []
    for phase in args.phases:
        for label, tree in trees:
            # A tree from before the setting builds in one process, whatever is asked.
            if "build_workers" not in (tree / "retrieval" / "search.py").read_text():
                runs.append((label, tree, 1, phase))
                continue
            runs.extend(
                (f"{label}, {n} worker{'s' * (n != 1)}", tree, n, phase) for n in args.workers
            )
    return runs


def summary(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        rows.setdefault((run["phase"], run["variant"]), []).append(run)
    out = []
    for (phase, variant), got in rows.items():
        row: dict[str, Any] = {"phase": phase, "variant": variant, "runs": len(got)}
        for key in ("seconds", "cpu_s", "workers_cpu_s", "peak_mb", "worker_peak_mb"):
            values = [float(r[key]) for r in got]
            row[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
        row["digests"] = sorted({r["digest"] for r in got})
        out.append(row)
    return out


def markdown(rows: Sequence[dict[str, Any]], passages: int) -> str:
    digests = {d for row in rows for d in row["digests"]} - {""}
    lines = [
        f"{passages:,} passages; seconds of wall time, median (min–max); CPU seconds of "
        "the process and of its workers; peaks in MiB",
        "",
        "| phase | variant | runs | seconds | min–max | CPU s | workers' CPU s "
        "| peak MiB | worker peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row["seconds"]
        lines.append(
            f"| {row['phase']} | {row['variant']} | {row['runs']} | {s['median']:.1f} "
            f"| {s['min']:.1f}–{s['max']:.1f} | {row['cpu_s']['median']:.1f} "
            f"| {row['workers_cpu_s']['median']:.1f} | {row['peak_mb']['median']:,.0f} "
            f"| {row['worker_peak_mb']['median']:,.0f} |"
        )
    if digests:
        lines += ["", "same corpus built by every run: " + ("yes" if len(digests) == 1 else "NO")]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from benchmarks.corpus import add_corpus_arguments

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_corpus_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="2", help="comma-separated build_workers counts")
    parser.add_argument("--phases", default=",".join(PHASES), help="build, library or both")
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="another checkout to measure too (repeatable)",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the digest of the corpus")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds a run may take")
    # How the parent runs one phase in a child; not for people.
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--reports", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in str(args.workers).split(",")]
    args.phases = [p for p in str(args.phases).split(",") if p]
    if any(p not in PHASES for p in args.phases) or args.repeats < 1:
        parser.error("--phases takes build and/or library; --repeats at least 1")
    args.tree = [tuple(t.split("=", 1)) if "=" in t else (t, t) for t in args.tree]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and "--child" in sys.argv:  # a child: nothing of benchmarks imported
        child = argparse.ArgumentParser()
        child.add_argument("--child", choices=PHASES)
        child.add_argument("--reports", type=Path)
        child.add_argument("--workers", type=int)
        child.add_argument("--no-check", action="store_true")
        wanted = child.parse_args()
        print(
            json.dumps(measure(wanted.child, wanted.reports, wanted.workers, not wanted.no_check))
        )
        return 0
    args = parse_args(argv)
    from benchmarks.corpus import corpus_from_args
    from benchmarks.load_bot import log, write_result

    corpus = corpus_from_args(args)
    log(f"corpus: {corpus.root} ({corpus.passages:,} passages, {corpus.files:,} files)")
    runs: list[dict[str, Any]] = []
    for repeat in range(1, args.repeats + 1):
        for label, tree, workers, phase in variants(args):
            got = run_child(
                phase, tree, corpus.reports_dir, workers, not args.no_check, args.timeout
            )
            got.update(repeat=repeat, variant=label, phase=phase, workers=workers)
            runs.append(got)
            log(
                f"repeat {repeat}, {phase}, {label}: {got['seconds']:.1f}s "
                f"(CPU {got['cpu_s']:.1f}s + workers {got['workers_cpu_s']:.1f}s), "
                f"peak {got['peak_mb']} MiB, digest {got['digest']}"
            )
    rows = summary(runs)
    table = markdown(rows, corpus.passages)
    print(table)
    path = write_result(
        "bench-build",
        {
            "benchmark": "bench_build",
            "at": datetime.now(UTC).isoformat(),
            "corpus": {"dir": str(corpus.root), "passages": corpus.passages},
            "runs": runs,
            "summary": rows,
            "table": table,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        },
    )
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
