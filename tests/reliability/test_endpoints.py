"""The HTTP endpoint of METRICS_PORT over real HTTP: its routes, a stuck event loop, what
makes the bot ready, the `reports-bot health` client, and the settings."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.reliability import endpoints
from bot.reliability.endpoints import (
    Endpoints,
    EndpointServer,
    alive_problem,
    check_ready,
    client_host,
    loop_problem,
    ready_problem,
)
from bot.reliability.metrics import Metrics
from bot.state import BotState
from bot.storage.records import Store
from bot.storage.sqlite import SqliteStore
from retrieval.search import SearchEngine
from tests.botapi.server import find_free_port


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, like the bot's."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join()
    running.close()


def get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@pytest.fixture
def served() -> Iterator[tuple[EndpointServer, Metrics, dict[str, str | None]]]:
    """A server whose checks say what `verdicts` holds."""
    verdicts: dict[str, str | None] = {"alive": None, "ready": "the index is not loaded yet"}
    metrics = Metrics()
    app = Endpoints(metrics, lambda: verdicts["alive"], lambda: verdicts["ready"])
    server = EndpointServer("127.0.0.1", 0, app)
    yield server, metrics, verdicts
    server.stop()


def test_the_three_paths_and_404(
    served: tuple[EndpointServer, Metrics, dict[str, str | None]],
) -> None:
    server, metrics, verdicts = served
    metrics.answered("chat", True, 0.01)
    assert get(server.port, "/healthz") == (200, "ok\n")
    assert get(server.port, "/readyz") == (503, "the index is not loaded yet\n")
    verdicts["ready"] = None
    verdicts["alive"] = "answering is\n stuck"
    assert get(server.port, "/readyz") == (200, "ok\n")
    assert get(server.port, "/healthz") == (503, "answering is stuck\n")  # one line
    status, text = get(server.port, "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    found = [s for s in families["reports_bot_answers"].samples if s.name.endswith("_total")]
    assert {(s.labels["outcome"], s.labels["surface"], s.value) for s in found} >= {
        ("found", "chat", 1.0)
    }
    assert get(server.port, "/nothing")[0] == 404
    assert get(server.port, "/")[0] == 404
    assert get(server.port, "/healthz", "POST")[0] == 405


def test_a_stuck_event_loop_reads_as_down_and_the_check_returns(
    loop: asyncio.AbstractEventLoop,
) -> None:
    metrics = Metrics()
    alive = Endpoints(metrics, lambda: loop_problem(loop, lambda: None, 0.2), lambda: None)
    server = EndpointServer("127.0.0.1", 0, alive)
    try:
        assert get(server.port, "/healthz") == (200, "ok\n")
        release = threading.Event()
        loop.call_soon_threadsafe(release.wait)  # a callback that blocks the loop
        status, text = get(server.port, "/healthz")
        assert status == 503 and "did not answer within 0.2s" in text
        assert get(server.port, "/metrics")[0] == 200  # a scrape does not need the loop
        release.set()
        assert get(server.port, "/healthz") == (200, "ok\n")
    finally:
        release.set()
        server.stop()


def test_a_closed_loop_is_the_bot_stopping() -> None:
    closed = asyncio.new_event_loop()
    closed.close()
    assert "closed" in (loop_problem(closed, lambda: None, 1.0) or "")


def test_what_the_check_says_on_the_loop_comes_back(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[bool] = []

    def on_loop() -> str:
        seen.append(asyncio.get_running_loop() is loop)
        return "journal broken"

    assert loop_problem(loop, on_loop, 5.0) == "journal broken"
    assert seen == [True]


def _state(tmp_path: Path, engine: SearchEngine, store: Store | None, **more: object) -> BotState:
    settings = Settings(token="1:test", data_dir=tmp_path, **more)  # type: ignore[arg-type]
    return build_application(settings, engine, store=store).bot_data


def test_ready_when_the_index_holds_reports_and_the_state_file_reads(
    tmp_path: Path, seeds_engine: SearchEngine
) -> None:
    assert ready_problem(BotState()) == "the index is not loaded yet"
    store = SqliteStore.open(tmp_path / "state.sqlite3")
    state = _state(tmp_path, seeds_engine, store)
    assert ready_problem(state) is None
    assert alive_problem(state) is None
    store.close()
    problem = ready_problem(state) or ""
    assert "state.sqlite3 cannot be read" in problem


def test_the_levels_follow_the_engine_now_serving(
    tmp_path: Path, seeds_engine: SearchEngine
) -> None:
    state = _state(tmp_path, seeds_engine, None)
    registry = state.metrics.registry
    assert registry.get_sample_value("reports_bot_index_reports") == len(seeds_engine.reports)
    assert registry.get_sample_value("reports_bot_index_passages") == len(seeds_engine.passages)
    assert registry.get_sample_value("reports_bot_index_semantic_ready") == 0  # BM25 alone
    assert registry.get_sample_value("reports_bot_update_queue_depth") == 0
    assert registry.get_sample_value("reports_bot_updates_pending") == 0
    first_since = state.engine_since
    state.serve(seeds_engine)
    assert state.engine_since >= first_since


def test_start_serves_the_bot_and_reports_a_taken_port(
    tmp_path: Path, seeds_engine: SearchEngine, loop: asyncio.AbstractEventLoop
) -> None:
    port = find_free_port()
    state = _state(tmp_path, seeds_engine, None, metrics_port=port)
    server = endpoints.start(state, loop)
    try:
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (200, "ok\n")
        assert check_ready("127.0.0.1", port)[0]
        other = _state(tmp_path / "other", seeds_engine, None, metrics_port=port)
        with pytest.raises(ConfigError, match=rf"127\.0\.0\.1:{port}.*METRICS_PORT"):
            endpoints.start(other, loop)
    finally:
        server.stop()
    ready, line = check_ready("127.0.0.1", port)
    assert not ready and "no answer from http://127.0.0.1" in line


def test_check_ready_says_what_readyz_said(
    served: tuple[EndpointServer, Metrics, dict[str, str | None]],
) -> None:
    server, _, verdicts = served
    assert check_ready("0.0.0.0", server.port) == (
        False,
        f"unhealthy: http://127.0.0.1:{server.port}/readyz says 503: the index is not loaded yet",
    )
    verdicts["ready"] = None
    assert check_ready("127.0.0.1", server.port)[0]


def test_check_ready_gives_up_on_a_server_that_never_answers() -> None:
    with socket.socket() as listening:  # accepts connections, never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        ready, line = check_ready("127.0.0.1", listening.getsockname()[1], timeout=0.2)
    assert not ready and "no answer" in line


@pytest.mark.parametrize(
    ("listen", "host"),
    [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("127.0.0.1", "127.0.0.1"), ("bot", "bot")],
)
def test_client_host(listen: str, host: str) -> None:
    assert client_host(listen) == host


def test_metrics_settings() -> None:
    default = Settings.from_env({})
    assert default.metrics_port is None and default.metrics_listen == "127.0.0.1"
    on = Settings.from_env({"METRICS_PORT": "9464", "METRICS_LISTEN": "0.0.0.0"})
    assert (on.metrics_port, on.metrics_listen) == (9464, "0.0.0.0")
    assert Settings.from_env({"METRICS_LISTEN": "[::]"}).metrics_listen == "::"
    assert Settings.from_env({"METRICS_LISTEN": "metrics.local"}).metrics_listen == "metrics.local"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("METRICS_PORT", "0", "TCP port"),
        ("METRICS_PORT", "65536", "TCP port"),
        ("METRICS_PORT", "http", "TCP port"),
        ("METRICS_LISTEN", "http://0.0.0.0", "not an address"),
        ("METRICS_LISTEN", "a b", "not an address"),
    ],
)
def test_bad_metrics_settings_say_what_to_do(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}=.*{words}"):
        Settings.from_env({name: value})
