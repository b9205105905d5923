"""The HTTP endpoint on METRICS_PORT: `/metrics`, `/healthz`, `/readyz`; anything else 404.

It runs in threads of its own (wsgiref, a thread per request, prometheus_client's
`make_wsgi_app` for the text format), never on the bot's event loop, so a scrape cannot
hold up an answer and a stuck loop cannot stop a scrape.

A thread that answers proves only that the thread is up.  So both health endpoints first
send a no-op to the event loop and wait `LOOP_TIMEOUT` seconds for it to come back: a
loop that is stuck (a handler that blocks it, a frozen process) reads as down at once,
and the handler gives up rather than hang.  Then:

- `/healthz` (live): the loop answered, and liveness (bot/reliability/liveness.py) finds
  nothing wrong: updates are fetched, answered and journalled.  The same verdict as the
  heartbeat file, but taken now;
- `/readyz` (ready to answer): the loop answered, the index now serving holds reports, and
  the state file can be read.

Either says "ok" with 200, or one line saying why with 503.  `check_ready` is the client
`reports-bot health` uses (the image's HEALTHCHECK) when METRICS_PORT is set.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from bot.config import ConfigError
from bot.reliability.metrics import Metrics
from bot.state import BotState, NotWired
from bot.storage.records import StoreError

log = logging.getLogger(__name__)

# How long a health check waits for the event loop before calling it stuck.
LOOP_TIMEOUT = 2.0
# How long `reports-bot health` waits for /readyz (the HEALTHCHECK's own limit is 10 s).
CLIENT_TIMEOUT = 3.0
# A client that sends nothing is dropped after this, so it cannot hold a thread forever.
REQUEST_TIMEOUT = 10.0
OK = "ok"

Check = Callable[[], str | None]
StartResponse = Callable[..., Any]


def loop_problem(loop: asyncio.AbstractEventLoop, check: Check, timeout: float) -> str | None:
    """Run `check` on `loop` and return what it says; a loop that does not run it within
    `timeout` seconds (or is closed) is the problem."""

    async def on_loop() -> str | None:
        return check()

    coroutine = on_loop()
    try:
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    except RuntimeError:  # the loop is closed: the bot is stopping
        coroutine.close()
        return "the event loop is closed: the bot is stopping"
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        return f"the event loop did not answer within {timeout:g}s: the bot is stuck"


def alive_problem(state: BotState) -> str | None:
    """Runs on the loop: what liveness finds wrong, or None."""
    problems = state.liveness.problems(state.settings.health_max_age_seconds)
    return "; ".join(problems) or None


def ready_problem(state: BotState) -> str | None:
    """Why the bot cannot answer yet, or None.  Runs in the HTTP thread: it only reads."""
    try:
        engine = state.engine
    except NotWired:
        return "the index is not loaded yet"
    if not engine.reports:
        return "the index holds no reports yet (REPORTS_DIR is empty and no feed entry came)"
    if state.store is not None:
        try:
            state.store.ping()
        except StoreError as error:
            return str(error)
    return None


class _QuietHandler(WSGIRequestHandler):
    """No log line per request: Prometheus scrapes every few seconds."""

    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics endpoint: " + format, *args)


class Endpoints:
    """The WSGI application: routes the three paths, 404 for the rest."""

    def __init__(self, metrics: Metrics, alive: Check, ready: Check) -> None:
        self._metrics = make_wsgi_app(metrics.registry)
        self._alive = alive
        self._ready = ready

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = self._metrics(environ, start_response)
            return body
        check = {"/healthz": self._alive, "/readyz": self._ready}.get(path)
        if check is None:
            return _text(
                start_response, "404 Not Found", "not found: try /metrics, /healthz or /readyz"
            )
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "use GET")
        problem = check()
        if problem is None:
            return _text(start_response, "200 OK", OK)
        return _text(start_response, "503 Service Unavailable", " ".join(problem.split()))


def _text(start_response: StartResponse, status: str, line: str) -> list[bytes]:
    body = (line + "\n").encode("utf-8")
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


class EndpointServer:
    """`Endpoints` served on (listen, port) from a daemon thread until `stop`."""

    def __init__(self, listen: str, port: int, app: Endpoints) -> None:
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET

        class Server(ThreadingWSGIServer):
            address_family = family

        # Raises OSError when the port is taken or the address is not this machine's.
        self._server = make_server(listen, port, app, Server, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name="metrics-http", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def watch(state: BotState, queue: Callable[[], int], pending: Callable[[], int]) -> None:
    """Point the metrics' levels at the running bot: its update queue, its processor's
    pending updates, and the index now serving (read when Prometheus scrapes)."""

    def index() -> tuple[int, int, float, bool] | None:
        try:
            engine, since = state.engine, state.engine_since
        except NotWired:
            return None
        return len(engine.reports), len(engine.passages), since, engine.semantic_ready

    sources = state.metrics.sources
    sources.update_queue = queue
    sources.pending = pending
    sources.engine = index


def start(state: BotState, loop: asyncio.AbstractEventLoop) -> EndpointServer:
    """The endpoint for `state`'s bot, on METRICS_LISTEN:METRICS_PORT (the caller checked
    that METRICS_PORT is set).  Raises ConfigError when it cannot listen there."""
    settings = state.settings
    assert settings.metrics_port is not None

    def alive() -> str | None:
        return loop_problem(loop, lambda: alive_problem(state), LOOP_TIMEOUT)

    def ready() -> str | None:
        return loop_problem(loop, lambda: None, LOOP_TIMEOUT) or ready_problem(state)

    try:
        server = EndpointServer(
            settings.metrics_listen, settings.metrics_port, Endpoints(state.metrics, alive, ready)
        )
    except OSError as error:
        raise ConfigError(
            f"cannot serve metrics on {settings.metrics_listen}:{settings.metrics_port} "
            f"({error.strerror or error}): set METRICS_PORT to a free port and METRICS_LISTEN "
            "to an address of this machine, or unset METRICS_PORT"
        ) from error
    log.info(
        "metrics on http://%s:%d/metrics (and /healthz, /readyz)",
        settings.metrics_listen,
        server.port,
    )
    return server


def client_host(listen: str) -> str:
    """Pure: where a local client reaches a server listening on `listen`."""
    if listen in ("", "0.0.0.0"):
        return "127.0.0.1"
    if listen == "::":
        return "::1"
    return listen


def check_ready(listen: str, port: int, timeout: float = CLIENT_TIMEOUT) -> tuple[bool, str]:
    """GET /readyz: (ready, one line saying why)."""
    host = client_host(listen)
    where = f"http://{host}:{port}/readyz" if ":" not in host else f"http://[{host}]:{port}/readyz"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        line = response.read(1000).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException) as error:
        return False, f"unhealthy: no answer from {where} ({error or type(error).__name__})"
    finally:
        connection.close()
    if response.status != 200:
        return False, f"unhealthy: {where} says {response.status}: {line}"
    return True, f"ready ({where})"
