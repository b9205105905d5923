"""Load through the bot: simulated users asking the real `python -m bot` questions.

    .venv/bin/python -m benchmarks.load_bot                 # 50 users x 20 questions, 100k passages
    .venv/bin/python -m benchmarks.load_bot --users 10 --questions 5 --passages 10000

Generates (or reuses) a report folder with `benchmarks.corpus`, starts the
local Bot API server (`tests.botapi.FakeBotAPI`) in this process and the bot
as a subprocess against it, waits until it polls, then runs these phases one
after the other, each against the same bot:

* closed:  each user asks their next question once the previous one is
           answered, like a person in a chat (no think time unless given);
* burst:   every user sends all their questions at once;
* light / light+heavy / light+heavy-flood: a few light users asking ordinary
           questions alone, then while one chat keeps asking a very heavy
           question (the corpus's most frequent words, touching most
           passages), then while a group fires several heavy questions at once:
           does a slow search hold up other chats?

Latency is measured from the moment a user's message is queued at the
server to the moment the server handled the bot's sendMessage replying to it
(the reply names the question in reply_parameters).  Every question must get
exactly one reply; lost and duplicate replies are counted and fail the run.
Throughput is replies per second over a phase.  Loopback only; every wait is
bounded; the bot and the server are stopped at the end.  Prints Markdown
tables and writes JSON to benchmarks/results/ (gitignored).

The server does not enforce Telegram's flood limits; the bot's own
AIORateLimiter keeps it within them (30 requests a second carrying a chat_id,
20 a minute per group).  `--no-rate-limiter` runs the same bot with that
limiter off, to measure what the bot itself can do (never do that against
the real Telegram).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import Corpus, add_corpus_arguments, corpus_from_args
from bot.config import DEFAULT_RATE_LIMIT_PER_MINUTE, Settings
from bot.telegram.limits import MAX_QUESTION_CHARS
from bot.telegram.rates import WINDOW_SECONDS
from tests.botapi.server import FakeBotAPI
from tests.botapi.state import Call, World
from tests.e2e.harness import bot_env

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
# The bot as `python -m bot` runs it, or with python-telegram-bot's rate limiter off.
BOT_COMMAND = ("-m", "bot")
_UNLIMITED_BOT = """\
import sys
import telegram.ext


class _Unlimited(telegram.ext.AIORateLimiter):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(overall_max_rate=0, group_max_rate=0)


telegram.ext.AIORateLimiter = _Unlimited  # bot.app imports it after this
from bot.runner import main

