"""A real local HTTP server for feed tests: serves documents by path, honours
If-None-Match / If-Modified-Since like a well-behaved feed host, records every
request, answers redirects (`redirect`: to a path of its own, to another server,
in chains), and can hang (to test timeouts) until the test lets go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    hang: bool = False  # accept the request and never answer (until released)
    location: str | None = None  # sent as Location (with a 3xx status)


def redirect(location: str, status: int = 302) -> Route:
    """A route that answers `status` with `location`: a path, or a full URL elsewhere."""
    return Route(b"", status=status, location=location)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class FeedServer:
    host: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = server.routes.get(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = 404 if route is None else route.status
            if route is not None and route.hang:
                server.requests.append(Seen(self.path, headers, 0))
                server.release.wait(30)
                return
            if route is not None and status == 200 and _not_modified(route, headers):
                status = 304
            server.requests.append(Seen(self.path, headers, status))
            self.send_response(status)
            if route is not None and route.location is not None:
                self.send_header("Location", route.location)
            if route is not None and status in (200, 304):
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
            body = route.body if route is not None and status == 200 else b""
            if status == 200 and route is not None:
                self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

    return Handler


def _not_modified(route: Route, headers: dict[str, str]) -> bool:
    # Like most servers: ETag wins when the client sent one.
    if "if-none-match" in headers:
        return route.etag is not None and headers["if-none-match"] == route.etag
    since = headers.get("if-modified-since")
    return since is not None and since == route.last_modified


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops a burst of concurrent connections, and a dropped
    # SYN is only retried a second later.
    request_queue_size = 64
    daemon_threads = True


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer("127.0.0.1", 0)
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
