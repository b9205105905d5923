"""A real, throwaway PostgreSQL server for the tests: Debian's binaries, a temporary
folder, trust authentication on 127.0.0.1 and a free port.

    with PostgresServer() as server:
        url = server.create_database("t1")   # postgresql://postgres@127.0.0.1:PORT/t1

`stop()`, `start()`, `restart()` and `kill()` (SIGKILL of the postmaster, a crash)
let tests take the database away and bring it back; the port stays the same, so
URLs handed out stay valid.  initdb and postgres refuse to run as root: as root
the folder belongs to the `postgres` user (the Debian package makes it) and the
server's commands run through `runuser -u postgres --`.

The postmaster is a child of this process (not daemonized by pg_ctl), so a kill
is reaped here and the next start finds no stale postmaster.pid holder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import psycopg
from psycopg import sql

SERVER_USER = "postgres"
# Readiness and shut-down waits; a healthy server takes well under a second.
WAIT_SECONDS = 60.0
_INSTALL = "PostgreSQL's server binaries (initdb, postgres, pg_ctl) were not found: " + (
    "apt-get install postgresql (bash .ci/run does it on a fresh machine)"
)
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


def find_binaries() -> Path:
    """The bin folder of the newest PostgreSQL: Debian's /usr/lib/postgresql/N/bin, else
    the one holding initdb on PATH."""

    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name))

    found = [
        path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb") if path.is_file()
    ]
    if found:
        return max(found, key=version)
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("postgres", path=str(Path(initdb).parent)):
        return Path(initdb).parent
    raise RuntimeError(_INSTALL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, started and stopped by the tests."""

    def __init__(self) -> None:
        self.bin = find_binaries()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="reports-bot-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        if self.as_root:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    # -- the server ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        fsync is off (nothing here outlives the machine), but commits still wait for the
        WAL to be written: a kill() keeps every committed row, as a real crash does.
        """
        if self.running:
            return
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the server's, kept open
        command = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=200",
        ]
        self._process = subprocess.Popen(
            self._as_server_user(command),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """Shut the server down ("smart", "fast" or "immediate", as pg_ctl's modes) and
        wait until it has."""
        if not self.running:
            self._forget_process()
            return
        self._signal(_STOP_SIGNALS[mode])
        self._wait_exit()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends notice and exit."""
        if not self.running:
            return
        backends = self._children(self._postmaster_pid())
        self._signal(signal.SIGKILL)
        self._wait_exit()
        # The next start needs the old shared memory released by every backend.
        deadline = time.monotonic() + WAIT_SECONDS
        while any(_alive(pid) for pid in backends) and time.monotonic() < deadline:
            time.sleep(0.05)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------------

    def _as_server_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", SERVER_USER, "--", *command] if self.as_root else command

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            self._as_server_user([str(self.bin / tool), *args]),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def _postmaster_pid(self) -> int:
        """The postmaster's pid: the Popen child itself, or runuser's child as root."""
        pid_file = self.data / "postmaster.pid"
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                return int(pid_file.read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                time.sleep(0.02)
        raise RuntimeError(f"no postmaster.pid in {self.data}: see {self.log_path}")

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._postmaster_pid(), signum)

    def _children(self, pid: int) -> list[int]:
        children: list[int] = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
        return children

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            if not self.running:
                self._forget_process()
                raise RuntimeError(f"PostgreSQL did not start: {self._log_tail()}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL is not ready: {error}") from error
                time.sleep(0.05)

    def _wait_exit(self) -> None:
        assert self._process is not None
        try:
            self._process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._process.wait(timeout=WAIT_SECONDS)
        self._forget_process()

    def _forget_process(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError as error:
            return str(error)


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has exited: nothing reaps it in some containers)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
