"""Search speed: FastBM25 against rank-bm25, bm25s and tantivy on synthetic Zipfian corpora.

    .venv/bin/python -m benchmarks.bench_search --sizes 10000,100000,1000000

The workload is seeded and synthetic: passages of 30-120 tokens drawn from
a 200k-term vocabulary with Zipf(1.1) frequencies, standing for analyzer
output, and 200 queries of 3-8 words, each word drawn either like a corpus
token (frequent words dominate) or uniformly by rank (mostly rare words),
half and half (--rare-share).

For each size, separate child processes (so memory peaks never mix) build
the same corpus and measure:

* fast:  FastBM25's build seconds and peak memory, index memory, size on
         disk, save seconds;
* load:  a fresh process loading the saved index (FastBM25.load, and the
         IndexStore path the bot uses, which also verifies checksums), and
         how much memory the loaded index takes;
* speed: in one process, over the same token lists, every backend's top-10
         latency: rank-bm25 (build and peak memory first, then a sample of
         the queries), FastBM25 (its first top-k, which imports numba and
         compiles or loads the kernel, timed apart), FastBM25's exhaustive
         numpy path (get_scores, then best_of), and the peers of
         benchmarks/bench_peers.py (bm25s, tantivy) when installed.  Each
         backend answers its queries --rounds times, taking turns; the table
         gives the median and p99 over every answer and the spread (lowest
         and highest) of the round medians.  Compare backends within a run.

Peak build memory is the kernel's peak resident size (VmHWM, reset just
before the build) minus the resident size then: what the build adds on top
of the corpus it is given (Linux only).  Prints Markdown tables and writes
JSON to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.bench_peers import Search, build_peers, latency_rounds, speed_table, table
from retrieval.bm25 import FastBM25
from retrieval.bm25_compiled import compiled_top_k
from retrieval.bm25_reference import RankBM25Backend
from retrieval.index_store import IndexStore
from retrieval.scorer import Scorer, best_of

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
TOP_K = 10
WARMUP_QUERIES = 5


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    size: int
    vocabulary: int = 200_000
    zipf: float = 1.1
    min_len: int = 30
    max_len: int = 120
    queries: int = 200
    rare_share: float = 0.5
    seed: int = 20240601


# ---- the synthetic workload ----------------------------------------------------------


def make_vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """`size` distinct lowercase pseudo-words of 3 to 10 letters; index = frequency rank - 1."""
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < size:
        lengths = rng.integers(3, 11, size - len(words)).tolist()
        letters = alphabet[rng.integers(0, 26, sum(lengths))].tobytes().decode()
        at = 0
        for length in lengths:
            word = letters[at : at + length]
            at += length
            if word not in seen:
                seen.add(word)
                words.append(word)
    return words


def zipf_cdf(vocabulary: int, exponent: float) -> npt.NDArray[np.float64]:
    weights = 1.0 / np.arange(1, vocabulary + 1, dtype=np.float64) ** exponent
    cdf: npt.NDArray[np.float64] = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


def make_workload(spec: WorkloadSpec) -> tuple[list[list[str]], list[list[str]]]:
    """(corpus, queries), the same for a given spec in every process."""
    rng = np.random.default_rng(spec.seed)
    words = make_vocabulary(rng, spec.vocabulary)
    word_array = np.array(words, dtype=object)
    cdf = zipf_cdf(spec.vocabulary, spec.zipf)
    corpus: list[list[str]] = []
    chunk = 50_000  # generate in slices so generation never peaks above the corpus itself
    for first in range(0, spec.size, chunk):
        lengths = rng.integers(spec.min_len, spec.max_len + 1, min(chunk, spec.size - first))
        ranks = np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right")
        tokens = word_array[np.minimum(ranks, spec.vocabulary - 1)].tolist()
        bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
        corpus.extend(tokens[a:z] for a, z in itertools.pairwise(bounds))
    queries = []
    for _ in range(spec.queries):
        n_words = int(rng.integers(3, 9))
        # Each word is either drawn like a corpus token (frequent words dominate)
        # or uniformly by rank (mostly rare words), as a question mixes both.
        rare = rng.random(n_words) < spec.rare_share
        ranks = np.where(
            rare,
            rng.integers(0, spec.vocabulary, n_words),
            np.searchsorted(cdf, rng.random(n_words), side="right"),
        )
        queries.append([words[min(int(r), spec.vocabulary - 1)] for r in ranks])
    return corpus, queries


# ---- measurements (each runs in its own child process) ------------------------------


def memory_kib(field: str) -> int:
    """A field of /proc/self/status: VmRSS (resident now) or VmHWM (peak resident)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0])


def start_peak_measurement() -> int:
    """Make the next VmHWM reading the peak from now on; return the resident KiB now.

    Freed memory is handed back to the OS first (malloc_trim), so the build
    cannot hide its allocations in memory the corpus generation left behind,
    then the kernel's high-water mark is reset to the current size.
    """
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return memory_kib("VmRSS")


