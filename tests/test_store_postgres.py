"""What only the PostgreSQL store has, on a real server (tests/pg.py): migrations that run
once however many replicas start together, a database from a newer reports-bot refused,
a server that is down or crashed told in a StoreError that names DATABASE_URL (and the
store working again once it is back), and the password kept out of every message."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from bot.config import Settings
from bot.storage import open_store
from bot.storage.postgres import PostgresStore, hide_password, open_pool
from bot.storage.postgres_schema import MIGRATIONS, SCHEMA_VERSION
from bot.storage.records import Store, StoreError
from tests.conftest import make_report
from tests.pg import PostgresServer

# Attempts, each bounded by the pool's timeout, for a store to find a server that is back.
RECOVERY_ATTEMPTS = 10


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as db:
        return [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]


def works_again(store: Store) -> bool:
    """Whether the store answers within a few attempts (its pool reconnects by itself)."""
    for _ in range(RECOVERY_ATTEMPTS):
        try:
            store.ping()
        except StoreError:
            continue
        return True
    return False


def test_with_database_url_the_state_is_in_postgres(database_url: str) -> None:
    with open_store(Settings(database_url=database_url)) as store:
        assert isinstance(store, PostgresStore) and store.shared
        with store.pool.connection() as db:
            [(timeout,)] = db.execute("SHOW statement_timeout").fetchall()
            assert timeout == "5s" and db.autocommit
    assert versions(database_url) == list(range(1, SCHEMA_VERSION + 1))


def test_the_schema_has_every_table_both_roles_use(database_url: str) -> None:
    PostgresStore.open(database_url).close()
    with psycopg.connect(database_url) as db:
        tables = {
            name
            for (name,) in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        columns: dict[str, str] = dict(
            db.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'updates'"
            ).fetchall()
        )
    assert tables == {
        "feeds",
        "entries",
        "subscriptions",
        "channel_posts",
        "updates",
        "budgets",
        "pushed",
        "uploads",
        "schema_version",
    }
    assert columns == {
        "update_id": "bigint",
        "state": "text",
        "payload": "text",
        "replays": "integer",
        "received_at": "double precision",
        "claimed_by": "text",
        "claimed_at": "double precision",
    }


def test_migrations_run_once_and_opening_again_keeps_everything(database_url: str) -> None:
    with PostgresStore.open(database_url) as store:
        store.subscribe(5, "dams", 5)
    with PostgresStore.open(database_url) as store:
        assert [s.topic for s in store.subscriptions(5)] == ["dams"]
    assert versions(database_url) == list(range(1, len(MIGRATIONS) + 1))


def test_a_version_1_database_gets_an_empty_uploads_table_keeping_its_rows(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as db:  # as reports-bot left it
        db.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
            "applied_at DOUBLE PRECISION NOT NULL)"
        )
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (1, 0)")
        db.execute("INSERT INTO subscriptions VALUES (5, 'dams', 'Dams', 5, 1700000000.0)")
        db.execute("INSERT INTO feeds VALUES ('https://a.example/rss', 'A', 'e', NULL, 1.0)")
    with PostgresStore.open(database_url) as store:
        assert store.uploads() == []
        assert [s.topic for s in store.subscriptions(5)] == ["Dams"]
        state = store.feed_state("https://a.example/rss")
        assert state is not None and state.etag == "e"
        store.record_upload("glacier.txt", 8, 8, 10, "c" * 64)
        assert [r.name for r in store.uploads()] == ["glacier.txt"]
    assert versions(database_url) == [1, 2, 3] == list(range(1, SCHEMA_VERSION + 1))


def test_a_version_2_database_gets_subscription_languages_keeping_its_rows(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as db:  # as reports-bot left it
        db.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
            "applied_at DOUBLE PRECISION NOT NULL)"
        )
        for version, statements in enumerate(MIGRATIONS[:2], 1):
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (%s, 0)", (version,))
        db.execute(
            "INSERT INTO subscriptions VALUES (5, 'dams', 'Dams', 5, 1700000000.0), "
            "(-100, 'wheat', 'wheat', 1, 1700000001.0), (-100, 'barley', 'barley', 2, "
            "1700000002.0)"
        )
        db.execute("INSERT INTO uploads VALUES ('glacier.txt', 8, 8, 10, 'c', 1.0)")
    with PostgresStore.open(database_url) as store:
        # Every subscription is kept, in English until someone in its chat subscribes.
        assert [(s.chat_id, s.topic, s.user_id, s.language) for s in store.subscriptions()] == [
            (5, "Dams", 5, None),
            (-100, "wheat", 1, None),
            (-100, "barley", 2, None),
        ]
        assert [r.name for r in store.uploads()] == ["glacier.txt"]
        assert not store.subscribe(-100, "Wheat", 3, language="de")  # subscribing again
        assert [s.language for s in store.subscriptions(-100)] == ["de", "de"]
        assert [s.language for s in store.subscriptions(5)] == [None]
    assert versions(database_url) == [1, 2, 3] == list(range(1, SCHEMA_VERSION + 1))
    with PostgresStore.open(database_url) as again:  # opening again changes nothing
        assert [s.language for s in again.subscriptions(-100)] == ["de", "de"]
    assert versions(database_url) == [1, 2, 3]


def test_replicas_starting_together_all_open_and_migrate_once(database_url: str) -> None:
    start = threading.Barrier(4)
    opened: list[PostgresStore] = []
    failed: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgresStore.open(database_url))
        except BaseException as error:  # handed to the assertion below
            failed.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert failed == [] and len(opened) == 4
    assert versions(database_url) == list(range(1, SCHEMA_VERSION + 1))


def test_a_database_from_a_newer_version_is_refused(database_url: str) -> None:
    PostgresStore.open(database_url).close()
    with psycopg.connect(database_url) as db:
        db.execute("INSERT INTO schema_version VALUES (%s, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer reports-bot") as raised:
        PostgresStore.open(database_url)
    assert "upgrade the bot" in str(raised.value)


def test_a_server_that_is_down_is_a_store_error_naming_database_url(
    postgres_server: PostgresServer, database_url: str
) -> None:
    store = PostgresStore.open(database_url)
    store.subscribe(1, "wheat", 1)
    postgres_server.stop()
    try:
        with pytest.raises(StoreError, match="DATABASE_URL") as opening:
            PostgresStore.open(database_url)
        assert "\n" not in str(opening.value)  # one line for the runner's exit message
        with pytest.raises(StoreError, match="DATABASE_URL"):
            store.subscriptions()
        with pytest.raises(StoreError, match="DATABASE_URL"):
            store.spend("questions:1", 5, 60.0, 100.0)
    finally:
        postgres_server.start()
    assert works_again(store)
    assert [s.topic for s in store.subscriptions(1)] == ["wheat"]
    store.close()


def test_a_crashed_server_comes_back_with_what_was_committed(
    postgres_server: PostgresServer, database_url: str
) -> None:
    store = PostgresStore.open(database_url)
    post = make_report("Post", report_id="p1", published=datetime(2024, 5, 1, tzinfo=UTC))
    store.save_channel_post(-1001, 1, post)
    postgres_server.kill()
    postgres_server.start()
    assert works_again(store)
    assert store.channel_posts({-1001}) == [post]
    store.close()


def test_a_missing_database_is_told_without_the_password(postgres_server: PostgresServer) -> None:
    postgres_server.start()
    url = postgres_server.url("no_such_db").replace("postgres@", "postgres:s3cret@")
    with pytest.raises(StoreError) as raised:
        open_pool(url)
    message = str(raised.value)
    assert "no_such_db" in message and "does not exist" in message and "DATABASE_URL" in message
    assert "s3cret" not in message and "postgres:***@" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:pw@db:5432/x", "postgresql://bot:***@db:5432/x"),
        ("postgres://bot@db/x", "postgres://bot@db/x"),
        ("postgresql://db/x?user=bot&password=pw&sslmode=require", None),
        ("postgresql://b%40t:p%3Aw@db/x", "postgresql://b%40t:***@db/x"),
    ],
)
def test_hide_password(url: str, shown: str | None) -> None:
    hidden = hide_password(url)
    assert "pw" not in hidden.replace("postgres", "")
    if shown is not None:
        assert hidden == shown


def test_each_new_report_is_claimed_for_pushing_once_across_replicas(database_url: str) -> None:
    first, second = PostgresStore.open(database_url), PostgresStore.open(database_url)
    try:
        assert first.claim_pushes(["a", "b", "a"]) == {"a", "b"}
        assert second.claim_pushes(["b", "c"]) == {"c"}
        assert first.claim_pushes([]) == set()
        assert first.claim_pushes(["a", "c"]) == set()
    finally:
        first.close()
        second.close()