sys.exit(main())
"""
NOT_FOUND_PREFIX = "I couldn't find that"
# User ids of the simulated people; group chat ids are negative.
FIRST_USER_ID = 100_001
GROUP_ID = -100_123


# ---- the bot as a subprocess ------------------------------------------------------------


@dataclass
class BotUnderTest:
    """`python -m bot` running against `server`; stderr and stdout go to `log_path`."""

    server: FakeBotAPI
    reports_dir: Path
    data_dir: Path
    log_path: Path
    rate_limiter: bool = True
    python_args: Sequence[str] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # The checkout whose `bot` runs (another worktree, to measure code before a change).
    tree: Path = REPO
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)

    def start(self) -> BotUnderTest:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = bot_env(
            TELEGRAM_BOT_TOKEN=self.server.token,
            TELEGRAM_BASE_URL=self.server.base_url,
            REPORTS_DIR=self.reports_dir,
            DATA_DIR=self.data_dir,
            LOG_LEVEL="INFO",
            **self.extra_env,
        )
        if self.tree != REPO:
            env["PYTHONPATH"] = str(self.tree)  # ahead of this checkout's editable install
        command = BOT_COMMAND if self.rate_limiter else ("-c", _UNLIMITED_BOT)
        with self.log_path.open("ab") as log:
            self.started_at = time.time()
            self.process = subprocess.Popen(
                [sys.executable, *self.python_args, *command],
                cwd=self.tree,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        return self

    def wait_until_polling(self, timeout: float) -> float:
        """Seconds from start until a getUpdates long poll waits (the bot is idle and up)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.server.control.wait_for_polling(timeout=0.5)
                return time.time() - self.started_at
            except TimeoutError:
                pass
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the bot did not start polling within {timeout:.0f}s; {self}")

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise SystemExit(f"the bot exited with status {self.process.returncode}; {self}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, SIGKILL if it will not go; the exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __str__(self) -> str:
        return f"log {self.log_path}:\n{self.log_tail()}"


@contextmanager
def running_server() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI().start()
    try:
        yield api
    finally:
        api.stop()


# ---- watching what the bot sends -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    at: float
    text: str
    # Answers quote the question; the error handler's apology does not.
    quoted: bool = True

    @property
    def found(self) -> bool:
        return not self.text.startswith(NOT_FOUND_PREFIX)


class ReplyWatcher:
    """Reads the server's call log as it grows and files each successful sendMessage
    under (chat, the message it replies to), or under the chat alone when it quotes
    nothing (an apology after an error); other threads wait for their reply."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._seen = 0
        self._cond = threading.Condition()
        self._replies: dict[tuple[int, int], list[Reply]] = {}
        self._unquoted: dict[int, list[Reply]] = {}
        self.refused: dict[str, int] = {}
        # Successful calls by method: each one that names a chat passes the bot's
        # send limiter, so calls per answer set the throughput ceiling.
        self.succeeded: dict[str, int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reply-watcher", daemon=True)

    def __enter__(self) -> ReplyWatcher:
        with self._world.cond:
            self._seen = len(self._world.calls)  # only what happens from now on
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join(5)

    def _run(self) -> None:
        world = self._world
        while not self._stopped.is_set():
            with world.cond:
                world.cond.wait_for(lambda: len(world.calls) > self._seen, 0.2)
                fresh = world.calls[self._seen :]
                self._seen = len(world.calls)
            if fresh:
                self._file(fresh)

    def _file(self, calls: Sequence[Call]) -> None:
        with self._cond:
            for call in calls:
                if call.status != 200:
                    self.refused[call.method] = self.refused.get(call.method, 0) + 1
                    continue
                self.succeeded[call.method] = self.succeeded.get(call.method, 0) + 1
                if call.method != "sendMessage":
                    continue
                chat_id = int(call.params["chat_id"])
                text = str(call.params.get("text", ""))
                replied = call.params.get("reply_parameters")
                if isinstance(replied, dict) and "message_id" in replied:
                    key = (chat_id, int(replied["message_id"]))
                    self._replies.setdefault(key, []).append(Reply(call.at, text))
                else:
                    self._unquoted.setdefault(chat_id, []).append(Reply(call.at, text, False))
            self._cond.notify_all()

    def wait_for_reply(self, asked: Asked, timeout: float) -> Reply | None:
        """The reply to `asked`, or an unquoted message in its chat sent after it."""
        with self._cond:
            self._cond.wait_for(lambda: self._reply_to(asked) is not None, timeout)
            return self._reply_to(asked)

    def _reply_to(self, asked: Asked) -> Reply | None:
        quoted = self._replies.get((asked.chat_id, asked.message_id))
        if quoted:
            return quoted[0]
        later = [r for r in self._unquoted.get(asked.chat_id, ()) if r.at >= asked.sent_at]
        return later[0] if later else None

    def wait_for_all(self, asked: Sequence[Asked], deadline: float) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: all(self._reply_to(a) is not None for a in asked),
                max(0.0, deadline - time.time()),
            )

    def collect(self, asked: Sequence[Asked]) -> int:
        """Give each question its replies; the count of unquoted replies left over.

        An unquoted message goes to the oldest question of its chat that was
        asked before it and has no reply yet.
        """
        with self._cond:
            by_chat: dict[int, list[Asked]] = {}
            for question in sorted(asked, key=lambda a: a.sent_at):
                question.replies = list(
                    self._replies.get((question.chat_id, question.message_id), [])
                )
                by_chat.setdefault(question.chat_id, []).append(question)
            leftover = 0
            for chat_id, questions in by_chat.items():
                first = questions[0].sent_at
                for reply in self._unquoted.get(chat_id, ()):
                    if reply.at < first:
                        continue  # an earlier phase's
                    waiting = [q for q in questions if q.sent_at <= reply.at and not q.replies]
                    if waiting:
                        waiting[0].replies.append(reply)
                    else:
                        leftover += 1
            return leftover


# ---- simulated users -----------------------------------------------------------------------


@dataclass
class Asked:
    chat_id: int
    message_id: int
    question: str
    answerable: bool
    sent_at: float
    replies: list[Reply] = field(default_factory=list)
    # When the simulated user saw the reply: far after the reply itself means the
    # load generator, not the bot, is the bottleneck.
    seen_at: float | None = None

    @property
    def latency(self) -> float | None:
        return self.replies[0].at - self.sent_at if self.replies else None


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    answerable: bool


@dataclass
class Phase:
    """One measured stretch of load; `groups` names the kinds of askers in it."""

    name: str
    asked: dict[str, list[Asked]] = field(default_factory=dict)
    started: float = 0.0
    # When the last reply came.
    ended: float = 0.0
    # Unquoted bot messages in the phase's chats that no question accounts for.
    unmatched: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    succeeded: dict[str, int] = field(default_factory=dict)

    def add(self, group: str, asked: Asked) -> None:
        self.asked.setdefault(group, []).append(asked)


def ask(
    api: FakeBotAPI, chat_id: int, user_id: int, question: Question, *, group: bool = False
) -> Asked:
    text = f"/ask {question.text}" if group else question.text
    sent_at = time.time()
    message = api.control.send_message(
        chat_id,
        user_id,
        text,
        chat_type="supergroup" if group else "private",
        first_name=f"User{user_id - FIRST_USER_ID + 1}",
    )
    return Asked(chat_id, int(message["message_id"]), question.text, question.answerable, sent_at)


class Pace:
    """Keeps one user within the bot's per-user limit (RATE_LIMIT_PER_MINUTE): past
    it the bot answers with a "slow down" note, then with silence."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._sent: deque[float] = deque()

    def wait(self, until: threading.Event | None = None) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        while self._sent and now - self._sent[0] > WINDOW_SECONDS:
            self._sent.popleft()
        if len(self._sent) >= self.per_minute:
            pause = WINDOW_SECONDS - (now - self._sent[0]) + 0.1
            if until is not None:
                until.wait(pause)
            else:
                time.sleep(pause)
        self._sent.append(time.monotonic())


def closed_loop_user(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    user_id: int,
    questions: Sequence[Question],
    record: Callable[[Asked], None],
    deadline: float,
    think: float = 0.0,
    until: threading.Event | None = None,
    per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE,
) -> None:
    """A person in a private chat: ask, wait for the answer, (think,) ask the next,
    never more than `per_minute` questions a minute.

    With `until`, keep cycling through `questions` until it is set.
    """
    cycle = iter(questions) if until is None else _forever(questions)
    pace = Pace(per_minute)
    for question in cycle:
        pace.wait(until)
        if until is not None and until.is_set():
            return
        if time.time() > deadline:
            return
        asked = ask(api, user_id, user_id, question)
        record(asked)
        reply = watcher.wait_for_reply(asked, deadline - time.time())
        if reply is None:
            return  # lost: counted when the phase is summed up
        asked.seen_at = time.time()
        if think:
            time.sleep(think)


def _forever(questions: Sequence[Question]) -> Iterator[Question]:
    while True:
        yield from questions


def run_threads(targets: Sequence[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def finish_phase(phase: Phase, watcher: ReplyWatcher, deadline: float, grace: float) -> None:
    """Wait for the replies still due, then a little longer so duplicates would show."""
    asked = [a for group in phase.asked.values() for a in group]
    watcher.wait_for_all(asked, deadline)
    time.sleep(grace)
    phase.unmatched = watcher.collect(asked)
    phase.ended = max((r.at for a in asked for r in a.replies), default=time.time())


# ---- the phases ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadSettings:
    per_minute: int
    users: int
    questions_per_user: int
    think: float
    light_think: float
    light_users: int
    light_questions: int
    heavy_words: int
    heavy_flood: int
    phase_timeout: float
    grace: float


def closed_phase(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    name: str,
    per_user: Sequence[Sequence[Question]],
    settings: LoadSettings,
    first_user: int = FIRST_USER_ID,
) -> Phase:
    phase = Phase(name)
    lock = threading.Lock()

    def record(asked: Asked) -> None:
        with lock:
            phase.add("users", asked)

    phase.started = time.time()
    deadline = phase.started + settings.phase_timeout
    run_threads(
        [
            _bind_user(api, watcher, first_user + i, questions, record, deadline, settings)
            for i, questions in enumerate(per_user)
        ]
    )
    finish_phase(phase, watcher, deadline, settings.grace)
    return phase


def _bind_user(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    user_id: int,
    questions: Sequence[Question],
    record: Callable[[Asked], None],
    deadline: float,
    settings: LoadSettings,
    until: threading.Event | None = None,
) -> Callable[[], None]:
    return lambda: closed_loop_user(
        api,
        watcher,
        user_id,
        questions,
        record,
        deadline,
        settings.think,
        until,
        settings.per_minute,
    )


def burst_phase(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    per_user: Sequence[Sequence[Question]],
    settings: LoadSettings,
    first_user: int,
) -> Phase:
    """Every question at once, user after user and round after round."""
    phase = Phase("burst")
    phase.started = time.time()
    deadline = phase.started + settings.phase_timeout
    rounds = max(len(q) for q in per_user)
    for round_number in range(rounds):
        for i, questions in enumerate(per_user):
            if round_number < len(questions):
                user_id = first_user + i
                phase.add("users", ask(api, user_id, user_id, questions[round_number]))
    finish_phase(phase, watcher, deadline, settings.grace)
    return phase


def heavy_phases(
    api: FakeBotAPI,
    watcher: ReplyWatcher,
    light: Sequence[Sequence[Question]],
    heavy: Question,
    settings: LoadSettings,
    first_user: int,
) -> tuple[list[Phase], int]:
    """Light users alone, then with one heavy asker, then while a group fires heavy
    questions; the phases and how many user ids they took.

    Each phase has its own people, so no one goes over the bot's per-user limit.
    Light users read each answer for `light_think` seconds, so that together they
    stay under the bot's send limit and their latency is the bot's work, not its
    queue in front of Telegram.
    """
    settings = replace(settings, think=settings.light_think)
    users = iter(range(first_user, first_user + 1_000_000))

    def light_users(phase: Phase, deadline: float) -> list[Callable[[], None]]:
        def record(asked: Asked) -> None:
            with lock:
                phase.add("users", asked)

        return [
            _bind_user(api, watcher, next(users), questions, record, deadline, settings)
            for questions in light
        ]

    lock = threading.Lock()
    alone = Phase("light")
    alone.started = time.time()
    deadline = alone.started + settings.phase_timeout
    run_threads(light_users(alone, deadline))
    finish_phase(alone, watcher, deadline, settings.grace)
    phases = [alone]

    with_heavy = Phase("light+heavy")
    light_done = threading.Event()

    def record_heavy(asked: Asked) -> None:
        with lock:
            with_heavy.add("heavy", asked)

    with_heavy.started = time.time()
    deadline = with_heavy.started + settings.phase_timeout
    heavy_asker = replace(settings, think=0.0)
    heavy_thread = threading.Thread(
        target=_bind_user(
            api, watcher, next(users), [heavy], record_heavy, deadline, heavy_asker, light_done
        ),
        daemon=True,
    )
    heavy_thread.start()
    run_threads(light_users(with_heavy, deadline))
    light_done.set()
    heavy_thread.join(max(0.0, deadline - time.time()))
    finish_phase(with_heavy, watcher, deadline, settings.grace)
    phases.append(with_heavy)

    if settings.heavy_flood > 0:
        flood = Phase("light+heavy-flood")
        flood.started = time.time()
        deadline = flood.started + settings.phase_timeout
        flooder = next(users)
        for _ in range(settings.heavy_flood):
            flood.add("heavy", ask(api, GROUP_ID, flooder, heavy, group=True))
        run_threads(light_users(flood, deadline))
        finish_phase(flood, watcher, deadline, settings.grace)
        phases.append(flood)
    return phases, next(users) - first_user


# ---- questions -------------------------------------------------------------------------------


def load_questions(corpus: Corpus) -> list[Question]:
    return [Question(q["question"], bool(q["answerable"])) for q in corpus.questions()]


def split_questions(
    questions: Sequence[Question], users: int, per_user: int, offset: int
) -> list[list[Question]]:
    """`users` lists of `per_user` questions, taken in order from `offset` (wrapping around)."""
    total = len(questions)
    return [
        [questions[(offset + u * per_user + i) % total] for i in range(per_user)]
        for u in range(users)
    ]


def heavy_question(corpus: Corpus, words: int, chars: int = MAX_QUESTION_CHARS) -> Question:
    """The corpus's most frequent content words, as many as fit in the longest question
    the bot reads whole: most passages match, so the search touches nearly every
    passage for every term."""
    text = ""
    for word in corpus.frequent_words[:words]:
        if len(text) + len(word) + 2 > chars:
            break
        text = f"{text} {word}" if text else word
    return Question(text + "?", True)


# ---- results ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation), of sorted or unsorted `values`."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summarize_group(asked: Sequence[Asked], started: float, ended: float) -> dict[str, Any]:
    latencies = [a.latency for a in asked if a.latency is not None]
    answered = [a for a in asked if a.replies]
    span = max(ended - started, 1e-9)
    summary: dict[str, Any] = {
        "questions": len(asked),
        "replies": sum(len(a.replies) for a in asked),
        "lost": sum(1 for a in asked if not a.replies),
        "duplicates": sum(len(a.replies) - 1 for a in asked if len(a.replies) > 1),
        # Questions whose reply was the error handler's apology, not an answer.
        "apologies": sum(1 for a in answered if not a.replies[0].quoted),
        # Slowest reply seen by its user after the server had it: load-generator lag.
        "max_harness_lag": max(
            (a.seen_at - a.replies[0].at for a in answered if a.seen_at is not None),
            default=0.0,
        ),
        "found": sum(1 for a in answered if a.replies[0].found),
        "found_of_answerable": sum(1 for a in answered if a.answerable and a.replies[0].found),
        "answerable": sum(1 for a in asked if a.answerable),
        "not_found_of_unanswerable": sum(
            1 for a in answered if not a.answerable and not a.replies[0].found
        ),
        "seconds": span,
        "throughput": len(answered) / span,
    }
    if latencies:
        summary.update(
            p50=percentile(latencies, 0.5),
            p90=percentile(latencies, 0.9),
            p99=percentile(latencies, 0.99),
            max=max(latencies),
            mean=statistics.fmean(latencies),
        )
    return summary


def summarize(phase: Phase) -> dict[str, Any]:
    return {
        "phase": phase.name,
        "groups": {
            name: summarize_group(asked, phase.started, phase.ended)
            for name, asked in phase.asked.items()
        },
        "refused_calls": phase.refused,
        "calls": phase.succeeded,
        "unmatched_replies": phase.unmatched,
        "latencies": {name: [a.latency for a in asked] for name, asked in phase.asked.items()},
    }


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    header = [
        "phase",
        "askers",
        "questions",
        "replies",
        "lost",
        "dup",
        "apologies",
        "found",
        "answers/s",
        "p50 s",
        "p90 s",
        "p99 s",
        "max s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        for group, s in row["groups"].items():
            cells = [
                row["phase"],
                group,
                str(s["questions"]),
                str(s["replies"]),
                str(s["lost"]),
                str(s["duplicates"]),
                str(s["apologies"]),
                str(s["found"]),
                f"{s['throughput']:.1f}",
                *(f"{s[k]:.3f}" if k in s else "-" for k in ("p50", "p90", "p99", "max")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def problems_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    problems = []
    for row in rows:
        for group, s in row["groups"].items():
            if s["lost"] or s["duplicates"] or s["apologies"]:
                problems.append(
                    f"{row['phase']}/{group}: {s['lost']} questions without a reply, "
                    f"{s['duplicates']} duplicate replies, {s['apologies']} apologies "
                    "for an error (see the bot's log)"
                )
        if row["unmatched_replies"]:
            problems.append(f"{row['phase']}: {row['unmatched_replies']} replies to no question")
        if row["refused_calls"]:
            problems.append(f"{row['phase']}: refused Bot API calls {row['refused_calls']}")
    return problems


# ---- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_corpus_arguments(parser)
    parser.add_argument(
        "--index-cache",
        type=Path,
        help="the bot's index cache, kept between runs so only the first run builds the "
        "index (default: a folder next to the corpus); the rest of DATA_DIR is new each run",
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="questions per user")
    parser.add_argument("--think", type=float, default=0.0, help="seconds between questions")
    parser.add_argument("--light-users", type=int, default=10)
    parser.add_argument(
        "--light-think",
        type=float,
        default=1.0,
        help="seconds light users read an answer before asking again",
    )
    parser.add_argument("--light-questions", type=int, default=10)
    parser.add_argument(
        "--heavy-words",
        type=int,
        default=500,
        help=f"words in the heavy question (at most; it is cut at {MAX_QUESTION_CHARS} chars)",
    )
    parser.add_argument(
        "--heavy-flood",
        type=int,
        default=6,
        help="heavy questions a group fires at once in the last phase (0: skip it)",
    )
    parser.add_argument(
        "--phases",
        default="closed,burst,heavy",
        help="comma-separated: closed, burst, heavy",
    )
    parser.add_argument("--no-rate-limiter", action="store_true")
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the bot, e.g. RATE_LIMIT_PER_MINUTE=0 (repeatable)",
    )
    parser.add_argument("--phase-timeout", type=float, default=300.0)
    parser.add_argument("--start-timeout", type=float, default=600.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = corpus_from_args(args)
    corpus_dir = corpus.root
    log(f"corpus: {corpus_dir}")
    questions = load_questions(corpus)
    index_cache = args.index_cache or corpus_dir.with_name(corpus_dir.name + "-index-cache")
    bot_settings = dict(item.split("=", 1) for item in args.bot_env)
    per_minute = int(bot_settings.get("RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE))
    if "burst" in args.phases and 0 < per_minute < args.questions:
        raise SystemExit(
            f"--questions {args.questions} at once is over the bot's limit of {per_minute} "
            "questions a minute per user: ask fewer, or pass --bot-env RATE_LIMIT_PER_MINUTE=0"
        )
    settings = LoadSettings(
        per_minute=per_minute,
        users=args.users,
        questions_per_user=args.questions,
        think=args.think,
        light_think=args.light_think,
        light_users=args.light_users,
        light_questions=args.light_questions,
        heavy_words=args.heavy_words,
        heavy_flood=args.heavy_flood,
        phase_timeout=args.phase_timeout,
        grace=1.0,
    )
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"closed", "burst", "heavy"}
    if unknown:
        raise SystemExit(f"unknown phases {sorted(unknown)}: use closed, burst, heavy")

    rows: list[dict[str, Any]] = []
    log_dir = Path(tempfile.mkdtemp(prefix="reports-bot-load-"))
    data_dir = fresh_data_dir(log_dir / "state", index_cache)
    with running_server() as api:
        bot = BotUnderTest(
            api,
            corpus.reports_dir,
            data_dir,
            log_dir / "bot.log",
            rate_limiter=not args.no_rate_limiter,
            extra_env=bot_settings,
        ).start()
        try:
            ready = bot.wait_until_polling(args.start_timeout)
            log(f"bot polling after {ready:.1f}s (log: {bot.log_path})")
            rows = run_phases(api, bot, corpus, questions, phases, settings)
        finally:
            status = bot.stop()
    problems = problems_of(rows)
    if status != 0:
        problems.append(f"the bot exited with status {status} on SIGTERM; {bot}")
    result = {
        "benchmark": "load_bot",
        "at": datetime.now(UTC).isoformat(),
        "corpus": {
            "dir": str(corpus.root),
            "passages": corpus.passages,
            "reports": corpus.reports,
            "files": corpus.files,
        },
        "rate_limiter": not args.no_rate_limiter,
        "settings": vars(args) | {"corpus": str(corpus.root), "index_cache": str(index_cache)},
        "bot_ready_seconds": ready,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "phases": rows,
        "problems": problems,
    }
    print(markdown(rows))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    path = write_result("load-bot", result)
    log(f"wrote {path}")
    if not problems:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 1 if problems else 0


def run_phases(
    api: FakeBotAPI,
    bot: BotUnderTest,
    corpus: Corpus,
    questions: Sequence[Question],
    phases: Sequence[str],
    settings: LoadSettings,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    per_user = settings.questions_per_user
    with ReplyWatcher(api.world) as watcher:
        # Warm-up (not measured): the first searches touch cold code paths and pages.
        warm = split_questions(questions, 2, 3, offset=len(questions) // 2)
        closed_phase(api, watcher, "warm-up", warm, settings, first_user=FIRST_USER_ID + 9_000)
        next_user = FIRST_USER_ID
        offset = 0
        for name in phases:
            refused_before = dict(watcher.refused)
            succeeded_before = dict(watcher.succeeded)
            if name == "closed":
                lists = split_questions(questions, settings.users, per_user, offset)
                log(f"closed: {settings.users} users x {per_user} questions, one at a time")
                done = [closed_phase(api, watcher, "closed", lists, settings, next_user)]
            elif name == "burst":
                lists = split_questions(questions, settings.users, per_user, offset)
                log(f"burst: {settings.users} users x {per_user} questions, all at once")
                done = [burst_phase(api, watcher, lists, settings, next_user)]
            else:
                lists = split_questions(
                    questions, settings.light_users, settings.light_questions, offset
                )
                heavy = heavy_question(corpus, settings.heavy_words)
                log(
                    f"heavy: {settings.light_users} light users x {settings.light_questions} "
                    f"questions; heavy question of {len(heavy.text)} characters"
                )
                done, used = heavy_phases(api, watcher, lists, heavy, settings, next_user)
                next_user += used
            next_user += len(lists)
            offset += len(lists) * len(lists[0])
            for phase in done:
                phase.refused = _difference(watcher.refused, refused_before)
                phase.succeeded = _difference(watcher.succeeded, succeeded_before)
                refused_before = dict(watcher.refused)
                succeeded_before = dict(watcher.succeeded)
                rows.append(summarize(phase))
                log(markdown(rows[-1:]).splitlines()[-1])
            bot._check_alive()
    return rows


def fresh_data_dir(data_dir: Path, index_cache: Path) -> Path:
    """A new DATA_DIR whose index cache is the long-lived `index_cache`.

    Only the cache is shared between runs: the rest of the bot's state (the
    journal of handled update ids) belongs to one Bot API server, and each run
    starts a new one whose update ids begin again at 1.
    """
    index_cache.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True)
    link = Settings(data_dir=data_dir).index_cache_dir
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(index_cache.resolve(), target_is_directory=True)
    return data_dir


def _difference(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}


def write_result(prefix: str, result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{prefix}-{stamp}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
