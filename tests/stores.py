"""Both store backends behind one test helper: `Backend` opens stores of one kind on
one place (a SQLite file, a PostgreSQL database), as a restart or a second replica
would, and runs raw SQL there, as a damaged disk or a hand edit would.  The
`backend` fixture (tests/conftest.py) hands out each kind in turn."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bot.storage.postgres import PostgresStore
from bot.storage.records import Store
from bot.storage.sqlite import SqliteStore
from retrieval.models import Report


# A feed entry's report, as the store tests save and read them back.
def report(number: int, text: str = "The ferry sailed at dawn.") -> Report:
    # Made here, not with conftest's make_report: conftest imports this module.
    return Report(
        id=f"feed-{number}",
        title=f"Story {number} <b>&",
        paragraphs=(text, "Second paragraph — with “quotes”."),
        published=datetime(2024, 5, number, 9, 30, tzinfo=UTC),
        source="Coast News",
        url=f"https://example.org/{number}",
    )


class Backend:
    def __init__(
        self, kind: str, opener: Callable[[], Store], run: Callable[[str], list[Any]]
    ) -> None:
        self.kind = kind
        self._opener = opener
        self._run = run
        self._opened: list[Store] = []

    def open(self) -> Store:
        """Another store on the same state (closed at the end of the test)."""
        store = self._opener()
        self._opened.append(store)
        return store

    def execute(self, sql: str) -> list[Any]:
        """Raw SQL (no parameters, SQL both dialects read) on the state, outside any store;
        the rows it returns."""
        return self._run(sql)

    def scalar(self, sql: str) -> Any:
        [(value,)] = self.execute(sql)
        return value

    def close(self) -> None:
        for store in self._opened:
            store.close()


@contextlib.contextmanager
def open_backend(kind: str, path: Path, url: str | None) -> Iterator[Backend]:
    """A SQLite backend on `path`, or a PostgreSQL one on the database at `url`."""
    if kind == "sqlite":
        backend = Backend(kind, lambda: SqliteStore.open(path), lambda sql: _sqlite(path, sql))
    else:
        assert url is not None, "the postgres backend needs a database_url"
        backend = Backend(kind, lambda: PostgresStore.open(url), lambda sql: _postgres(url, sql))
    try:
        yield backend
    finally:
        backend.close()


def _sqlite(path: Path, sql: str) -> list[Any]:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(sql).fetchall()


def _postgres(url: str, sql: str) -> list[Any]:
    with psycopg.connect(url, autocommit=True) as db:
        cursor = db.execute(sql)
        return cursor.fetchall() if cursor.description else []
