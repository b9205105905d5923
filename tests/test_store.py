"""The store, on both backends (SQLite and a real PostgreSQL): feed validators, entries,
subscriptions, channel posts and upload records survive a reopen and mean the same on
either; a damaged row costs only itself.  What only one backend has: tests/test_store_sqlite.py and
tests/test_store_postgres.py; rate budgets and the change fingerprint:
tests/test_store_shared.py."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import fields
from datetime import datetime, timedelta, timezone

import pytest

from bot.storage.records import (
    Store,
    StoreError,
    UploadRecord,
    report_from_json,
    report_to_json,
)
from retrieval.feed_format import report_id
from retrieval.models import Report
from tests.stores import Backend, report


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def test_reports_round_trip_through_json_exactly() -> None:
    original = Report(
        id="x",
        title="T",
        paragraphs=("a", "b"),
        published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        published_from_mtime=True,
        source=None,
        url=None,
        caption="c",
        caption_credit="AP",
        path="/r/x.txt",
        author="Jane Doe",
        pages=(1, 1, 2),
        language="de",
    )
    # Every field: a field added to Report and forgotten here would be lost on a restart.
    assert {f.name for f in fields(Report)} <= json.loads(report_to_json(original)).keys()
    assert report_from_json(report_to_json(original)) == original


def test_feed_state_and_entries_survive_a_reopen(backend: Backend) -> None:
    store = backend.open()
    assert store.feed_state("https://example.org/rss") is None
    store.save_entries("https://example.org/rss", [("guid-1", report(1), "d1")])
    store.save_feed_state("https://example.org/rss", "Coast News", '"v1"', "Tue, 02 May 2024")
    store.close()

    again = backend.open()
    state = again.feed_state("https://example.org/rss")
    assert state is not None
    assert (state.title, state.etag, state.last_modified) == (
        "Coast News",
        '"v1"',
        "Tue, 02 May 2024",
    )
    assert state.ok_at is not None
    assert again.entry_digests("https://example.org/rss", ["guid-1", "guid-2"]) == {"guid-1": "d1"}
    assert again.entry_digests("https://other.example/rss", ["guid-1"]) == {}
    assert again.entry_digests("https://example.org/rss", []) == {}
    [entry] = again.entries(["https://example.org/rss"])
    assert (entry.key, entry.report, entry.digest) == ("guid-1", report(1), "d1")
    assert again.entries(["https://other.example/rss"]) == []


def test_an_updated_entry_replaces_the_stored_one(store: Store) -> None:
    store.save_entries("https://a.example/rss", [("g", report(1), "d1")])
    store.save_entries("https://a.example/rss", [("g", report(1, "Changed text."), "d2")])
    [entry] = store.entries(["https://a.example/rss"])
    assert entry.digest == "d2" and entry.report.paragraphs[0] == "Changed text."


def test_many_keys_are_looked_up_at_once(store: Store) -> None:
    rows = [(f"k{i}", report(1 + i % 28), f"d{i}") for i in range(1200)]
    store.save_entries("https://a.example/rss", rows)
    found = store.entry_digests("https://a.example/rss", (f"k{i}" for i in range(0, 2400, 2)))
    assert len(found) == 600 and found["k1198"] == "d1198"


def test_subscriptions_are_per_chat_case_and_space_insensitive_and_survive(
    backend: Backend,
) -> None:
    store = backend.open()
    assert store.subscribe(1, "Refugees  Turkey", user_id=1)
    assert not store.subscribe(1, "refugees turkey", user_id=1)  # the same topic
    assert store.subscribe(1, "wheat harvest", user_id=1)
    assert store.subscribe(-100, "refugees Turkey", user_id=7)  # another chat
    store.close()

    again = backend.open()
    assert [s.topic for s in again.subscriptions(1)] == ["Refugees Turkey", "wheat harvest"]
    assert [(s.chat_id, s.user_id) for s in again.subscriptions(-100)] == [(-100, 7)]
    assert len(again.subscriptions()) == 3
    assert again.unsubscribe(1, "REFUGEES turkey")
    assert not again.unsubscribe(1, "refugees turkey")
    assert again.unsubscribe_all(1) == 1
    assert again.subscriptions(1) == []
    assert len(again.subscriptions()) == 1


def test_telegram_ids_of_every_size_are_kept_exactly(store: Store) -> None:
    supergroup, user = -1_009_876_543_210, 7_123_456_789  # past 32 bits both
    assert store.subscribe(supergroup, "dams", user_id=user)
    assert store.subscribe(5, "dams", user_id=None)
    [subscription] = store.subscriptions(supergroup)
    assert (subscription.chat_id, subscription.user_id) == (supergroup, user)
    assert store.subscriptions(5)[0].user_id is None
    store.save_channel_post(supergroup, 2_000_000_000_123, report(3))
    assert store.channel_posts({supergroup}) == [report(3)]


def test_a_migrated_group_takes_its_subscriptions_along(store: Store) -> None:
    store.subscribe(-5, "wheat", user_id=1)
    store.subscribe(-5, "barley", user_id=1)
    store.subscribe(-1005, "barley", user_id=2)  # already there under the new id
    store.move_chat(-5, -1005)
    assert store.subscriptions(-5) == []
    moved = sorted((s.topic, s.user_id) for s in store.subscriptions(-1005))
    assert moved == [("barley", 2), ("wheat", 1)]  # the new chat's own barley stays its own


def test_a_chats_subscriptions_take_the_language_of_whoever_subscribed_last(
    backend: Backend,
) -> None:
    store = backend.open()
    assert store.subscribe(5, "dams", user_id=5)  # no language_code: English
    assert [s.language for s in store.subscriptions(5)] == [None]
    assert store.subscribe(-7, "wheat", user_id=1, language="de")
    assert store.subscribe(-7, "barley", user_id=2, language="ru")  # another member
    # One language for the whole group, its last subscriber's; other chats keep theirs.
    assert {s.topic: s.language for s in store.subscriptions(-7)} == {
        "wheat": "ru",
        "barley": "ru",
    }
    assert [s.language for s in store.subscriptions(5)] == [None]
    # Subscribing again to a topic the chat follows changes nothing but the language.
    assert not store.subscribe(-7, "WHEAT", user_id=3, language="de-AT")
    assert {(s.topic, s.user_id, s.language) for s in store.subscriptions(-7)} == {
        ("wheat", 1, "de-AT"),
        ("barley", 2, "de-AT"),
    }
    assert not store.subscribe(5, "dams", user_id=5, language="pt-br")
    store.close()

    again = backend.open()  # a restart, or another replica
    assert [s.language for s in again.subscriptions(5)] == ["pt-br"]
    again.move_chat(-7, -1007)  # the language follows the group into its supergroup
    assert {s.language for s in again.subscriptions(-1007)} == {"de-AT"}
    # A NUL is kept (SQLite) or dropped (PostgreSQL's text), never a failure.
    assert again.subscribe(9, "dams", user_id=9, language="d\x00e")
    assert [(s.language or "").replace("\x00", "") for s in again.subscriptions(9)] == ["de"]


def test_threads_share_one_store(store: Store) -> None:
    def subscribe(chat: int) -> None:
        for n in range(50):
            store.subscribe(chat, f"topic {n}", user_id=chat)

    threads = [threading.Thread(target=subscribe, args=(chat,)) for chat in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.subscriptions()) == 200


def test_ping_reads_and_a_closed_store_says_so(backend: Backend) -> None:
    store = backend.open()
    store.ping()
    store.close()
    with pytest.raises(StoreError):
        store.ping()


# -- entries of several feeds, the bounded archive, damaged rows ----------------------------

A, B = "https://a.example/rss", "https://b.example/rss"


def test_two_feeds_may_use_the_same_key(store: Store) -> None:
    store.save_entries(A, [("https://wire.example/1", report(1), "d1")])
    store.save_entries(B, [("https://wire.example/1", report(2, "Other text."), "d2")])
    assert [e.report for e in store.entries([A])] == [report(1)]
    assert [e.report for e in store.entries([B])] == [report(2, "Other text.")]
    assert store.entry_digests(A, ["https://wire.example/1"]) == {"https://wire.example/1": "d1"}


def test_saving_prunes_the_oldest_beyond_keep_and_returns_their_report_ids(store: Store) -> None:
    for number in range(1, 4):  # one save each: g3 is the newest
        assert store.save_entries(A, [(f"g{number}", report(number), "d")], keep=3) == []
    store.save_entries(B, [("g9", report(9), "d")], keep=1)
    # Given newest first: g5 counts as seen after g4.
    pruned = store.save_entries(A, [("g5", report(5), "d"), ("g4", report(4), "d")], keep=3)
    assert pruned == [report_id(A, "g1"), report_id(A, "g2")]  # oldest first
    assert [e.key for e in store.entries([A])] == ["g3", "g4", "g5"]
    assert [e.key for e in store.entries([B])] == ["g9"]  # another feed's archive is its own
    # Listed keys stay, however old; an update keeps an entry's place.
    store.save_entries(A, [("g3", report(3, "Updated."), "d2")])
    pruned = store.save_entries(A, [("g6", report(6), "d")], keep=2, listed=["g6", "g3"])
    assert pruned == [report_id(A, "g4"), report_id(A, "g5")]
    assert [e.key for e in store.entries([A])] == ["g3", "g6"]


def test_entries_loads_each_feeds_newest_keep(store: Store) -> None:
    for number in range(1, 6):
        store.save_entries(A, [(f"a{number}", report(number), "d")])
        store.save_entries(B, [(f"b{number}", report(number), "d")])
    assert [e.key for e in store.entries([A, B], keep=2)] == ["a4", "a5", "b4", "b5"]
    assert len(store.entries([A, B])) == 10


def test_two_stores_saving_one_feed_at_once_keep_its_order_and_bound(backend: Backend) -> None:
    first, second = backend.open(), backend.open()  # two replicas, or two threads

    def save(store: Store, prefix: str) -> None:
        for number in range(20):
            store.save_entries(A, [(f"{prefix}{number}", report(1 + number % 28), "d")], keep=15)

    threads = [
        threading.Thread(target=save, args=(store, prefix))
        for store, prefix in ((first, "x"), (second, "y"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = [e.key for e in first.entries([A])]
    assert len(kept) == 15
    # Each writer's own entries stay in the order it saved them.
    for prefix in ("x", "y"):
        mine = [int(key[1:]) for key in kept if key.startswith(prefix)]
        assert mine == sorted(mine)


def test_a_stored_entry_that_cannot_be_read_is_skipped_alone(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    store = backend.open()
    store.save_entries(A, [(f"g{n}", report(n), "d") for n in (1, 2, 3, 4)])
    store.close()
    # A damaged disk, a hand edit, a half-written row.
    backend.execute('UPDATE entries SET report = \'{"id": "feed-2", "ti\' WHERE key = \'g2\'')
    backend.execute("UPDATE entries SET report = '{\"id\": \"feed-3\"}' WHERE key = 'g3'")
    again = backend.open()
    with caplog.at_level("WARNING", logger="bot.storage"):
        loaded = again.entries([A])
    assert sorted(e.key for e in loaded) == ["g1", "g4"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all(A in line for line in lines)
    assert "'g2'" in lines[0] + lines[1] and "'g3'" in lines[0] + lines[1]


# -- channel posts ---------------------------------------------------------------------------


def test_channel_posts_are_kept_replaced_forgotten_and_survive(backend: Backend) -> None:
    store = backend.open()
    store.save_channel_post(-1001, 2, report(2))
    store.save_channel_post(-1001, 1, report(1))
    store.save_channel_post(-1001, 1, report(1, "Edited."))  # an edit replaces the post
    store.save_channel_post(-1002, 1, report(3))
    store.close()
    again = backend.open()
    assert again.channel_posts({-1001}) == [report(1, "Edited."), report(2)]
    every = [report(3), report(1, "Edited."), report(2)]  # by chat id, then message id
    assert again.channel_posts([-1002, -1001, -1002]) == every
    assert again.forget_channel_post(-1001, 1) is True
    assert again.forget_channel_post(-1001, 1) is False
    assert again.channel_posts({-1001}) == [report(2)]
    assert again.channel_posts(set()) == []


def test_a_damaged_post_row_costs_only_itself(backend: Backend) -> None:
    store = backend.open()
    store.save_channel_post(-1001, 2, report(2))
    backend.execute("INSERT INTO channel_posts VALUES (-1001, 1, '{broken', 0)")
    assert store.channel_posts({-1001}) == [report(2)]


# -- upload records --------------------------------------------------------------------------

SHA_A, SHA_B = "a" * 64, "b" * 64


def test_uploads_are_recorded_newest_first_replaced_forgotten_and_survive(
    backend: Backend,
) -> None:
    store = backend.open()
    assert store.uploads() == []
    before = time.time()
    store.record_upload("glacier.txt", 8_100_001, 8_100_001, 312, SHA_A)
    store.record_upload("harbour.md", 8_100_003, -1001234567890, 2_000_000_000_000, SHA_B)
    after = time.time()
    glacier, harbour = sorted(store.uploads(), key=lambda r: r.name)
    assert glacier == UploadRecord(
        "glacier.txt", 8_100_001, 8_100_001, 312, SHA_A, glacier.uploaded_at
    )
    assert harbour == UploadRecord(
        "harbour.md", 8_100_003, -1001234567890, 2_000_000_000_000, SHA_B, harbour.uploaded_at
    )
    assert before <= glacier.uploaded_at <= harbour.uploaded_at <= after
    assert [r.name for r in store.uploads()] == ["harbour.md", "glacier.txt"]  # newest first
    # The same name again replaces its record, which is now the newest.
    store.record_upload("glacier.txt", 42, 43, 99, SHA_B)
    [first, second] = store.uploads()
    assert first == UploadRecord("glacier.txt", 42, 43, 99, SHA_B, first.uploaded_at)
    assert first.uploaded_at >= harbour.uploaded_at and second == harbour
    store.close()
    again = backend.open()  # a restart, or another replica
    assert again.uploads() == [first, second]
    assert again.forget_upload("glacier.txt") is True
    assert again.forget_upload("glacier.txt") is False
    assert again.forget_upload("never-uploaded.txt") is False
    assert again.uploads() == [harbour]
    assert backend.scalar("SELECT count(*) FROM uploads") == 1
    again.close()
    for call in (
        again.uploads,
        lambda: again.forget_upload("harbour.md"),
        lambda: again.record_upload("x.txt", 1, 1, 1, SHA_A),
    ):
        with pytest.raises(StoreError):  # what the handlers catch, on either backend
            call()


def test_upload_records_keep_names_as_given(store: Store) -> None:
    names = ["Zebra.txt", "äpfel ünd “quotes”.md", "a b.txt", "a_b.txt"]
    for name in names:
        store.record_upload(name, 1, 1, len(name), SHA_A)
    assert [r.name for r in store.uploads()] == names[::-1]
    assert store.forget_upload("zebra.txt") is False  # names are case-sensitive, like files
    assert store.forget_upload("Zebra.txt") is True
