"""A bot over a folder of many small files: idle cost, start, restart and new-file latency.

    .venv/bin/python -m benchmarks.bench_idle                              # 100 x 1,000 files
    .venv/bin/python -m benchmarks.bench_idle --tree /tmp/before-watch     # another checkout's bot
    .venv/bin/python -m benchmarks.bench_idle --folders 10 --per-folder 200 --idle-seconds 5

Generates (or reuses) under /tmp a folder of `--folders` x `--per-folder` report
files, each a title and one short paragraph, in nested folders, all with an old
modification time (settled).  Then, against the local Bot API server
(`tests.botapi.FakeBotAPI`) in this process, it drives the real `python -m bot`
(from `--tree`, this checkout by default) and measures:

1. cold start: an empty DATA_DIR; a question waits at the server when the bot
   starts, and the time runs from the process start to its answer;
2. idle CPU: the share of one core the bot process uses (utime + stime of all
   its threads, from /proc/<pid>/stat) over `--idle-windows` windows of
   `--idle-seconds`, after `--idle-grace` seconds of letting it calm down;
3. new file -> answerable: a report file with words nobody used yet is written
   in a new subfolder, the ordinary way (mtime now), and the same question is
   asked every `--ask-every` seconds until the bot answers from it; the time
   runs from the write to that answer (so it includes the second a file must
   be old before it is read, and up to one REPORTS_POLL_SECONDS);
4. stop: SIGTERM, the seconds until the process exits, and its status (0);
5. warm restarts (`--restarts`): the same DATA_DIR, so the index cache is used.

Each timed answer must quote the report it asks about.  The files added in
step 3 are deleted at the end (the folder is reused by the next run).
Prints a Markdown table (median and min-max) and writes JSON to
benchmarks/results/ (gitignored).  No limit is asserted: it measures.
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
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.load_bot import (
    FIRST_USER_ID,
    REPO,
    BotUnderTest,
    Question,
    ReplyWatcher,
    ask,
    log,
    running_server,
    write_result,
)
from tests.botapi.server import FakeBotAPI

SPEC_FILE = "idle-corpus.json"
GENERATOR_VERSION = 1
# Syllables that spell unique code names the stemmer leaves alone (no -s, -ed, -ing).
_SYLLABLES = (
    *("ba", "ko", "mi", "du", "ra", "ze", "lu", "fo", "ni", "ta"),
    *("ve", "po", "si", "gu", "he", "jo", "wa", "ky", "xo", "qu"),
)
# Every file is this old, so it counts as settled and the cache key is stable across runs.
_FILE_TIME = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
_NEW_FOLDER = "new-during-bench"


@dataclass(frozen=True, slots=True)
class FolderSpec:
    folders: int = 100
    per_folder: int = 1_000
    seed: int = 20261126

    @property
    def files(self) -> int:
        return self.folders * self.per_folder


def code_name(number: int) -> str:
    """A made-up word that only report `number` uses (five syllables: 3.2M names)."""
    syllables = []
    for _ in range(5):
        number, digit = divmod(number, len(_SYLLABLES))
        syllables.append(_SYLLABLES[digit])
    return "".join(syllables)


def report_text(number: int, rng: random.Random, words: Sequence[str]) -> str:
    name = code_name(number)
    filler = " ".join(rng.choices(words, k=12))
    return (
        f"Council note {number}\n\n"
        f"The {name} committee met on Monday and agreed on {rng.randint(2, 40)} new "
        f"measures about {filler}.\n"
    )


def question_for(number: int) -> Question:
    return Question(f"What did the {code_name(number)} committee agree on?", True)


def ensure_folder(spec: FolderSpec, root: Path) -> Path:
    """The reports folder for `spec` under `root`, generated unless it is already there."""
    reports = root / "reports"
    marker = root / SPEC_FILE
    wanted = {"generator_version": GENERATOR_VERSION, **asdict(spec)}
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == wanted and reports.is_dir():
            shutil.rmtree(reports / _NEW_FOLDER, ignore_errors=True)  # an interrupted run's
            return reports
    except (OSError, ValueError):
        pass
    marker.unlink(missing_ok=True)
    shutil.rmtree(reports, ignore_errors=True)
    rng = random.Random(spec.seed)
    words = [code_name(3_000_000 + i) for i in range(5_000)]
    log(f"writing {spec.files:,} files under {reports}")
    for folder in range(spec.folders):
        sub = reports / f"area{folder:03d}" / f"batch{folder % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        for index in range(spec.per_folder):
            number = folder * spec.per_folder + index
            path = sub / f"note{number:06d}.txt"
            path.write_text(report_text(number, rng, words), encoding="utf-8")
            os.utime(path, (_FILE_TIME, _FILE_TIME))
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return reports


# ---- measuring the bot -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_share(pid: int, seconds: float) -> float:
    """The share of one core `pid` used over the next `seconds`."""
    cpu, wall = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu) / (time.monotonic() - wall)


def answered_from(reply_text: str, number: int) -> bool:
    return code_name(number) in reply_text


class Session:
    """One benchmark run: the server, the reply watcher, a fresh user per question."""

    def __init__(self, api: FakeBotAPI, watcher: ReplyWatcher, timeout: float) -> None:
        self.api = api
        self.watcher = watcher
        self.timeout = timeout
        self._user = FIRST_USER_ID

    def ask(self, question: Question, timeout: float | None = None) -> tuple[float, str]:
        """Ask as a new user; (when the answer came, its text), text '' on no answer."""
        self._user += 1
        asked = ask(self.api, self._user, self._user, question)
        reply = self.watcher.wait_for_reply(asked, timeout or self.timeout)
        return (reply.at, reply.text) if reply is not None else (time.time(), "")

    def start_and_answer(self, bot: BotUnderTest, number: int) -> float:
        """Queue a question on report `number`, start the bot: seconds to the answer."""
        self._user += 1
        asked = ask(self.api, self._user, self._user, question_for(number))
        bot.start()
        reply = self.watcher.wait_for_reply(asked, self.timeout)
        if reply is None or not answered_from(reply.text, number):
            status = bot.stop()
            got = reply.text[:80] if reply else "nothing"
            raise SystemExit(f"no answer from report {number} (got {got!r}, exit {status}); {bot}")
        return reply.at - bot.started_at

    def new_file_latency(self, reports: Path, number: int, every: float) -> float:
        """Write a new report in a new subfolder: seconds until the bot answers from it."""
        path = reports / _NEW_FOLDER / f"drop{number}" / f"fresh{number}.txt"
        path.parent.mkdir(parents=True)
        rng = random.Random(number)
        written = time.time()
        path.write_text(report_text(number, rng, ["harbour", "ferry"]), encoding="utf-8")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            at, text = self.ask(question_for(number), timeout=30.0)
            if answered_from(text, number):
                return at - written
            time.sleep(every)
        raise SystemExit(f"a new file was not answerable within {self.timeout:.0f}s: {path}")


def stop_bot(bot: BotUnderTest) -> tuple[float, int]:
    started = time.monotonic()
    status = bot.stop(timeout=120.0)
    return time.monotonic() - started, status


def run(args: argparse.Namespace, reports: Path, spec: FolderSpec) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="reports-bot-idle-"))
    data_dir = work / "state"
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"idle": [], "new_file": [], "warm": [], "stop": [], "exit": []}
    try:
        with running_server() as api, ReplyWatcher(api.world) as watcher:
            session = Session(api, watcher, args.timeout)

            def bot() -> BotUnderTest:
                env = {"RATE_LIMIT_PER_MINUTE": "0"}  # the latency probe asks many times
                return BotUnderTest(
                    api, reports, data_dir, work / "bot.log", extra_env=env, tree=args.tree
                )

            first = bot()
            results["cold"] = session.start_and_answer(first, rng.randrange(spec.files))
            log(f"cold start: answer after {results['cold']:.2f}s")
            assert first.process is not None
            pid = first.process.pid
            time.sleep(args.idle_grace)
            for window in range(args.idle_windows):
                share = idle_share(pid, args.idle_seconds)
                results["idle"].append(share)
                log(f"idle window {window + 1}: {share:.1%} of a core")
            results["rss_mb"] = rss_mb(pid)
            for number in range(args.new_files):
                latency = session.new_file_latency(reports, 5_000_000 + number, args.ask_every)
                results["new_file"].append(latency)
                log(f"new file {number + 1}: answerable after {latency:.2f}s")
            stop_s, status = stop_bot(first)
            results["stop"].append(stop_s)
            results["exit"].append(status)
            for number in range(args.restarts):
                again = bot()
                seconds = session.start_and_answer(again, rng.randrange(spec.files))
                results["warm"].append(seconds)
                log(f"warm restart {number + 1}: answer after {seconds:.2f}s")
                stop_s, status = stop_bot(again)
                results["stop"].append(stop_s)
                results["exit"].append(status)
    finally:
        shutil.rmtree(reports / _NEW_FOLDER, ignore_errors=True)
        if args.keep_logs:
            log(f"bot log kept in {work / 'bot.log'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return results


# ---- reporting -------------------------------------------------------------------------------


def row(name: str, values: Sequence[float], scale: float = 1.0, unit: str = "") -> str:
    if not values:
        return f"| {name} | 0 | | |"
    shown = [v * scale for v in values]
    median = statistics.median(shown)
    spread = f"{min(shown):.2f}–{max(shown):.2f}{unit}" if len(shown) > 1 else ""
    return f"| {name} | {len(shown)} | {median:.2f}{unit} | {spread} |"


def markdown(results: dict[str, Any], files: int, tree: Path) -> str:
    lines = [
        f"{files:,} files, bot from {tree}",
        "",
        "| measurement | runs | median | min–max |",
        "|---|---|---|---|",
        row("cold start: process start → answer, s", [results["cold"]]),
        row("idle CPU, % of one core", results["idle"], 100.0, " %"),
        row("warm restart: process start → answer, s", results["warm"]),
        row("new file → answerable, s", results["new_file"]),
        row("SIGTERM → exit, s", results["stop"]),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = FolderSpec()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--folders", type=int, default=defaults.folders)
    parser.add_argument("--per-folder", type=int, default=defaults.per_folder)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--root", type=Path, help="where the folder is generated (under /tmp)")
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout whose bot runs")
    parser.add_argument("--idle-grace", type=float, default=5.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--idle-windows", type=int, default=3)
    parser.add_argument("--new-files", type=int, default=3)
    parser.add_argument("--ask-every", type=float, default=0.1)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep-logs", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.tree = args.tree.resolve()
    spec = FolderSpec(args.folders, args.per_folder, args.seed)
    root = args.root or Path("/tmp") / f"reports-bot-idle-{spec.folders}x{spec.per_folder}"
    if root.resolve().is_relative_to(REPO):
        raise SystemExit(f"{root} is inside the repository: generate the folder under /tmp")
    reports = ensure_folder(spec, root)
    results = run(args, reports, spec)
    table = markdown(results, spec.files, args.tree)
    print(table)
    failed = [status for status in results["exit"] if status != 0]
    if failed:
        print(f"PROBLEM: the bot exited with status {failed} after SIGTERM")
    path = write_result(
        "bench-idle",
        {
            "benchmark": "bench_idle",
            "at": datetime.now(UTC).isoformat(),
            "tree": str(args.tree),
            "folder": {"path": str(reports), **asdict(spec), "files": spec.files},
            "settings": {k: v for k, v in vars(args).items() if k != "tree" and k != "root"},
            "results": results,
            "table": table,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        },
    )
    log(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