def timed_build(
    build: Callable[[list[list[str]]], Scorer], corpus: list[list[str]]
) -> tuple[Scorer, dict[str, Any]]:
    before_kib = start_peak_measurement()
    start = time.perf_counter()
    scorer = build(corpus)
    seconds = time.perf_counter() - start
    return scorer, {
        "build_s": seconds,
        "build_peak_mb": (memory_kib("VmHWM") - before_kib) / 1024,
        "resident_after_build_mb": (memory_kib("VmRSS") - before_kib) / 1024,
    }


def child_fast(spec: WorkloadSpec, work_dir: Path) -> dict[str, Any]:
    corpus, _ = make_workload(spec)
    scorer, result = timed_build(FastBM25.build, corpus)
    assert isinstance(scorer, FastBM25)
    del corpus
    gc.collect()
    result["index_memory_mb"] = scorer.nbytes / 2**20
    result["terms"] = scorer.n_terms
    path = work_dir / "index.bm25"
    start = time.perf_counter()
    scorer.save(path)
    result["save_s"] = time.perf_counter() - start
    result["disk_mb"] = path.stat().st_size / 2**20
    IndexStore(work_dir / "cache").save("bench", scorer, b"")
    return result


def child_load(work_dir: Path) -> dict[str, Any]:
    before_kib = start_peak_measurement()
    start = time.perf_counter()
    scorer = FastBM25.load(work_dir / "index.bm25")
    result: dict[str, Any] = {
        "load_s": time.perf_counter() - start,
        "loaded_rss_mb": (memory_kib("VmRSS") - before_kib) / 1024,
        "load_peak_mb": (memory_kib("VmHWM") - before_kib) / 1024,
    }
    del scorer
    gc.collect()
    start = time.perf_counter()
    cached = IndexStore(work_dir / "cache").load("bench")
    result["store_load_s"] = time.perf_counter() - start
    if cached is None:
        raise RuntimeError("the IndexStore entry written by the fast child did not load")
    return result


def child_speed(spec: WorkloadSpec, sample: int, rounds: int, reference: bool) -> dict[str, Any]:
    corpus, queries = make_workload(spec)
    result: dict[str, Any] = {"builds": {}, "notes": []}
    backends: dict[str, tuple[Search, Sequence[list[str]]]] = {}
    if reference:  # first, so its peak memory is its own
        rank_bm25, result["rank_bm25"] = timed_build(RankBM25Backend.build, corpus)
        result["builds"]["rank-bm25"] = result["rank_bm25"]["build_s"]
        backends["rank-bm25"] = (lambda q: rank_bm25.top_k(q, TOP_K), queries[:sample])
    start = time.perf_counter()
    fast = FastBM25.build(corpus)
    result["builds"]["FastBM25"] = result["builds"]["FastBM25 exhaustive"] = (
        time.perf_counter() - start
    )
    start = time.perf_counter()
    # numba's import and the kernel loaded from its cache (or compiled, the first time).
    compiled_top_k(wait=True)
    fast.top_k(queries[0], TOP_K)
    result["fast_first_top_k_s"] = time.perf_counter() - start
    every = np.arange(fast.n_docs, dtype=np.int64)
    backends["FastBM25"] = (lambda q: fast.top_k(q, TOP_K), queries)
    backends["FastBM25 exhaustive"] = (lambda q: best_of(every, fast.get_scores(q), TOP_K), queries)
    peers, result["notes"] = build_peers(corpus, TOP_K)
    del corpus
    gc.collect()
    for peer in peers:
        backends[peer.name] = (peer.search, queries)
        result["builds"][peer.name] = peer.build_s
        result["notes"] += [f"{peer.name}: {peer.note}"] if peer.note else []
    result["latency"] = latency_rounds(backends, rounds, WARMUP_QUERIES)
    if reference:
        result["same_top10"] = all(
            rank_bm25.top_k(q, TOP_K)[0].tolist() == fast.top_k(q, TOP_K)[0].tolist()
            for q in queries[:sample]
        )
    return result


# ---- the parent: run children, compare, report ----------------------------------------


def run_child(kind: str, spec: WorkloadSpec, work_dir: Path, args: argparse.Namespace) -> Any:
    sample = reference_sample(spec.size, args.reference_queries, spec.queries)
    command = [sys.executable, "-m", "benchmarks.bench_search", "--child", kind]
    command += ["--work-dir", str(work_dir), "--sample", str(sample), "--rounds", str(args.rounds)]
    command += ["--spec", json.dumps(spec_fields(spec))]
    command += ["--no-reference"] if args.no_reference else []
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout)


def spec_fields(spec: WorkloadSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in WorkloadSpec.__slots__}


