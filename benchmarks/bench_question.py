"""The whole question path: `SearchEngine.search` at 13k, 100k and 1M passages, by stage.

    .venv/bin/python -m benchmarks.bench_question                     # 13k, 100k, 1m
    .venv/bin/python -m benchmarks.bench_question --sizes 13k,100k    # a quick run

Sizes:

* `13k`: the NewsQA dev reports and their 500 questions, read in place from
  `../shared/eval/` (next to the repository, never copied into it; `--eval-dir`).
  When the files are missing the size is skipped, and the run says so.
* `100k`, `1m` (or any `Nk` / `Nm` / number of passages): `benchmarks.corpus`'s
  synthetic archive (generated once under /tmp and reused, as bench_memory and
  bench_reload use it) and the first `--questions` of its `questions.jsonl`.  The
  generator makes those from the archive itself, seeded: most take two to four
  content words of one paragraph, in order, skipping the 300 commonest, into a
  question form ("What did <speaker> say about ...?", "How many ...?", "... ?"); a
  tenth are words the archive never uses, which must come back not found.

Each size runs in a child process of its own, so the memory of one never shows in
the next.  The child loads the reports and builds the engine with the default
settings (BM25 only) as the bot does (collector off, then `gc.freeze()`), asks each
question once to warm up, then `--rounds` times over: all questions through
`engine.search` (the latencies), then all through `bench_question_stages`, which
replays search's steps with a clock around each and must return exactly the same
hits (the per-stage breakdown).  Median is the median of the rounds' medians, with
their min-max; p99 likewise.

`--semantic real` adds the semantic stage (retrieval/semantic_stage.py) as the bot runs
it once its vectors are ready: every window and sentence is embedded first (cached in
`--vectors`, so only the first run pays it), and each question is embedded anew every
time (the stage's memo of recent questions is cleared), as a new question is.
`--semantic random` fills the store with random unit vectors instead: the path costs the
same whatever the vectors hold (the same passes, the same number of dense candidates),
so it times 100k and 1M without hours of embedding; its answers mean nothing.  They are
kept on disk in `--vectors`/random, memory-mapped as the bot keeps real ones (the next
run reuses them), so the resident memory after the questions shows what a question
reads of them.  With the semantic stage the per-stage breakdown is not taken (it replays the
lexical path).

Prints Markdown tables and writes JSON to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_question_stages import STAGES, staged_search
from benchmarks.corpus import CorpusSpec, default_corpus_dir, ensure_corpus
from retrieval.bm25_compiled import compiled_top_k
from retrieval.loader import load_reports
from retrieval.search import SearchEngine, SearchSettings

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
EVAL_DIR = REPO.parent / "shared" / "eval"
NEWSQA_REPORTS = "newsqa-dev-reports.jsonl"
NEWSQA_QUESTIONS = "newsqa-dev-questions.jsonl"
TOP = 5
# The clock the rounds' questions are timed by; the build and the first question are
# always timed by the wall.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


# ---- one size, in its own process --------------------------------------------------------


def _kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0])


def _settle_memory() -> int:
    """Resident KiB after dropping garbage and handing free heap back; the peak restarts."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (proc(5))
    return _kib("VmRSS")


def read_questions(path: Path, count: int) -> list[str]:
    """The first `count` questions of a JSON Lines file (each line's "question")."""
    with path.open(encoding="utf-8") as lines:
        questions = [str(json.loads(line)["question"]) for line in lines if line.strip()]
    return questions[:count]


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q))


def with_semantic(engine: SearchEngine, mode: str, vectors: Path | None) -> SearchEngine:
    """`engine` with the semantic stage, every vector there (see the module's docstring)."""
    from retrieval.semantic import normalise
    from retrieval.semantic_index import texts_to_embed
    from retrieval.semantic_stage import SemanticStage
    from retrieval.vector_store import BIG

    folder = vectors if mode == "real" or vectors is None else vectors / "random"
    stage = SemanticStage(folder)
    if mode == "random":
        keys = stage.store.missing(texts_to_embed(engine.corpus).all_keys())
        rng = np.random.default_rng(0)
        # In chunks as large as the store merges the embedder's into.
        for start in range(0, len(keys), BIG):
            part = keys[start : start + BIG]
            stage.store.add(part, normalise(rng.standard_normal((len(part), stage.dimension))))
    stage.prepare(engine.corpus)
    return engine.with_semantic(stage)


