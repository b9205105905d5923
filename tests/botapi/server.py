"""A real local HTTP server that speaks the Telegram Bot API, for end-to-end tests.

``FakeBotAPI(token)`` serves ``{base_url}{token}/{method}`` (python-telegram-bot's
``base_url`` form, e.g. ``http://127.0.0.1:PORT/bot``) and ``/control/<name>`` (JSON, see
``Control`` and ``BotAPIClient``) from a ``ThreadingHTTPServer`` in a background thread.
The listener can stop and start again on the same port while the state lives on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tests.botapi.client import BotAPIClient
from tests.botapi.control import CONTROL_METHODS, Control
from tests.botapi.faults import Fault
from tests.botapi.html_check import BadRequest
from tests.botapi.methods import METHODS, ApiError, ConnectionDropped
from tests.botapi.params import Params, parse_body
from tests.botapi.state import Call, ControlError, World
from tests.botapi.webhook import WebhookDeliverer

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "1000001:TEST-reports-bot-token"
_BOT_PATH = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[^/]+)/?")
_FILE_PATH = re.compile(r"/file/bot(?P<token>[^/]*)/(?P<path>.+)")
_NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}
_UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
# What Telegram's nginx front end answers when the Bot API behind it is down.
_BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_JOIN_SECONDS = 2.0


def find_free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now, to start a bot before the server comes up."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # FakeBotAPI joins its handler threads itself, with a bound.

    def __init__(self, address: tuple[str, int], owner: FakeBotAPI) -> None:
        self.owner = owner
        self.handler_threads: list[threading.Thread] = []
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self.handler_threads = [t for t in self.handler_threads if t.is_alive()]
        self.handler_threads.append(thread)
        thread.start()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add
    # about 40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    # --- plumbing ------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # The client went away; nothing to tell it.

    def _send_json(self, status: int, payload: Any) -> None:
        try:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate a test put in a user's text: send it as a valid JSON escape.
            body = json.dumps(payload).encode("ascii")
        self._send(status, body, "application/json")

    def _drop(self) -> None:
        """Close the connection without any answer, like a server that timed out."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if url.path.startswith("/control/"):
            self._control(url.path.removeprefix("/control/").strip("/"), body)
            return
        download = _FILE_PATH.fullmatch(url.path)
        if download is not None:
            self._download(download["token"], download["path"])
            return
        match = _BOT_PATH.fullmatch(url.path)
        if match is None:
            self._send_json(404, _NOT_FOUND)
            return
        content_type = self.headers.get("Content-Type", "")
        self._bot(match["token"], match["method"], content_type, body, url.query)

    # --- the Bot API ---------------------------------------------------------------------

    def _bot(self, token: str, name: str, content_type: str, body: bytes, query: str) -> None:
        world = self.server.owner.world
        with world.cond:
            generation = world.generation
        entry = METHODS.get(name.lower())
        method = entry[0] if entry else name
        if token != world.token:
            self._answer(Call(method, {}, 401, "Unauthorized"), _UNAUTHORIZED)
            return
        if entry is None:
            self._answer(Call(method, {}, 404, "Not Found"), _NOT_FOUND)
            return
        try:
            params = Params(parse_body(content_type, body, query))
        except BadRequest as error:
            self._answer(Call(method, {}, 400, error.description), _error(400, error.description))
            return
        logged = params.normalized()
        with world.cond:
            fault = world.faults.next_fault(method)
        if fault is not None:
            self._fault(method, logged, params, fault, generation)
            return
        with world.cond:
            try:
                result = entry[1](world, params, generation)
            except BadRequest as error:
                call, payload = (
                    Call(method, logged, 400, error.description),
                    _error(400, error.description),
                )
            except ApiError as error:
                call = Call(method, logged, error.error_code, error.description)
                payload = _error(error.error_code, error.description, error.parameters)
            except ConnectionDropped:
                world.log(Call(method, logged, None, "listener stopped"))
                self._drop()
                return
            else:
                call, payload = Call(method, logged, 200), {"ok": True, "result": result}
        self._answer(call, payload)

    def _download(self, token: str, path: str) -> None:
        """A file's bytes, as `https://api.telegram.org/file/bot<token>/<file_path>` serves
        them; logged as a call of "downloadFile" (no such Bot API method: the name only
        marks the download in the call log)."""
        world = self.server.owner.world
        with world.cond:
            stored = next((f for f in world.files.values() if f.path == path), None)
            status = 401 if token != world.token else 404 if stored is None else 200
            if stored is not None and status == 200:
                status = stored.download_status
                stored.downloads += 1
            world.log(Call("downloadFile", {"file_path": path}, status))
        if stored is not None and status == 200:
            self._send(200, stored.content, "application/octet-stream")
        else:
            payload = _UNAUTHORIZED if status == 401 else _NOT_FOUND if status == 404 else None
            self._send_json(status, payload or _error(status, "Internal Server Error"))

    def _answer(self, call: Call, payload: dict[str, Any]) -> None:
        world = self.server.owner.world
        with world.cond:
            world.log(call)
        self._send_json(call.status or 500, payload)

    def _fault(
        self, method: str, logged: dict[str, Any], params: Params, fault: Fault, generation: int
    ) -> None:
        world = self.server.owner.world
        if fault.kind == "timeout":
            with world.cond:
                if fault.process:
                    # The call takes effect; only its answer is lost.
                    with contextlib.suppress(BadRequest, ApiError, ConnectionDropped):
                        METHODS[method.lower()][1](world, params, generation)
                world.cond.wait_for(lambda: world.generation != generation, fault.seconds)
                world.log(Call(method, logged, None, "connection closed without answer", "timeout"))
            self._drop()
            return
        if fault.kind == "flood":
            description = f"Too Many Requests: retry after {fault.retry_after}"
            call = Call(method, logged, 429, description, "flood")
            self._answer(call, _error(429, description, {"retry_after": fault.retry_after}))
        elif fault.kind == "server_error":
            call = Call(method, logged, 500, "Internal Server Error", "server_error")
            self._answer(call, _error(500, "Internal Server Error"))
        else:
            with world.cond:
                world.log(Call(method, logged, 502, "Bad Gateway", "bad_gateway"))
            self._send(502, _BAD_GATEWAY_PAGE, "text/html")

    # --- control -------------------------------------------------------------------------

    def _control(self, name: str, body: bytes) -> None:
        owner = self.server.owner
        try:
            kwargs = json.loads(body.decode("utf-8")) if body.strip() else {}
            if not isinstance(kwargs, dict):
                raise ControlError("the control request body must be a JSON object of arguments")
            if name == "outage":
                result: Any = None
                self._send_json(200, {"ok": True, "result": None})
                owner.outage(float(kwargs.get("seconds", 1.0)))
                return
            if name == "info":
                result = owner.info()
            elif name in CONTROL_METHODS:
                result = getattr(owner.control, name)(**kwargs)
            else:
                known = ", ".join(sorted(CONTROL_METHODS | {"outage", "info"}))
                raise ControlError(f"unknown control {name!r}; known: {known}")
        except TimeoutError as error:
            self._send_json(408, {"ok": False, "error": str(error), "timeout": True})
        except (ControlError, TypeError, ValueError) as error:
            self._send_json(400, {"ok": False, "error": f"{type(error).__name__}: {error}"})
        else:
            self._send_json(200, {"ok": True, "result": result})


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return payload