def reference_sample(size: int, requested: int | None, queries: int) -> int:
    """How many queries rank-bm25 answers: all at 10k, fewer as it gets slow."""
    if requested is not None:
        return min(requested, queries)
    return min(queries, 200 if size <= 10_000 else 50 if size <= 100_000 else 10)


def bench_size(spec: WorkloadSpec, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        work_dir = Path(tmp)
        log(f"{spec.size:>9,} passages: FastBM25 build and save")
        fast = run_child("fast", spec, work_dir, args)
        log(f"{spec.size:>9,} passages: loading the saved index in a fresh process")
        load = run_child("load", spec, work_dir, args)
        log(f"{spec.size:>9,} passages: every backend's latency, {args.rounds} rounds")
        speed = run_child("speed", spec, work_dir, args)
    for note in speed["notes"]:
        log(f"  note: {note}")
    return {"size": spec.size, "fast": fast, "load": load, "speed": speed}


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [f"FastBM25's index and its build (top {TOP_K} latency below):", ""]
    header = ["passages", "build s", "build peak MB", "index MB", "loaded RSS MB", "disk MB"]
    index_rows = []
    for row in rows:
        fast, load = row["fast"], row["load"]
        sizes = [fast["build_peak_mb"], fast["index_memory_mb"], load["loaded_rss_mb"]]
        cells = [f"{row['size']:,}", f"{fast['build_s']:.1f}", *(f"{mb:.0f}" for mb in sizes)]
        seconds = (load["load_s"], load["store_load_s"])
        index_rows.append([*cells, f"{fast['disk_mb']:.0f}", *(f"{s:.2f}" for s in seconds)])
    lines += table([*header, "load s", "load+verify s"], index_rows)
    return "\n".join([*lines, "", *speed_table(rows, TOP_K)])


def target_checks(rows: list[dict[str, Any]]) -> list[str]:
    """The issues' targets, for the sizes this run measured."""
    checks = []
    for row in rows:
        fast, size, latency = row["fast"], row["size"], row["speed"]["latency"]
        median = latency["FastBM25"]["median_ms"]
        if size == 100_000 and "rank-bm25" in latency:
            ratio = latency["rank-bm25"]["median_ms"] / median
            checks.append(f"100k: p50 {ratio:.0f}× rank-bm25's (target >= 300×)")
        if size in (100_000, 1_000_000) and "tantivy" in latency:
            theirs = latency["tantivy"]["median_ms"]
            label = "1M" if size == 1_000_000 else "100k"
            checks.append(
                f"{label}: p50 {median:.3f} ms, tantivy {theirs:.3f} ms "
                f"(target: below tantivy's): {'met' if median < theirs else 'NOT met'}"
            )
        if size == 100_000:
            checks.append(f"100k: index load+verify {row['load']['store_load_s']:.2f} s")
        if size == 1_000_000:
            checks.append(f"1M: p50 {median:.2f} ms (target <= 3 ms)")
            checks.append(
                f"1M: index {fast['index_memory_mb']:.0f} MB, loaded RSS "
                f"{row['load']['loaded_rss_mb']:.0f} MB (target <= 600 MB)"
            )
            checks.append(f"1M: build {fast['build_s']:.1f} s (target <= 30 s)")
    return checks


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vocabulary", type=int, default=200_000)
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of token ranks")
    parser.add_argument(
        "--rare-share",
        type=float,
        default=0.5,
        help="share of query words drawn uniformly by rank (rare) instead of like corpus tokens",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--reference-queries",
        type=int,
        default=None,
        help="queries for rank-bm25 (default 200 at <=10k passages, 50 at <=100k, else 10)",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip rank-bm25")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds per backend")
    parser.add_argument("--child", choices=["fast", "load", "speed"], help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        spec = WorkloadSpec(**json.loads(args.spec))
        if args.child == "fast":
            result = child_fast(spec, args.work_dir)
        elif args.child == "load":
            result = child_load(args.work_dir)
        else:
            result = child_speed(spec, args.sample, args.rounds, not args.no_reference)
        print(json.dumps(result))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        spec = WorkloadSpec(
            size=size,
            vocabulary=args.vocabulary,
            zipf=args.zipf,
            queries=args.queries,
            rare_share=args.rare_share,
            seed=args.seed,
        )
        rows.append(bench_size(spec, args))
    report = markdown(rows)
    checks = target_checks(rows)
    if checks:
        report += "\n\nTargets:\n" + "\n".join(f"- {line}" for line in checks)
    print(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench-search-{stamp}.json"
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "numpy": np.__version__}
    machine["load_average_1min"] = f"{os.getloadavg()[0]:.2f}"
    run = {"machine": machine, "args": vars(args) | {"work_dir": None}, "rows": rows}
    out.write_text(json.dumps(run | {"report": report}, indent=1, default=str))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
