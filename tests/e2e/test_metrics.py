"""METRICS_PORT on the real `python -m bot`: /metrics counts exactly what happened (questions,
feed polls, a push, the index), /healthz and /readyz answer, anything else is 404, and
`reports-bot health` checks /readyz."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.telegram.wording import ERROR
from retrieval.feed_format import parse_feed
from retrieval.search import SearchEngine
from tests.botapi.control import Control
from tests.botapi.server import FakeBotAPI, find_free_port
from tests.e2e.harness import (
    SEEDS,
    BotProcess,
    Samples,
    ask,
    bot_env,
    health,
    metric_value,
    metrics_get,
    quote_of,
    run_bot_to_exit,
    scrape,
    start_bot,
    wait_until,
)
from tests.e2e.live_helpers import subscribe, wait_for_push
from tests.feedserver import FeedServer, Route, feed_server

FOUND_QUESTION = "How many refugees have entered camps in Turkey?"
REFUSED_QUESTION = "How do I bake sourdough bread?"
NOT_FOUND_START = "I couldn't find that in the reports"
# Where a sample scrape is written, when set (for the closing note of issue 16).
SAMPLE_ENV = "REPORTS_BOT_SAMPLE_SCRAPE"


@pytest.fixture(scope="module")
def port() -> int:
    return find_free_port()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metrics-bot")


LIGHTHOUSE = """Harbour Lighthouse Relit
The old harbour lighthouse at Port Ellery was relit on Saturday after a two-year restoration \
that cost 3.2 million euros.