class FakeBotAPI:
    """The Bot API server: ``start()``/``stop()`` or ``with FakeBotAPI(token) as api:``.

    ``port=0`` picks a free port on first start; restarts keep it. ``strict_ampersand``
    refuses an unescaped ``&`` in HTML (see html_check). ``allow_http_webhook`` lets
    setWebhook take an http URL on this machine (see webhook.py). ``control`` acts
    in-process; ``client`` does the same over HTTP.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        strict_ampersand: bool = True,
        bot_user: dict[str, Any] | None = None,
        allow_http_webhook: bool = False,
    ) -> None:
        self.token = token
        self.host = host
        self._port = port
        self.world = World(
            token,
            bot_user=bot_user,
            strict_ampersand=strict_ampersand,
            allow_http_webhook=allow_http_webhook,
        )
        self.deliverer = WebhookDeliverer(self.world)
        self.control = Control(self.world)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._listener_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._closed = threading.Event()

    # --- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("the port is chosen at start(); start the server or pass port=")
        return self._port

    @property
    def _client_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url``: the bot calls ``{base_url}{token}/{method}``."""
        return f"http://{self._client_host}:{self.port}/bot"

    @property
    def control_url(self) -> str:
        return f"http://{self._client_host}:{self.port}"

    @property
    def client(self) -> BotAPIClient:
        return BotAPIClient(self.control_url)

    @property
    def listening(self) -> bool:
        return self._httpd is not None

    def info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "control_url": self.control_url,
            "port": self.port,
            "token": self.token,
            "bot_user": dict(self.world.bot_user),
        }

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        self._closed.clear()
        self.start_listening()
        self.deliverer.start()
        return self

    def stop(self) -> None:
        self._closed.set()  # A pending outage() must not bring the listener back.
        self.deliverer.stop()
        self.stop_listening()

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start_listening(self) -> None:
        """Accept connections (again), on the same port as before."""
        with self._listener_lock:
            if self._httpd is not None:
                return
            httpd = _HTTPServer((self.host, self._port), self)
            self._port = int(httpd.server_address[1])
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-bot-api:{self._port}",
                daemon=True,
            )
            self._httpd, self._thread = httpd, thread
            thread.start()

    def stop_listening(self) -> None:
        """Refuse connections from now on and cut the open ones (held long polls included);
        chats, messages and queued updates stay for ``start_listening``."""
        with self._listener_lock:
            httpd, thread = self._httpd, self._thread
            if httpd is None or thread is None:
                return
            with self.world.cond:
                self.world.generation += 1
                self.world.changed()
            httpd.shutdown()
            httpd.server_close()
            # Only now is the port really closed: `listening` must not say False
            # while a connection could still be accepted.
            self._httpd = self._thread = None
            with self._connections_lock:
                open_connections = list(self._connections)
            for connection in open_connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            thread.join(_JOIN_SECONDS)
            for handler in list(httpd.handler_threads):
                handler.join(_JOIN_SECONDS)

    def outage(self, seconds: float) -> None:
        """Stop listening now and start again after ``seconds`` (from a background thread)."""

        def run() -> None:
            self.stop_listening()
            if not self._closed.wait(seconds):
                self.start_listening()

        threading.Thread(target=run, name="fake-bot-api-outage", daemon=True).start()

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)
