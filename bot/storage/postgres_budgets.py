"""The rate budgets in PostgreSQL (`PostgresStore.spend`): one statement per request, safe
under concurrent callers from any replica.

A budget is one row of `budgets` (bot/storage/postgres_schema.py): the times of the
requests it let through in the window, and when the newest of them leaves it.  The
`INSERT … ON CONFLICT DO UPDATE` takes the row's lock, so concurrent spends of one key
take turns, each seeing the times the one before left.  Nothing here knows about
Telegram.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from bot.storage.records import Decision, refused

# Budgets that ran out long ago are dropped every this many spends.
PRUNE_EVERY = 256

# A budget's request times still in the window: `SlidingWindowLimiter`'s test, so both
# count alike.
_KEPT = "(SELECT {what} FROM unnest(b.times) AS t WHERE %(now)s - t < %(window)s)"
_ROOM = f"({_KEPT.format(what='count(*)')} < %(limit)s)"
_SPEND = f"""
INSERT INTO budgets AS b (key, times, allowed, expires_at)
VALUES (%(key)s, ARRAY[%(now)s::float8], true, %(now)s::float8 + %(window)s)
ON CONFLICT (key) DO UPDATE SET
    times = ARRAY{_KEPT.format(what="t")}
        || CASE WHEN {_ROOM} THEN ARRAY[%(now)s::float8] ELSE '{{}}'::float8[] END,
    allowed = {_ROOM},
    expires_at = CASE WHEN {_ROOM}
        THEN greatest(b.expires_at, %(now)s::float8 + %(window)s) ELSE b.expires_at END
RETURNING b.allowed, (SELECT min(t) FROM unnest(b.times) AS t)
"""


def spend(
    db: Connection[Any], key: str, limit: int, window: float, now: float, *, prune: bool
) -> Decision:
    """One request of `key`'s budget of `limit` (> 0) per `window` seconds on `db`; with
    `prune`, the budgets that ran out are dropped first."""
    if prune:
        db.execute("DELETE FROM budgets WHERE expires_at < %s", (float(now),))
    params = {"key": key, "limit": limit, "window": float(window), "now": float(now)}
    row = db.execute(_SPEND, params).fetchone()
    assert row is not None  # INSERT … RETURNING always returns its row
    allowed, oldest = row
    return Decision(True) if allowed else refused(window, now, oldest)