def _semantic_kernel(*, wait: bool) -> object:
    """The semantic stage's compiled pass, of whichever tree is measured."""
    try:
        from retrieval.vector_near import compiled_nearest
    except ImportError:  # a tree from before the sign bits (--tree runs compare them)
        from retrieval.vector_quant import compiled_dots  # type: ignore[attr-defined]

        return compiled_dots(wait=wait)
    return compiled_nearest(wait=wait)


def measure(
    reports: Path,
    questions_path: Path,
    count: int,
    rounds: int,
    clock_name: str = "wall",
    semantic: str = "off",
    vectors: Path | None = None,
) -> dict[str, Any]:
    """Build the engine over `reports`, then time its questions (see the module's docstring)."""
    clock = CLOCKS[clock_name]
    base = _settle_memory()
    gc.disable()
    started = time.perf_counter()
    loaded = load_reports(reports)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    engine = SearchEngine.build(loaded.reports, SearchSettings(), loaded.problems)
    build_s = time.perf_counter() - started
    del loaded
    lexical_kib = _settle_memory() - base
    started = time.perf_counter()
    if semantic != "off":
        engine = with_semantic(engine, semantic, vectors)
    semantic_s = time.perf_counter() - started
    semantic_stage = engine._semantic
    gc.freeze()
    gc.enable()
    peak_kib = _kib("VmHWM") - base
    held_kib = _settle_memory() - base
    questions = read_questions(questions_path, count)
    compiled_top_k(wait=True)  # as a bot a while after its start: the first stage compiled
    if semantic_stage is not None:
        _semantic_kernel(wait=True)
    started = time.perf_counter()
    engine.search(questions[0])
    first_ms = (time.perf_counter() - started) * 1e3
    for question in questions:  # warm-up: records made, caches filled, as in a running bot
        if semantic_stage is None:
            staged_search(engine, question, TOP)
        else:
            engine.search(question, TOP)
    round_ms: list[list[float]] = []
    # Per stage, each question's ms, None where the question stopped before the stage.
    stage_ms: dict[str, list[float | None]] = {stage: [] for stage in STAGES}
    found = 0
    for _ in range(rounds):
        latencies, answers = [], []
        for question in questions:
            if semantic_stage is not None:
                semantic_stage.forget_questions()  # every question embedded anew
            at = clock()
            answers.append(engine.search(question, TOP))
            latencies.append((clock() - at) * 1e3)
        round_ms.append(latencies)
        found = sum(bool(hits) for hits in answers)
        for question, expected in zip(questions, answers, strict=True):
            if semantic_stage is not None:
                break
            hits, laps = staged_search(engine, question, TOP, clock)
            if hits != expected:
                raise SystemExit(
                    f"bench_question_stages no longer does what search does ({question!r}):"
                    " bring it up to date with retrieval/search.py and retrieval/hits.py"
                )
            for stage in STAGES:
                seconds = laps.times.get(stage)
                stage_ms[stage].append(None if seconds is None else seconds * 1e3)
    answered_kib = _settle_memory() - base
    # Of it, pages of mapped files (the vectors' rows a question read, the index cache):
    # shared with every process reading them, and the kernel's to drop when short.
    answered_file_kib = _kib("RssFile")
    medians = [statistics.median(r) for r in round_ms]
    p99s = [_percentile(r, 99) for r in round_ms]
    means = [statistics.fmean(r) for r in round_ms]
    stages = {}
    for stage in STAGES:
        ran = [t for t in stage_ms[stage] if t is not None]
        stages[stage] = {
            "mean_ms": sum(ran) / max(len(stage_ms[stage]), 1),
            "median_ms_where_run": statistics.median(ran) if ran else 0.0,
            "p99_ms_where_run": _percentile(ran, 99) if ran else 0.0,
            "runs": len(ran),
        }
    return {
        "reports": len(engine.reports),
        "passages": len(engine.passages),
        "questions": len(questions),
        "found": found,
        "rounds": rounds,
        "load_s": load_s,
        "build_s": build_s,
        "semantic": semantic,
        "semantic_prepare_s": semantic_s,
        "lexical_rss_gain_mib": lexical_kib / 1024,
        "rss_gain_mib": held_kib / 1024,
        "rss_gain_after_questions_mib": answered_kib / 1024,
        "rss_file_after_questions_mib": answered_file_kib / 1024,
        "build_peak_mib": peak_kib / 1024,
        "first_question_ms": first_ms,
        "median_ms": statistics.median(medians),
        "median_ms_range": [min(medians), max(medians)],
        "p99_ms": statistics.median(p99s),
        "p99_ms_range": [min(p99s), max(p99s)],
        "mean_ms": statistics.median(means),
        "stages": stages,
        "staged_mean_ms": sum(s["mean_ms"] for s in stages.values()),
    }


