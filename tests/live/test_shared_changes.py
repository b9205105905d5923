"""What another replica changed in the shared store, against this replica's index (pure)."""

from __future__ import annotations

from dataclasses import replace

from bot.live.reports import shared_changes
from retrieval.search import SearchEngine
from tests.conftest import make_report


def test_new_changed_and_gone_reports_are_told_apart() -> None:
    kept = make_report(report_id="feed-kept")
    edited = make_report(report_id="feed-edited", paragraphs=("The ferry sailed at dawn.",))
    engine = SearchEngine.build([kept, edited])
    now_edited = replace(edited, paragraphs=("The ferry sailed at noon instead.",))
    arrived = make_report(report_id="post-new")

    new, changed, gone = shared_changes(
        engine, {"feed-kept", "feed-edited", "feed-pruned"}, [kept, now_edited, arrived]
    )

    assert new == [arrived]
    assert changed == [now_edited]
    assert gone == ["feed-pruned"]


def test_nothing_changed_is_nothing_to_do() -> None:
    kept = make_report(report_id="feed-kept")
    assert shared_changes(SearchEngine.build([kept]), {"feed-kept"}, [kept]) == ([], [], [])
