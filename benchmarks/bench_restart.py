"""Restart time: how long after `python -m bot` starts does a waiting user get an answer?

    .venv/bin/python -m benchmarks.bench_restart                  # 100k passages, 5 warm starts
    .venv/bin/python -m benchmarks.bench_restart --profile        # plus a cProfile'd warm start

Over a generated report folder (`benchmarks.corpus`), against the local Bot
API server (`tests.botapi.FakeBotAPI`) in this process:

1. cold start: an empty DATA_DIR, so the bot loads the reports, builds the
   index and saves it to its cache;
2. warm starts (`--runs`): the same DATA_DIR, so the bot loads the cached
   index, as after a restart or a deploy.

For each start a user's question is queued at the server, then the bot
process is started; the time is from the process start to the server
handling the bot's sendMessage that answers it.  The server's call log also
gives the milestones on the way: the first Bot API request (interpreter and
imports done, the token check), the first getUpdates (engine loaded,
application started), the reply.  Each bot is stopped with SIGTERM and must
exit 0.  The report files and the cache are in the page cache for warm
starts, as on a restarted server; a cold boot of the machine is slower.

Target: a bot restarted over 100k passages answers within 2 s (issue 6), over a
million within 1 s (issue 14); every warm start counts, the first after the cold
one too.
Prints a Markdown table and writes JSON to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import add_corpus_arguments, corpus_from_args
from benchmarks.load_bot import (
    FIRST_USER_ID,
    RESULTS_DIR,
    BotUnderTest,
    Question,
    ReplyWatcher,
    ask,
    load_questions,
    log,
    running_server,
    write_result,
)
from tests.botapi.server import FakeBotAPI

# Seconds to the answer after a warm start: issue 6's at 100k passages, issue 14's from 1M.
TARGET_SECONDS = 2.0
TARGET_SECONDS_AT_1M = 1.0


@dataclass(frozen=True, slots=True)
class Start:
    kind: str
    # Seconds from the process start to each milestone.
    first_request: float
    polling: float
    reply: float
    found: bool
    exit_status: int

    def row(self, number: int) -> list[str]:
        return [
            str(number),
            self.kind,
            f"{self.first_request:.2f}",
            f"{self.polling:.2f}",
            f"{self.reply:.2f}",
            "answer" if self.found else "not found",
            str(self.exit_status),
        ]


def measure_start(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    kind: str,
    user_id: int,
    question: Question,
    bot: BotUnderTest,
    timeout: float,
) -> Start:
    """Queue `question`, start `bot`, wait for the answer, stop the bot."""
    with api.world.cond:
        first_call = len(api.world.calls)
    asked = ask(api, user_id, user_id, question)
    bot.start()
    try:
        reply = watcher.wait_for_reply(asked, timeout)
        if reply is None:
            raise SystemExit(f"{kind} start: no answer within {timeout:.0f}s; {bot}")
    finally:
        status = bot.stop()
    with api.world.cond:
        calls = [c for c in api.world.calls[first_call:] if c.at >= bot.started_at]
    first_request = min((c.at for c in calls), default=reply.at)
    polling = min((c.at for c in calls if c.method == "getUpdates"), default=reply.at)
    return Start(
        kind=kind,
        first_request=first_request - bot.started_at,
        polling=polling - bot.started_at,
        reply=reply.at - bot.started_at,
        found=reply.found,
        exit_status=status,
    )


def markdown(starts: Sequence[Start]) -> str:
    header = ["#", "start", "first request s", "polling s", "answer s", "reply", "exit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(s.row(i)) + " |" for i, s in enumerate(starts, start=1))
    return "\n".join(lines)


def top_imports(log_text: str, count: int = 12) -> list[tuple[str, float]]:
    """The slowest imports (cumulative seconds) from `python -X importtime` output."""
    found: list[tuple[str, float]] = []
    pattern = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)")
    for line in log_text.splitlines():
        match = pattern.match(line)
        if match and len(match.group(2)) <= 3:  # top-level and their direct children
            found.append((match.group(3), int(match.group(1)) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:count]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_corpus_arguments(parser)
    parser.add_argument("--runs", type=int, default=5, help="warm starts to measure")
    parser.add_argument(
        "--target",
        type=float,
        help=f"seconds (default {TARGET_SECONDS:g}, from 1M passages {TARGET_SECONDS_AT_1M:g})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one more warm start under cProfile, and one with -X importtime",
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = corpus_from_args(args)
    log(f"corpus: {corpus.root}")
    question = next(q for q in load_questions(corpus) if q.answerable)
    work = Path(tempfile.mkdtemp(prefix="reports-bot-restart-"))
    data_dir = work / "state"
    starts: list[Start] = []
    extras: dict[str, Any] = {}
    try:
        with running_server() as api, ReplyWatcher(api.world) as watcher:

            def bot(*python_args: str) -> BotUnderTest:
                return BotUnderTest(
                    api, corpus.reports_dir, data_dir, work / "bot.log", python_args=python_args
                )

            kinds = ["cold"] + ["warm"] * args.runs
            for number, kind in enumerate(kinds):
                start = measure_start(
                    api, watcher, kind, FIRST_USER_ID + number, question, bot(), args.timeout
                )
                starts.append(start)
                log(f"{kind} start: answer after {start.reply:.2f}s")
            if args.profile:
                extras = profile_starts(api, watcher, question, bot, work, args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    warm = [s.reply for s in starts if s.kind == "warm"]
    if args.target is None:
        args.target = TARGET_SECONDS_AT_1M if corpus.passages >= 1_000_000 else TARGET_SECONDS
    verdict = {
        "target_seconds": args.target,
        "warm_median": statistics.median(warm) if warm else None,
        "warm_max": max(warm) if warm else None,
        "met": bool(warm) and max(warm) <= args.target,
    }
    result = {
        "benchmark": "bench_restart",
        "at": datetime.now(UTC).isoformat(),
        "corpus": {
            "dir": str(corpus.root),
            "passages": corpus.passages,
            "reports": corpus.reports,
            "files": corpus.files,
            "bytes": corpus.bytes,
        },
        "question": question.text,
        "starts": [_as_dict(s) for s in starts],
        "verdict": verdict,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        **extras,
    }
    print(markdown(starts))
    print()
    if warm:
        print(
            f"warm start to first answer: median {verdict['warm_median']:.2f}s, "
            f"max {verdict['warm_max']:.2f}s; target {args.target:.1f}s: "
            f"{'met' if verdict['met'] else 'MISSED'}"
        )
    failed = [s for s in starts if s.exit_status != 0]
    for start in failed:
        print(f"PROBLEM: a {start.kind} start exited with status {start.exit_status}")
    path = write_result("bench-restart", result)
    log(f"wrote {path}")
    return 0 if verdict["met"] and not failed else 1


def _as_dict(start: Start) -> dict[str, Any]:
    return {name: getattr(start, name) for name in Start.__slots__}


_PROFILED_BOT = """
import cProfile, sys
from bot.runner import main
profile = cProfile.Profile()
status = profile.runcall(main)
profile.dump_stats({path!r})
sys.exit(status)
"""


def profile_starts(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    question: Question,
    make_bot: Callable[..., BotUnderTest],
    work: Path,
    timeout: float,
) -> dict[str, Any]:
    """A warm start under cProfile and one under -X importtime; their top entries."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    profile_path = RESULTS_DIR / f"bench-restart-{stamp}.prof"
    user = FIRST_USER_ID + 1_000
    profiled = measure_start(
        api,
        watcher,
        "warm, cProfile",
        user,
        question,
        # Not `-m cProfile -m bot`: the bot leaves without the interpreter's teardown
        # (bot.runner.leave), which is where cProfile would write its file.
        make_bot("-c", _PROFILED_BOT.format(path=str(profile_path))),
        timeout,
    )
    log(f"cProfile'd warm start: answer after {profiled.reply:.2f}s; profile in {profile_path}")
    if profile_path.exists():
        stats = pstats.Stats(str(profile_path))
        stats.sort_stats("cumulative").print_stats(30)
    importing = make_bot("-X", "importtime")
    timed = measure_start(api, watcher, "warm, importtime", user + 1, question, importing, timeout)
    imports = top_imports(importing.log_path.read_text(encoding="utf-8", errors="replace"))
    print("slowest imports (cumulative s):")
    for module, seconds in imports:
        print(f"  {seconds:6.3f}  {module}")
    return {
        "profile": {"path": str(profile_path), "answer_seconds": profiled.reply},
        "importtime": {"answer_seconds": timed.reply, "top": imports},
    }


if __name__ == "__main__":
    raise SystemExit(main())
