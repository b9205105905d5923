"""The connections to PostgreSQL (DATABASE_URL): one small pool per process.

The store (`bot/storage/postgres.py`), the update journal and the leader election
all take their connections from the pool `open_pool` makes.  They are called from
the event loop, so every wait is short: connecting, waiting for a free connection
and each statement each give up after a few seconds, and a database that is down
is a StoreError saying what to check, never a hang.  Connections are in autocommit
mode; a caller that needs a transaction opens one (`with db.transaction():`).
The password never appears in a message: `hide_password`.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from bot.storage.records import StoreError

Pool: TypeAlias = ConnectionPool[Connection[TupleRow]]

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 8
# libpq counts whole seconds (and at least 2).
CONNECT_TIMEOUT_SECONDS = 3
# How long a call waits for a free (or a new) connection.
POOL_TIMEOUT_SECONDS = 3.0
STATEMENT_TIMEOUT_MS = 5000
# A pool that cannot reconnect for this long gives up until the next call asks again:
# its retries back off (1 s, 2 s, 4 s…), and a database back after a long outage should
# be found by the next call, not after the next long pause.
RECONNECT_TIMEOUT_SECONDS = 5.0
ADVICE = "check DATABASE_URL and that the PostgreSQL server is up and reachable"
_PASSWORD_PARAMETER = re.compile(r"(?i)\b(password=)[^&]*")


def hide_password(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) shown as ***,
    for logs and error messages."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if at and ":" in user:
        parts = parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}")
    return _PASSWORD_PARAMETER.sub(r"\1***", urlunsplit(parts))


def _connection_kwargs() -> dict[str, Any]:
    return {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        "application_name": "reports-bot",
        # A server that vanished without closing (its machine gone, a partition) is
        # noticed in seconds, idle or mid-statement, instead of after TCP's minutes.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 3,
        "keepalives_count": 3,
        "tcp_user_timeout": STATEMENT_TIMEOUT_MS + 1000,
    }


def open_pool(url: str) -> Pool:
    """A small pool of autocommit connections to `url`, open and tested: raises StoreError
    saying why (and what to check) when the database cannot be reached."""
    where = hide_password(url)
    try:
        # One connection first, so a refusal, a wrong password or a missing database is
        # told at once in the server's words (the pool would retry until its timeout).
        psycopg.connect(url, **_connection_kwargs()).close()
        pool: Pool = ConnectionPool(
            url,
            kwargs=_connection_kwargs(),
            min_size=POOL_MIN_SIZE,
            max_size=POOL_MAX_SIZE,
            timeout=POOL_TIMEOUT_SECONDS,
            reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
            name="reports-bot",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=POOL_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS)
        except BaseException:
            pool.close()
            raise
    except psycopg.Error as error:
        raise StoreError(
            f"cannot connect to PostgreSQL at {where} ({one_line(error)}): {ADVICE}"
        ) from error
    return pool


def one_line(error: BaseException) -> str:
    """libpq's messages span lines (a hint below the error): one line for the log."""
    return " ".join(str(error).split()) or type(error).__name__


def drop_broken(pool: Pool) -> None:
    """After a call failed on a broken connection: test the idle ones now and replace
    those that fail too.  A server restart breaks them all at once; found one by one,
    each would fail a call of its own."""
    with contextlib.suppress(Exception):  # best effort: the call's own error is what counts
        pool.check()