Volunteers repainted the tower in its original red and white stripes.
"""
FERRY = """Island Ferry Returns
The ferry between Port Ellery and the outer islands sails again from Monday, after its \
engines were replaced over the winter.
"""
LATE = """Fishing Quotas Agreed
The coastal fishing cooperatives agreed new cod quotas for the coming season on Thursday.
"""


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Coast Wire</title><link>https://coast.example/</link>
<description>News from the coast</description>
<item><title>Ferries cancelled</title><link>https://coast.example/ferries</link>
<guid>https://coast.example/ferries</guid><pubDate>Tue, 01 Jan 2030 08:00:00 GMT</pubDate>
<description>All ferries to Saaremaa were cancelled because of the ice.</description></item>
</channel></rss>
"""


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    """One feed that answers (then 304 Not Modified, by its ETag) and one that is gone."""
    with feed_server() as served:
        served.routes["/coast.xml"] = Route(FEED.encode(), etag='"v1"')
        yield served


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds and two more reports, so the index's size is not 1 by chance."""
    folder = tmp_path_factory.mktemp("metrics-reports")
    for seed in SEEDS.iterdir():
        shutil.copy(seed, folder)
    (folder / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    (folder / "ferry.txt").write_text(FERRY, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def bot(
    server: FakeBotAPI, state_dir: Path, port: int, reports: Path, feeds: FeedServer
) -> Iterator[BotProcess]:
    process = start_bot(
        server,
        state_dir,
        METRICS_PORT=str(port),
        REPORTS_DIR=reports,
        REPORTS_POLL_SECONDS="0.2",
        FEEDS=f"{feeds.url('/coast.xml')},{feeds.url('/gone.xml')}",
        FEED_POLL_SECONDS="0.3",
        TELEGRAM_RETRIES="1",
    )
    yield process
    if os.environ.get(SAMPLE_ENV):  # one scrape after everything below happened
        Path(os.environ[SAMPLE_ENV]).write_text(scrape(port)[1], encoding="utf-8")
    status = process.stop()
    assert status == 0, f"the bot exited with {status} on SIGTERM; log:\n{process.log}"


def total(samples: Samples, name: str) -> float:
    """The sum over every label set of `name`."""
    return sum(v for (sample, _), v in samples.items() if sample == name)


def test_metrics_count_exactly_what_happened(
    bot: BotProcess, control: Control, port: int, user_id: int
) -> None:
    before, _ = scrape(port)
    _, found = ask(control, user_id, FOUND_QUESTION)
    assert "Over 40,000 refugees" in (quote_of(found) or "")
    _, refused = ask(control, user_id + 100_000, REFUSED_QUESTION)
    assert refused["text"].startswith(NOT_FOUND_START)
    handled = "reports_bot_updates_handled_total"
    # The handled count moves when the handler returns, just after its reply was sent.
    wait_until(
        lambda: (
            metric_value(scrape(port)[0], handled, type="message")
            == metric_value(before, handled, type="message") + 2
        ),
        "both questions counted as handled",
    )
    after, _ = scrape(port)

    def moved(name: str, **labels: str) -> float:
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    assert moved("reports_bot_updates_received_total", type="message") == 2
    assert moved(handled, type="message") == 2
    answers = "reports_bot_answers_total"
    assert moved(answers, outcome="found", surface="chat") == 1
    assert moved(answers, outcome="not_found", surface="chat") == 1
    assert total(after, answers) - total(before, answers) == 2  # nothing counted twice
    latency = "reports_bot_question_duration_seconds"
    assert moved(f"{latency}_count") == 2
    assert moved(f"{latency}_bucket", le="+Inf") == 2
    assert moved(f"{latency}_sum") > 0
    assert metric_value(after, "reports_bot_index_age_seconds") > 0
    assert ("reports_bot_update_queue_depth", ()) in after
    assert ("reports_bot_updates_pending", ()) in after
    # Nothing failed and nothing was retried: all of them zero.
    for quiet in (
        "reports_bot_telegram_api_errors_total",
        "reports_bot_telegram_api_retries_total",
        "reports_bot_handler_errors_total",
    ):
        assert total(after, quiet) - total(before, quiet) == 0, quiet


def test_telegram_failures_and_retries_are_counted_by_method(
    bot: BotProcess, control: Control, port: int, user_id: int
) -> None:
    before, _ = scrape(port)
    handled = "reports_bot_updates_handled_total"

    def handled_more(count: int) -> Callable[[], bool]:
        start = metric_value(before, handled, type="message")
        return lambda: metric_value(scrape(port)[0], handled, type="message") == start + count

    control.inject("sendMessage", "server_error", count=1)  # the retry gets through
    _, answer = ask(control, user_id, FOUND_QUESTION)
    assert "Over 40,000 refugees" in (quote_of(answer) or "")
    wait_until(handled_more(1), "the question handled")
    control.inject("sendMessage", "server_error", count=2)  # the retry fails too
    _, apology = ask(control, user_id, FOUND_QUESTION)
    assert apology["text"] == ERROR
    wait_until(handled_more(2), "the failed question handled")
    after, _ = scrape(port)

    def moved(name: str, **labels: str) -> float:
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    assert moved("reports_bot_telegram_api_retries_total", method="sendMessage") == 2
    assert moved("reports_bot_telegram_api_errors_total", method="sendMessage", code="500") == 1
    assert (
        total(after, "reports_bot_telegram_api_errors_total")
        - total(before, "reports_bot_telegram_api_errors_total")
        == 1
    )
    assert moved("reports_bot_handler_errors_total", type="message") == 1


def index_size(port: int) -> tuple[float, float]:
    samples, _ = scrape(port)
    return metric_value(samples, "reports_bot_index_reports"), metric_value(
        samples, "reports_bot_index_passages"
    )


def expected_size(reports: Path, feed_url: str) -> tuple[int, int]:
    """The reports and passages of the folder and of the feed's entry, indexed here."""
    folder = SearchEngine.from_path(reports).reports
    parsed = parse_feed(FEED.encode(), feed_url, fetched_at=datetime.now(UTC), feed_url=feed_url)
    engine = SearchEngine.build([*folder, *(entry.report for entry in parsed.entries)])
    return len(engine.reports), len(engine.passages)


def test_the_index_size_follows_the_reports(
    bot: BotProcess, port: int, reports: Path, feeds: FeedServer
) -> None:
    url = feeds.url("/coast.xml")
    first = expected_size(reports, url)
    assert first[0] == len(list(reports.iterdir())) + 1 > 2  # the files and the feed's entry
    wait_until(lambda: index_size(port) == first, f"the index to count {first}")
    (reports / "late.txt").write_text(LATE, encoding="utf-8")
    more = expected_size(reports, url)
    assert more[0] == first[0] + 1
    wait_until(lambda: index_size(port) == more, f"the new report counted: {more}")


def test_feed_polls_by_outcome(bot: BotProcess, port: int, feeds: FeedServer) -> None:
    polls = "reports_bot_feed_polls_total"

    def polled(outcome: str) -> Callable[[], bool]:
        return lambda: metric_value(scrape(port)[0], polls, outcome=outcome) >= 2

    wait_until(polled("not_modified"), "the good feed answered 304 twice")
    wait_until(polled("failed"), "the gone feed failed twice")

    def answered(path: str, status: int | None) -> int:
        return sum(1 for seen in feeds.requests_to(path) if status in (None, seen.status))

    # Each request the feed server saw is counted once, by what it got: between what the
    # server had seen just before the scrape (less one poll in flight) and just after.
    before = (answered("/coast.xml", 304), answered("/gone.xml", None))
    samples, _ = scrape(port)
    after = (answered("/coast.xml", 304), answered("/gone.xml", None))
    assert metric_value(samples, polls, outcome="new_entries") == 1  # its first fetch, once
    assert metric_value(samples, polls, outcome="no_new_entries") == 0
    assert before[0] - 1 <= metric_value(samples, polls, outcome="not_modified") <= after[0]
    assert before[1] - 1 <= metric_value(samples, polls, outcome="failed") <= after[1]


def test_a_push_is_counted(
    bot: BotProcess, control: Control, port: int, reports: Path, user_id: int
) -> None:
    pushes = "reports_bot_pushes_sent_total"
    before = metric_value(scrape(port)[0], pushes)
    listed = subscribe(control, user_id, "volcano ash")
    (reports / "etna.txt").write_text(
        "Etna Erupts\n\nVolcano ash from Etna closed Catania airport.\n", encoding="utf-8"
    )
    push = wait_for_push(control, user_id, listed["message_id"])
    assert "Catania airport" in (quote_of(push) or "")
    # Counted once the batch is sent, just after the push reached the chat.
    wait_until(lambda: metric_value(scrape(port)[0], pushes) == before + 1, "the push counted")


def test_health_endpoints_and_404(bot: BotProcess, port: int) -> None:
    assert metrics_get(port, "/healthz") == (200, "ok\n")
    assert metrics_get(port, "/readyz") == (200, "ok\n")
    for path in ("/", "/metrics/extra", "/health", "/favicon.ico"):
        assert metrics_get(port, path)[0] == 404, path


def test_reports_bot_health_checks_readyz(bot: BotProcess, state_dir: Path, port: int) -> None:
    checked = health(state_dir, METRICS_PORT=str(port))
    assert checked.returncode == 0, checked.stderr
    assert f"ready (http://127.0.0.1:{port}/readyz)" in checked.stdout
    # The heartbeat alone is fresh, but nothing answers on this port: unhealthy.
    wrong = health(state_dir, METRICS_PORT=str(find_free_port()))
    assert wrong.returncode == 1
    assert "no answer from http://127.0.0.1:" in wrong.stderr
    assert health(state_dir).returncode == 0  # without METRICS_PORT: the heartbeat, as before


def test_a_taken_metrics_port_is_one_line_and_exit_2(server: FakeBotAPI, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = bot_env(
            TELEGRAM_BOT_TOKEN=server.token,
            TELEGRAM_BASE_URL=server.base_url,
            DATA_DIR=tmp_path,
            METRICS_PORT=str(port),
        )
        done = run_bot_to_exit(env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"reports-bot: cannot serve metrics on 127.0.0.1:{port}" in done.stderr
    assert "METRICS_PORT" in done.stderr.strip().splitlines()[-1]
