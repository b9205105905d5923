"""The bot's own state (feeds, entries, subscriptions, channel posts, rate budgets).

* `records.py`: what every backend shares: the records, `StoreError`, and the
  `Store` protocol, the one name the rest of the bot uses;
* `sqlite.py` and `sqlite_schema.py`: one SQLite file in DATA_DIR, the default,
  for one process;
* `postgres.py` and `postgres_schema.py`: PostgreSQL when DATABASE_URL is set,
  shared by replicas (the pool is public: the update journal uses it too).

`open_store` picks one; psycopg is imported only when DATABASE_URL is set.
"""

from __future__ import annotations

from bot.config import Settings
from bot.storage.records import Store


def open_store(settings: Settings) -> Store:
    """The store the settings ask for, open and migrated; StoreError says why not."""
    if settings.database_url:
        from bot.storage.postgres import PostgresStore

        return PostgresStore.open(settings.database_url)
    from bot.storage.sqlite import SqliteStore

    return SqliteStore.open(settings.store_path)
