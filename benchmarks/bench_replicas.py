"""Answers per second through two replicas against one, in the same run.

    .venv/bin/python -m benchmarks.bench_replicas   # the seed report, 400 questions, 3 trials each
    .venv/bin/python -m benchmarks.bench_replicas --passages 100000 --repeats 2

One throwaway PostgreSQL server (tests/pg.py) and one fake Bot API (in this process,
standing for Telegram and for the reverse proxy: `route_webhook` hands each delivery to
the replicas in turn) serve the whole run; each trial gets a fresh database and fresh
replicas (`python -m bot` in webhook mode, as tests/e2e/test_replicas.py starts them).
Trials alternate 1 replica, 2 replicas, 1, 2, ... so drift on the shared machine hits
both alike. In each, every question is sent at once (a burst) from `--users` private
chats; every one must get exactly one reply (the trial fails otherwise). Answers/s is
questions / (last reply - first send); latency runs from a question being queued at the
fake to the fake handling the sendMessage that quotes it. Prints a Markdown table and
writes JSON to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import CorpusSpec, default_corpus_dir, ensure_corpus
from benchmarks.load_bot import (
    Asked,
    BotUnderTest,
    Question,
    ReplyWatcher,
    ask,
    fresh_data_dir,
    load_questions,
    log,
    percentile,
    write_result,
)
from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI, find_free_port
from tests.e2e.harness import SEEDS, metric_value, metrics_get, scrape
from tests.pg import PostgresServer

SECRET = "bench-replicas-Webhook_secret"
PATH = "/telegram/updates"
# Questions the seed report answers (tests/e2e/test_replicas.py asks the same).
SEED_QUESTIONS = (
    Question("How many refugees have entered camps in Turkey?", True),
    Question("What did Faiz Amr say about the border crossings?", True),
)
FIRST_USER_ID = 300_001
# User ids a trial may use: every trial asks from chats no earlier trial used.
USERS_PER_TRIAL = 10_000
WARM_UP_PER_REPLICA = 2
# After the last reply: long enough for a duplicate reply to show.
GRACE_SECONDS = 1.0
NOTE = (
    "python-telegram-bot's rate limiter was off in every replica (load_bot's "
    "--no-rate-limiter: AIORateLimiter replaced by an unlimited one) because it caps each "
    "process at 30 chat messages/s, whatever the number of replicas; "
    "RATE_LIMIT_PER_MINUTE=0 so no user's budget refuses a question. Never run a bot so "
    "against Telegram. The machine has {cpus} cores, shared by the fake Bot API (this "
    "process, which also delivers the updates to the webhook, up to 8 POSTs at once and "
    "one at a time per chat, as Telegram uses several connections), "
    "PostgreSQL and the replicas."
)


class TrialFailed(Exception):
    pass


@dataclass
class Replica:
    bot: BotUnderTest
    webhook_port: int
    metrics_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}{PATH}"

    def metric(self, name: str, **labels: str) -> float:
        return metric_value(scrape(self.metrics_port)[0], name, **labels)

    def ready(self) -> bool:
        try:
            return metrics_get(self.metrics_port, "/readyz", timeout=5)[0] == 200
        except OSError:
            return False

    def leads(self) -> bool:
        try:
            return self.metric("reports_bot_leader") == 1.0
        except OSError:
            return False

    def handled(self) -> float:
        return self.metric("reports_bot_updates_handled_total", type="message")

    def alive(self) -> bool:
        return self.bot.process is not None and self.bot.process.poll() is None


def wait_for(
    done: Callable[[], bool], what: str, timeout: float, replicas: Sequence[Replica]
) -> None:
    """Poll `done`; a replica that exits meanwhile fails the trial at once, not at the end."""
    deadline = time.monotonic() + timeout
    while not done():
        dead = [r for r in replicas if not r.alive()]
        if dead:
            raise TrialFailed(f"a replica exited while waiting for {what}; {dead[0].bot}")
        if time.monotonic() > deadline:
            logs = "\n".join(str(r.bot) for r in replicas)
            raise TrialFailed(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Setup:
    api: FakeBotAPI
    postgres: PostgresServer
    watcher: ReplyWatcher
    reports: Path
    questions: Sequence[Question]
    root: Path
    public_url: str
    args: argparse.Namespace


def start_replica(setup: Setup, trial: Path, slot: int, database: str) -> Replica:
    # Each slot keeps its own index cache across trials: only its first start builds it,
    # and two processes never write one cache at once.
    cache = setup.root / f"index-cache-{slot}"
    data_dir = fresh_data_dir(trial / f"replica-{slot}", cache)
    webhook_port, metrics_port = find_free_port(), find_free_port()
    env = {
        "WEBHOOK_URL": setup.public_url,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(webhook_port),
        "WEBHOOK_SECRET": SECRET,
        "METRICS_PORT": str(metrics_port),
        "METRICS_LISTEN": "127.0.0.1",
        "DATABASE_URL": database,
        "RATE_LIMIT_PER_MINUTE": "0",
    }
    bot = BotUnderTest(
        setup.api,
        setup.reports,
        data_dir,
        trial / f"replica-{slot}.log",
        rate_limiter=False,
        extra_env=env,
    )
    return Replica(bot.start(), webhook_port, metrics_port)


def run_trial(setup: Setup, number: int, count: int) -> dict[str, Any]:
    args, control = setup.args, setup.api.control
    trial = setup.root / f"trial-{number}-{count}x"
    trial.mkdir()
    database = setup.postgres.create_database(f"bench_replicas_{number}")
    replicas: list[Replica] = []
    try:
        for slot in range(count):
            replicas.append(start_replica(setup, trial, slot, database))
        wait_for(lambda: all(r.ready() for r in replicas), "/readyz", args.start_timeout, replicas)
        control.wait_for_webhook(args.start_timeout)
        control.route_webhook([r.url for r in replicas])
        wait_for(lambda: sum(r.leads() for r in replicas) == 1, "one leader", 30.0, replicas)
        first_user = FIRST_USER_ID + number * USERS_PER_TRIAL
        warm_up(setup, replicas, first_user + USERS_PER_TRIAL // 2)
        # The counter moves once the handler returns, a little after the reply is sent.
        warm = WARM_UP_PER_REPLICA * count
        wait_for(lambda: sum(r.handled() for r in replicas) >= warm, "counts", 30.0, replicas)
        handled_before = [r.handled() for r in replicas]
        asked = burst(setup, first_user)
        first_send = asked[0].sent_at
        wait_for_replies(setup, asked, replicas)
        time.sleep(GRACE_SECONDS)
        unmatched = setup.watcher.collect(asked)
        check_replies(asked, unmatched, replicas, number)
        handled = [r.handled() - b for r, b in zip(replicas, handled_before, strict=True)]
    finally:
        statuses = [r.bot.stop() for r in replicas]
        control.route_webhook([])
    last_reply = max(a.replies[0].at for a in asked)
    latencies = [a.latency for a in asked if a.latency is not None]
    deliveries = [d["at"] for d in control.webhook_deliveries() if d["at"] >= first_send]
    result = {
        "trial": number,
        "replicas": count,
        "questions": len(asked),
        "answers_per_second": len(asked) / (last_reply - first_send),
        "seconds": last_reply - first_send,
        # When the fake had POSTed the last update: near `seconds`, delivery is the limit.
        "last_delivery_seconds": max(deliveries, default=first_send) - first_send,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "found": sum(1 for a in asked if a.replies[0].found),
        "handled_per_replica": handled,
        "exit_statuses": statuses,
    }
    log(
        f"trial {number}: {count} replica(s), {result['answers_per_second']:.1f} answers/s, "
        f"p50 {result['p50']:.2f} s, p95 {result['p95']:.2f} s, handled {handled}"
    )
    return result


def wait_for_replies(setup: Setup, asked: Sequence[Asked], replicas: Sequence[Replica]) -> None:
    """Until every question has a reply, the trial times out or a replica dies (what is
    missing then is counted as lost, with the logs)."""
    watcher = setup.watcher
    deadline = time.time() + setup.args.trial_timeout
    while time.time() < deadline and all(r.alive() for r in replicas):
        watcher.wait_for_all(asked, min(deadline, time.time() + 1.0))
        if all(watcher.wait_for_reply(a, 0) is not None for a in asked):
            return


def warm_up(setup: Setup, replicas: Sequence[Replica], first_user: int) -> None:
    """A few questions one at a time, not measured: round robin gives each replica its
    share, so none meets the burst with cold code paths and connections."""
    for i in range(WARM_UP_PER_REPLICA * len(replicas)):
        question = setup.questions[i % len(setup.questions)]
        asked = ask(setup.api, first_user + i, first_user + i, question)
        if setup.watcher.wait_for_reply(asked, setup.args.start_timeout) is None:
            raise TrialFailed(f"no reply to the warm-up question {question.text!r}")


def burst(setup: Setup, first_user: int) -> list[Asked]:
    """Every question at once, spread over the users round after round."""
    args, questions = setup.args, setup.questions
    asked: list[Asked] = []
    for i in range(args.questions):
        user = first_user + i % args.users
        asked.append(ask(setup.api, user, user, questions[i % len(questions)]))
    return asked


def check_replies(
    asked: Sequence[Asked], unmatched: int, replicas: Sequence[Replica], number: int
) -> None:
    lost = sum(1 for a in asked if not a.replies)
    duplicates = sum(len(a.replies) - 1 for a in asked if len(a.replies) > 1)
    apologies = sum(1 for a in asked if a.replies and not a.replies[0].quoted)
    if lost or duplicates or apologies or unmatched:
        logs = "\n".join(str(r.bot) for r in replicas)
        raise TrialFailed(
            f"trial {number}: {lost} questions without a reply, {duplicates} duplicate "
            f"replies, {apologies} apologies, {unmatched} replies to no question\n{logs}"
        )


def summary(trials: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for count in sorted({t["replicas"] for t in trials}):
        mine = [t for t in trials if t["replicas"] == count]
        rates = [t["answers_per_second"] for t in mine]
        rows[count] = {
            "trials": len(mine),
            "answers_per_second": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "p50": statistics.median(t["p50"] for t in mine),
            "p95": statistics.median(t["p95"] for t in mine),
            "last_delivery_seconds": statistics.median(t["last_delivery_seconds"] for t in mine),
            "seconds": statistics.median(t["seconds"] for t in mine),
        }
    return rows


def markdown(rows: dict[int, dict[str, Any]]) -> str:
    lines = [
        "| replicas | trials | answers/s median (min–max) | p50 s | p95 s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for count, row in rows.items():
        lines.append(
            f"| {count} | {row['trials']} | {row['answers_per_second']:.1f} "
            f"({row['min']:.1f}–{row['max']:.1f}) | {row['p50']:.2f} | {row['p95']:.2f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=400, help="questions per trial")
    parser.add_argument("--users", type=int, default=40, help="private chats asking them")
    parser.add_argument("--repeats", type=int, default=3, help="trials of each replica count")
    parser.add_argument(
        "--passages",
        type=int,
        help="a benchmarks.corpus folder of this many passages (default: the seed report)",
    )
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument("--trial-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    if args.questions < 1 or args.users < 1 or args.repeats < 1:
        parser.error("--questions, --users and --repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    reports, questions, corpus = SEEDS, list(SEED_QUESTIONS), None
    if args.passages is not None:
        spec = CorpusSpec(passages=args.passages)
        found = ensure_corpus(spec, default_corpus_dir(spec.passages, spec.seed, spec.layout))
        reports, questions, corpus = found.reports_dir, load_questions(found), str(found.root)
    root = Path(tempfile.mkdtemp(prefix="reports-bot-replicas-"))
    if args.passages is None:
        # A copy, as the e2e test uses: nothing the replicas do can touch the repository.
        reports = Path(shutil.copytree(SEEDS, root / "reports"))
    log(f"reports: {reports}; logs and data under {root}")
    trials: list[dict[str, Any]] = []
    problems: list[str] = []
    api = FakeBotAPI(DEFAULT_TOKEN, allow_http_webhook=True).start()
    try:
        with PostgresServer() as postgres, ReplyWatcher(api.world) as watcher:
            public_url = f"http://127.0.0.1:{find_free_port()}{PATH}"
            setup = Setup(api, postgres, watcher, reports, questions, root, public_url, args)
            order = [count for _ in range(args.repeats) for count in (1, 2)]
            for number, count in enumerate(order, 1):
                trials.append(run_trial(setup, number, count))
    except TrialFailed as failure:
        problems.append(str(failure))
    finally:
        api.stop()
    for trial in trials:
        if any(status != 0 for status in trial["exit_statuses"]):
            problems.append(f"trial {trial['trial']}: exit statuses {trial['exit_statuses']}")
    rows = summary(trials)
    note = NOTE.format(cpus=os.cpu_count())
    print(f"{args.questions} questions at once from {args.users} users, per trial; {note}\n")
    print(markdown(rows))
    ratio = None
    if 1 in rows and 2 in rows:
        ratio = rows[2]["answers_per_second"] / rows[1]["answers_per_second"]
        print(f"\n2 replicas / 1 replica, ratio of median answers/s: {ratio:.2f}")
        delivered = ", ".join(
            f"{c} replica(s) {r['last_delivery_seconds']:.1f} of {r['seconds']:.1f} s"
            for c, r in rows.items()
        )
        print(f"last update delivered by the fake, median: {delivered}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    result = {
        "benchmark": "bench_replicas",
        "at": datetime.now(UTC).isoformat(),
        "reports": str(reports),
        "corpus": corpus,
        "settings": dict(vars(args)),
        "rate_limiter": False,
        "note": note,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "summary": {str(k): v for k, v in rows.items()},
        "ratio_2_vs_1": ratio,
        "trials": trials,
        "problems": problems,
    }
    log(f"wrote {write_result('bench-replicas', result)}")
    if problems:
        log(f"logs kept under {root}")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # run the finally blocks
    raise SystemExit(main())
