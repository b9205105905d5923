"""Reports kept where they lie when a cached corpus is cut into parts and joined again
(retrieval.record_views): the same records, fields read without making them, and rows
packed for the cache as they lie."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from retrieval.library import Library
from retrieval.models import Report
from retrieval.record_views import RecordsView, column, field_of, not_in, pack, records_cut
from retrieval.records import Records, Sharer
from retrieval.search import SearchEngine
from retrieval.stored_columns import Joined, joined
from tests.conftest import make_report

REPORTS = tuple(
    make_report(f"Report {n}", report_id=f"r{n}", paragraphs=(f"The council met on day {n}.",))
    for n in range(6)
)
WHOLE = ("id", "path")


class _Unread(Sequence[tuple[Any, ...]]):
    """Rows that fail when one is read: a whole field must come from the fields kept whole."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice) and index == slice(None, 1):
            return self._rows[:1]  # Records' own check of the first row's length
        raise AssertionError(f"row {index} was read")


def _records(rows_read: bool = True) -> Records[Report]:
    packed = Records.pack(REPORTS, Sharer())
    assert isinstance(packed, Records)
    whole = {name: column(packed, name) for name in WHOLE}
    return Records(Report, packed.rows if rows_read else _Unread(packed.rows), whole)


def test_a_view_holds_its_records_and_makes_them_in_the_whole() -> None:
    records = _records()
    view = records_cut(records, 1, 4)
    assert isinstance(view, RecordsView)
    assert records.made == 0
    assert view == REPORTS[1:4] and list(view) == list(REPORTS[1:4]) and len(view) == 3
    assert view[0] is records[1] and view[-1] is records[3]
    assert records.made == 3
    with pytest.raises(IndexError):
        view[3]
    assert records_cut(REPORTS, 1, 3) == REPORTS[1:3]


def test_fields_kept_whole_are_read_without_a_row_or_a_record() -> None:
    records = _records(rows_read=False)
    view = records_cut(records, 2, 5)
    assert [field_of(view, i, "id") for i in range(3)] == ["r2", "r3", "r4"]
    assert column(view, "id") == ["r2", "r3", "r4"]
    assert field_of(records, 0, "path") == REPORTS[0].path
    assert field_of(REPORTS, 1, "id") == "r1"
    assert records.made == 0


def test_joined_views_and_new_reports_pack_as_the_records_they_hold() -> None:
    records = _records()
    new = make_report("A new report", report_id="new", paragraphs=("The ferry was cancelled.",))
    merged = joined([records_cut(records, 0, 2), records_cut(records, 2, 4), (new,)])
    assert isinstance(merged, Joined) and len(merged.segments) == 2  # consecutive views merged
    assert column(merged, "id") == ["r0", "r1", "r2", "r3", "new"]
    packed = pack(merged, Sharer())
    assert records.made == 0, "packing made the views' records"
    assert isinstance(packed, Records) and packed == (*REPORTS[:4], new) == merged
    assert dict(packed.whole) == {name: column(merged, name) for name in WHOLE}
    assert pack(records_cut(records, 0, len(REPORTS)), Sharer()) is records
    assert pack(REPORTS, Sharer()) == REPORTS


def test_not_in_gives_what_does_not_lie_in_the_same_place_of_the_other() -> None:
    records = _records()
    new = make_report("A new report", report_id="new", paragraphs=("The ferry was cancelled.",))
    before = joined([records_cut(records, 0, 2), records_cut(records, 3, 6)])
    after = joined([records_cut(records, 0, 4), (new,), records_cut(records, 5, 6)])
    assert list(not_in(after, before)) == [REPORTS[2], new]
    assert records.made == 1  # only the one compared
    assert list(not_in(after, records)) == [new]
    assert list(not_in(records, after)) == [REPORTS[4]]
    assert list(not_in(REPORTS, records)) == list(REPORTS)  # a tuple's records are compared


def test_a_reload_after_a_restart_makes_no_report_it_does_not_read(
    seeds_and_notes: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    Library.open(seeds_and_notes, cache_dir=cache, watch=None, settle_seconds=0).close()
    library = Library.open(seeds_and_notes, cache_dir=cache, watch=None, settle_seconds=0)
    loaded = library.engine.reports
    assert isinstance(loaded, Records) and loaded.made == 0
    (seeds_and_notes / "note9.md").write_text(
        "---\ntitle: Ferry\ndate: 2024-03-09\n---\nThe ferry to the island was cancelled.\n",
        encoding="utf-8",
    )
    change = library.refresh()
    assert change is not None and [r.id for r in change.added] == ["note9"]
    assert loaded.made == 0, "the reload made every cached report"
    assert library.engine.reports == SearchEngine.from_path(seeds_and_notes).reports
    hits = library.engine.search("What happened to the ferry?")
    assert hits and hits[0].report.id == "note9"
    library.close()