# ---- the parent: sizes, children, tables -------------------------------------------------


def passages_of(size: str) -> int:
    """`100k` → 100,000, `1m` → 1,000,000, `2500` → 2,500."""
    text = size.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    return int(float(number) * scale)


def data_for(size: str, args: argparse.Namespace) -> tuple[Path, Path, str] | str:
    """(reports, questions, what they are) of a size, or why it is skipped."""
    if size == "13k":
        reports, questions = args.eval_dir / NEWSQA_REPORTS, args.eval_dir / NEWSQA_QUESTIONS
        missing = [str(p) for p in (reports, questions) if not p.is_file()]
        if missing:
            return (
                f"13k skipped: {' and '.join(missing)} missing (the NewsQA dev files are read "
                "in place from ../shared/eval, never copied into the repository; --eval-dir)"
            )
        return reports, questions, "NewsQA dev"
    spec = CorpusSpec(passages=passages_of(size), seed=args.seed)
    log(f"{size}: synthetic archive of {spec.passages:,} passages (generated once under /tmp)")
    corpus = ensure_corpus(spec, default_corpus_dir(spec.passages, spec.seed, spec.layout))
    return corpus.reports_dir, corpus.questions_path, f"synthetic ({corpus.root})"


def run_child(
    size: str, reports: Path, questions: Path, args: argparse.Namespace
) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "benchmarks.bench_question", "--child"),
        *("--reports", str(reports), "--questions-file", str(questions)),
        *("--rounds", str(args.rounds), "--clock", args.clock),
    ]
    command += ["--questions", str(args.questions)]
    command += ["--semantic", args.semantic, "--vectors", str(args.vectors)]
    done = subprocess.run(
        command, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=args.timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{size}: the child exited with status {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _spread(values: Sequence[float]) -> str:
    return f"{_ms(values[0])}–{_ms(values[1])}"


def markdown(rows: Sequence[dict[str, Any]], clock: str) -> str:
    timed = "wall time" if clock == "wall" else "the thread's CPU time"
    lines = [
        f"`SearchEngine.search` (default settings, top {TOP}), questions timed by {timed}; "
        "median and p99: the median of the rounds' figures, with their min–max.",
        "",
        "| size | data | passages | reports | questions (found) | rounds | load s | build s "
        "| RSS gain MiB | build peak MiB | first question ms | median ms | p99 ms | mean ms |",
        "|" + "---|" * 14,
    ]
    for row in rows:
        r = row["result"]
        lines.append(
            f"| {row['size']} | {row['data'].split(' (')[0]} | {r['passages']:,} "
            f"| {r['reports']:,} | {r['questions']} ({r['found']}) | {r['rounds']} "
            f"| {r['load_s']:.1f} | {r['build_s']:.1f} | {r['rss_gain_mib']:,.0f} "
            f"| {r['build_peak_mib']:,.0f} | {_ms(r['first_question_ms'])} "
            f"| **{_ms(r['median_ms'])}** ({_spread(r['median_ms_range'])}) "
            f"| {_ms(r['p99_ms'])} ({_spread(r['p99_ms_range'])}) | {_ms(r['mean_ms'])} |"
        )
    semantic = {row["result"].get("semantic", "off") for row in rows} - {"off"}
    if semantic:
        prepared = ", ".join(
            f"{row['size']}: {row['result']['semantic_prepare_s']:.1f} s, RSS without it "
            f"{row['result']['lexical_rss_gain_mib']:,.0f} MiB, after the questions "
            f"{row['result']['rss_gain_after_questions_mib']:,.0f} MiB (mapped files "
            f"then {row['result'].get('rss_file_after_questions_mib', 0):,.0f} MiB in all)"
            for row in rows
        )
        lines += [
            "",
            f"With the semantic stage ({', '.join(sorted(semantic))} vectors; made ready in "
            f"{prepared}); no per-stage breakdown (it replays the lexical path).",
        ]
        return "\n".join(lines)
    sizes = [row["size"] for row in rows]
    lines += [
        "",
        "Per stage: mean ms per question over every question of every round (0 where a "
        "question stops earlier), its share of the sum, and the median where it ran.",
        "",
        "| stage | " + " | ".join(f"{s}: mean ms | share | median ms" for s in sizes) + " |",
        "|---|" + "---|---|---|" * len(sizes),
    ]
    for stage in STAGES:
        cells = []
        for row in rows:
            r = row["result"]
            figures = r["stages"][stage]
            share = figures["mean_ms"] / r["staged_mean_ms"] if r["staged_mean_ms"] else 0.0
            cells.append(
                f"{_ms(figures['mean_ms'])} | {share:.0%} | {_ms(figures['median_ms_where_run'])}"
            )
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    total = " | ".join(f"**{_ms(row['result']['staged_mean_ms'])}** | | " for row in rows)
    lines.append(f"| sum of the stages | {total} |")
    real = " | ".join(f"{_ms(row['result']['mean_ms'])} | | " for row in rows)
    lines.append(f"| `engine.search`, mean | {real} |")
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="13k,100k,1m", help="comma-separated: 13k, 100k, 1m")
    parser.add_argument("--rounds", type=int, default=3, help="times the question set is asked")
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="what the questions are timed by: wall time, or this thread's CPU time "
        "(leaves out the waits for a core on a busy machine)",
    )
    parser.add_argument(
        "--questions", type=int, default=500, help="at most this many per size (NewsQA has 500)"
    )
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="where NewsQA dev is")
    parser.add_argument(
        "--semantic",
        choices=("off", "real", "random"),
        default="off",
        help="off: BM25 and stage two; real: with the semantic stage; random: with it, "
        "over random vectors (timing only)",
    )
    parser.add_argument(
        "--vectors",
        type=Path,
        default=Path("/tmp/reports-bot-bench-vectors"),
        help="where --semantic real keeps the embedded vectors (random ones: in random/)",
    )
    parser.add_argument("--seed", type=int, default=CorpusSpec().seed, help="synthetic archives")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds a size may take")
    # How the parent runs one size in a child; not for people.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reports", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--questions-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.questions < 1:
        parser.error("--questions must be at least 1")
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: the spread needs rounds to compare")
    if args.child and not (args.reports and args.questions_file):
        parser.error("--child needs --reports and --questions-file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        result = measure(
            args.reports,
            args.questions_file,
            args.questions,
            args.rounds,
            args.clock,
            args.semantic,
            args.vectors,
        )
        print(json.dumps(result))
        return 0
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for size in (s.strip().lower() for s in args.sizes.split(",") if s.strip()):
        data = data_for(size, args)
        if isinstance(data, str):
            log(data)
            skipped.append(data)
            continue
        reports, questions, what = data
        log(f"{size}: building the engine and asking the questions in a child process")
        result = run_child(size, reports, questions, args)
        log(f"{size}: {result['passages']:,} passages, median {result['median_ms']:.3f} ms")
        rows.append({"size": size, "data": what, "result": result})
    report = markdown(rows, args.clock) if rows else "Nothing was measured."
    if skipped:
        report += "\n\n" + "\n".join(f"- {line}" for line in skipped)
    print(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench-question-{stamp}.json"
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "nice": os.nice(0)}
    settings = {
        "sizes": args.sizes,
        "rounds": args.rounds,
        "questions": args.questions,
        "clock": args.clock,
        "semantic": args.semantic,
    }
    out.write_text(
        json.dumps(
            {
                "benchmark": "bench_question",
                "at": datetime.now(UTC).isoformat(),
                "settings": settings | {"seed": args.seed, "top": TOP},
                "rows": rows,
                "skipped": skipped,
                "table": report,
                "machine": machine,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    log(f"wrote {out}")
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
