"""Two replicas of the real `python -m bot` behind one webhook URL, sharing a real PostgreSQL
(tests/pg.py): every update answered once between them, duplicates included; the leader
killed with kill -9 and its work (pushes) taken over; the database restarted under load
with nothing lost.

The fake Bot API stands for Telegram and for the reverse proxy in front of the replicas
(`route_webhook`): deliveries go to each replica in turn, and some updates to both.
Counts, not clocks: each wait is for a count the bots or the database reach.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.botapi.control import Control
from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI, find_free_port
from tests.e2e.harness import (
    TIMEOUT,
    BotProcess,
    ask,
    bot_env,
    metric_value,
    metrics_get,
    quote_of,
    scrape,
    wait_until,
)
from tests.e2e.live_helpers import ask_until, drop, seeded_folder, subscribe, wait_for_push
from tests.pg import PostgresServer

pytestmark = pytest.mark.slow

SECRET = "replicas-Webhook_secret-42"
QUESTION = "How many refugees have entered camps in Turkey?"
ANSWER = "Over 40,000 refugees"
PATH = "/telegram/updates"
CHANNEL = -1_001_234_000_001
DAM = "Dam Opens\nThe new river dam holds 3 billion cubic metres of water."
DAM_QUESTION = "How much water does the new river dam hold?"
# Questions a minute per user, counted across the replicas (no test user asks more).
BUDGET = 4
# Long enough for a kill -9 to be noticed and the lock taken (leader.py: CHECK_SECONDS).
TAKEOVER_TIMEOUT = 30.0


class Replica:
    """One bot process: its webhook port, its metrics port and its own DATA_DIR."""

    def __init__(self, name: str, process: BotProcess, webhook_port: int, metrics_port: int):
        self.name = name
        self.process = process
        self.webhook_port = webhook_port
        self.metrics_port = metrics_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}{PATH}"

    def metric(self, name: str, **labels: str) -> float:
        return metric_value(scrape(self.metrics_port)[0], name, **labels)

    def ready(self) -> bool:
        try:
            return metrics_get(self.metrics_port, "/readyz", timeout=10)[0] == 200
        except OSError:
            return False

    def leads(self) -> bool:
        try:
            return self.metric("reports_bot_leader") == 1.0
        except OSError:
            return False


PUBLIC_PORT = find_free_port()


def start_replica(
    server: FakeBotAPI, root: Path, name: str, database: str, reports: Path
) -> Replica:
    data_dir = root / name
    data_dir.mkdir(parents=True, exist_ok=True)
    webhook_port, metrics_port = find_free_port(), find_free_port()
    env = bot_env(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_BASE_URL=server.base_url,
        REPORTS_DIR=reports,
        REPORTS_POLL_SECONDS="0.3",
        DATA_DIR=data_dir,
        LOG_LEVEL="DEBUG",
        # The public URL both replicas register; the fake routes each delivery to one.
        WEBHOOK_URL=f"http://127.0.0.1:{PUBLIC_PORT}{PATH}",
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(webhook_port),
        WEBHOOK_SECRET=SECRET,
        METRICS_PORT=str(metrics_port),
        METRICS_LISTEN="127.0.0.1",
        DATABASE_URL=database,
        HEARTBEAT_INTERVAL_SECONDS="0.5",
        CHANNEL_IDS=str(CHANNEL),
        RATE_LIMIT_PER_MINUTE=str(BUDGET),
    )
    process = BotProcess(env, data_dir / "bot.log").start()
    replica = Replica(name, process, webhook_port, metrics_port)
    try:
        wait_until(replica.ready, f"replica {name} to be ready")
    except AssertionError:
        process.stop(signal.SIGKILL)
        raise AssertionError(f"replica {name} did not get ready; log:\n{process.log}") from None
    return replica


def start_pair(server: FakeBotAPI, root: Path, database: str, reports: Path) -> list[Replica]:
    pair = [start_replica(server, root, name, database, reports) for name in ("one", "two")]
    server.control.wait_for_webhook(TIMEOUT)
    server.control.route_webhook([replica.url for replica in pair])
    wait_until(lambda: sum(r.leads() for r in pair) == 1, "one leader among the replicas")
    return pair


def stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        status = replica.process.stop(signal.SIGTERM)
        assert status in (0, -signal.SIGKILL), f"{replica.name} exited with {status}"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(DEFAULT_TOKEN, allow_http_webhook=True).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def replicas(
    server: FakeBotAPI, postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Replica]]:
    database = postgres_server.create_database("replicas_e2e")
    reports = seeded_folder(tmp_path_factory.mktemp("shared-reports"))
    pair = start_pair(server, tmp_path_factory.mktemp("replicas"), database, reports)
    yield pair
    stop_all(pair)


def skipped(replicas: list[Replica]) -> float:
    return sum(r.metric("reports_bot_updates_skipped_total") for r in replicas)


def handled(replica: Replica) -> float:
    return replica.metric("reports_bot_updates_handled_total", type="message")


def duplicates(control: Control) -> list[dict[str, Any]]:
    return [d for d in control.webhook_deliveries() if d.get("duplicate")]


def test_every_update_is_answered_once_across_the_replicas_duplicates_included(
    server: FakeBotAPI, replicas: list[Replica]
) -> None:
    control = server.control
    before = skipped(replicas)
    already = len(duplicates(control))
    control.route_webhook([r.url for r in replicas], duplicate_every=3)
    users = list(range(9_300_001, 9_300_013))
    questions = {user: control.send_message(user, user, QUESTION) for user in users}
    for user, question in questions.items():
        (reply,) = control.wait_for_messages(user, 1, TIMEOUT, question["message_id"])
        assert (quote_of(reply) or "").startswith(ANSWER)
    wait_until(lambda: len(duplicates(control)) - already >= 4, "the fake to send duplicates")
    sent_twice = len(duplicates(control)) - already
    assert all(d["status"] == 200 for d in duplicates(control))
    # Each duplicate was taken by the other replica (200), then skipped there.
    wait_until(lambda: skipped(replicas) - before >= sent_twice, "every duplicate skipped")
    control.route_webhook([r.url for r in replicas])
    # One more question each: an answered duplicate would sit between the two answers.
    for user in users:
        ask(control, user, "What did Faiz Amr say about the border crossings?")
        assert len(control.sent_messages(user)) == 2, control.sent_messages(user)
    # Both replicas answered: the proxy's round robin reached each.
    assert all(handled(replica) > 0 for replica in replicas)


def test_a_wrong_or_missing_secret_is_refused_by_every_replica(
    server: FakeBotAPI, replicas: list[Replica]
) -> None:
    control = server.control
    question = control.send_message(9_300_100, 9_300_100, QUESTION)
    control.wait_for_messages(9_300_100, 1, TIMEOUT, question["message_id"])
    for number, replica in enumerate(replicas):
        forged = {"update_id": 910_000_000 + number, "message": question}
        for secret in (None, "not-the-secret"):
            answer = control.forge_webhook_request(forged, secret=secret, url=replica.url)
            assert answer["status"] == 403, answer
    ask(control, 9_300_100, "What did Faiz Amr say about the border crossings?")
    assert len(control.sent_messages(9_300_100)) == 2


def test_a_channel_post_taken_by_one_replica_is_answered_by_the_other(
    server: FakeBotAPI, replicas: list[Replica]
) -> None:
    control = server.control
    one, two = replicas
    control.route_webhook([one.url])
    control.channel_post(CHANNEL, DAM, title="Newsroom Daily", username="newsroom")
    wait_until(lambda: "kept as a report" in one.process.log, "replica one to keep the post")
    # Replica two never saw the update: its sync reads the post from the shared store.
    wait_until(
        lambda: "from the shared store: 1 new" in two.process.log, "replica two to read the post"
    )
    control.route_webhook([two.url])
    answer = ask_until(control, 9_300_150, DAM_QUESTION, lambda a: "3 billion" in a["text"])
    assert "Newsroom Daily" in answer["text"]


def test_each_users_budget_is_counted_across_the_replicas(
    server: FakeBotAPI, replicas: list[Replica]
) -> None:
    control = server.control
    control.route_webhook([r.url for r in replicas])  # turn about: no replica sees them all
    user = 9_300_160
    replies = [ask(control, user, QUESTION)[1] for _ in range(BUDGET + 1)]
    assert all((quote_of(r) or "").startswith(ANSWER) for r in replies[:BUDGET])
    assert replies[BUDGET]["text"].startswith("Slow down, please"), replies[BUDGET]["text"]


def journal_states(database: str, update_ids: list[int]) -> dict[int, str]:
    with psycopg.connect(database, connect_timeout=3) as connection:
        rows = connection.execute(
            "SELECT update_id, state FROM updates WHERE update_id = ANY(%s)", (update_ids,)
        ).fetchall()
    return {int(update_id): str(state) for update_id, state in rows}


def test_the_database_restarted_under_load_loses_nothing(
    server: FakeBotAPI, replicas: list[Replica], postgres_server: PostgresServer
) -> None:
    control = server.control
    database = postgres_server.url("replicas_e2e")
    users = list(range(9_300_201, 9_300_221))
    before = len(control.updates())
    first = {user: control.send_message(user, user, QUESTION) for user in users[:10]}
    postgres_server.restart()
    second = {user: control.send_message(user, user, QUESTION) for user in users[10:]}
    for user, question in (first | second).items():
        (reply,) = control.wait_for_messages(user, 1, TIMEOUT, question["message_id"])
        assert (quote_of(reply) or "").startswith(ANSWER)
    update_ids = [int(u["update_id"]) for u in control.updates()[before:]]
    assert len(update_ids) == len(users)
    # Finished while the database was away, written once it was back: a restart of the
    # replicas now would replay none of them.
    wait_until(
        lambda: (
            set(journal_states(database, update_ids).values()) == {"done"}
            and len(journal_states(database, update_ids)) == len(users)
        ),
        "every update marked done in the shared journal",
        timeout=TAKEOVER_TIMEOUT,
    )
    for user in users:
        ask(control, user, "What did Faiz Amr say about the border crossings?")
        assert len(control.sent_messages(user)) == 2, control.sent_messages(user)
    assert all(replica.ready() for replica in replicas)


def test_the_leader_killed_with_kill_9_and_the_other_takes_over_its_pushes(
    server: FakeBotAPI, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    control = server.control
    database = postgres_server.create_database("replicas_takeover")
    reports = seeded_folder(tmp_path / "reports")
    pair = start_pair(server, tmp_path, database, reports)
    try:
        user = 9_300_300
        subscribe(control, user, "lighthouse")
        leader = next(r for r in pair if r.leads())
        follower = next(r for r in pair if r is not leader)
        killed_at = time.monotonic()
        leader.process.send(signal.SIGKILL)
        control.route_webhook([follower.url])
        wait_until(follower.leads, "the follower to take the lead", timeout=TAKEOVER_TIMEOUT)
        took = time.monotonic() - killed_at
        print(f"takeover after kill -9: {took:.2f} s")
        last = control.sent_messages(user)[-1]["message_id"]
        drop(reports, "lighthouse.txt", LIGHTHOUSE)
        push = wait_for_push(control, user, last)
        assert "Lighthouse" in push["text"]
        assert len(control.sent_messages(user)) == 2  # the subscription reply and one push
    finally:
        stop_all(pair)


LIGHTHOUSE = """Lighthouse Restored
The old lighthouse at Cape Ellery shines again after volunteers rebuilt its lamp room and \
repainted the tower in red and white stripes.
"""
