"""Record columns that load fast (retrieval.records) and the engine they load into.

A cached corpus keeps its reports, passages and profiles as rows of values and
makes each record on first use; these tests hold that to "the same as the tuple
of records", and an engine loaded from the cache to "the same as the one built".
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retrieval.corpus import Corpus
from retrieval.corpus_cache import pickle_corpus, unpickle_corpus
from retrieval.library import Library
from retrieval.models import Report
from retrieval.record_views import Keyed, column
from retrieval.records import Fields, Records, Sharer
from retrieval.search import SearchEngine
from retrieval.stored_columns import write_columns
from tests.conftest import make_report

REPORTS = tuple(
    make_report(
        f"Report {n}",
        report_id=f"r{n}",
        paragraphs=(f"The council met on day {n}.", "It agreed on nothing."),
        published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n % 3),
    )
    for n in range(5)
)


def roundtrip(value: object) -> object:
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def test_records_equal_the_tuple_they_were_packed_from_before_and_after_pickling() -> None:
    packed = Records.pack(REPORTS, Sharer())
    assert isinstance(packed, Records)
    loaded = roundtrip(packed)
    assert isinstance(loaded, Records)
    for records in (packed, loaded):
        assert len(records) == len(REPORTS)
        assert records == REPORTS and REPORTS == records  # noqa: SIM300  # both ways round
        assert list(records) == list(REPORTS)
        assert records[1:3] == REPORTS[1:3] and records[::-2] == REPORTS[::-2]
        assert records[-1] == REPORTS[-1]
        assert records != REPORTS[:-1]
    with pytest.raises(IndexError):
        loaded[len(REPORTS)]


def test_a_record_is_made_once_and_kept() -> None:
    records = roundtrip(Records.pack(REPORTS, Sharer()))
    assert isinstance(records, Records)
    assert records[2] is records[2]
    assert type(records[2]) is Report


def test_a_column_is_read_without_the_records() -> None:
    records = Records.pack(REPORTS, Sharer())
    assert column(records, "id") == [r.id for r in REPORTS]
    assert column(REPORTS, "published") == [r.published for r in REPORTS]
    keyed = Keyed({r.id: i for i, r in enumerate(REPORTS)}, records)
    assert keyed["r3"] == REPORTS[3] and keyed.get("nope") is None
    assert "r0" in keyed and list(keyed) == [r.id for r in REPORTS] and len(keyed) == 5


class _RowsOfAnOlderReport:
    """Pickles as what an older Report with two fields would have left in the cache."""

    def __reduce__(self) -> tuple[object, ...]:
        return Records, (Report, (("r1", "A title"),))


def _with_header(payload: bytearray, header: dict[str, object], **columns: object) -> bytearray:
    """`payload` with another header, and `columns` written after its own (they replace
    the header's columns of the same names)."""
    header_at = int.from_bytes(payload[8:16], "little")
    out = bytearray(payload[:header_at])
    specs = write_columns(columns, out)  # type: ignore[arg-type]
    out[8:16] = len(out).to_bytes(8, "little")
    out += pickle.dumps({**header, "columns": {**header["columns"], **specs}})  # type: ignore[dict-item]
    return out


def test_rows_from_another_version_of_a_class_fail_at_load_not_mid_question(
    seeds_engine: SearchEngine,
) -> None:
    with pytest.raises(ValueError, match="fields"):
        Records(Report, (("r1", "A title"),))
    # The cache then treats the payload as unreadable, and the engine is rebuilt.
    payload = pickle_corpus(seeds_engine.corpus)
    header = pickle.loads(payload[int.from_bytes(payload[8:16], "little") :])
    assert unpickle_corpus(payload) is not None
    assert unpickle_corpus(_with_header(payload, header)) is not None
    older_rows = _with_header(payload, header, report_rows=[("r1", "A title")])
    assert unpickle_corpus(older_rows) is None
    header["corpus"] = dataclasses.replace(header["corpus"], reports=_RowsOfAnOlderReport())
    assert unpickle_corpus(_with_header(payload, {**header, "reports_in_columns": False})) is None


def test_fields_given_whole_are_read_without_the_rows() -> None:
    packed = Records.pack(REPORTS, Sharer())
    assert isinstance(packed, Records)
    names = ("id", "published")
    fields = Fields(names, [column(packed, name) for name in names])
    assert "id" in fields and "title" not in fields and list(fields) == list(names)
    with pytest.raises(KeyError):
        fields["title"]

    class Unread(tuple[tuple[object, ...], ...]):
        """Rows that fail when a column is read from them."""

        def __iter__(self) -> Iterator[tuple[object, ...]]:
            raise AssertionError("a whole field was read from the rows")

    whole = Records(Report, Unread(packed.rows), fields)
    assert column(whole, "id") == [r.id for r in REPORTS]
    assert column(whole, "published") == [r.published for r in REPORTS]
    assert whole[3] == REPORTS[3]
    loaded = roundtrip(Records(Report, packed.rows, fields))
    assert isinstance(loaded, Records) and loaded == REPORTS
    assert column(loaded, "id") == [r.id for r in REPORTS]
    short = Records(Report, packed.rows, Fields(("id",), [["r0"]]))
    with pytest.raises(ValueError, match="does not fit"):
        column(short, "id")
    with pytest.raises(ValueError, match="names"):
        Fields(("id", "title"), [["r0"]])


def test_a_cached_corpus_keeps_the_reports_out_of_its_header(
    seeds_engine: SearchEngine,
) -> None:
    # A restart unpickles the header whole: the reports stay in the mapped file until a
    # record is asked for, but for the fields read for all of them at once.
    corpus = seeds_engine.corpus
    payload = pickle_corpus(corpus)
    header_at = int.from_bytes(payload[8:16], "little")
    longest = max((p for r in corpus.reports for p in r.paragraphs), key=len).encode()
    assert longest in payload and longest not in payload[header_at:]
    for report in corpus.reports:
        assert report.title.encode() not in payload[header_at:]
        assert report.id.encode() not in payload[header_at:]
    loaded = unpickle_corpus(payload)
    assert isinstance(loaded, Corpus) and loaded.reports == corpus.reports
    assert loaded.passage_reports == corpus.passage_reports


def test_mixed_or_plain_records_stay_a_tuple() -> None:
    mixed = (*REPORTS[:1], "not a record")
    assert Records.pack(mixed, Sharer()) == mixed
    assert Records.pack((), Sharer()) == ()


def test_sharer_makes_equal_values_one_object_and_passes_unhashable_ones() -> None:
    share = Sharer()
    a, b = "".join(["same", " text"]), "".join(["same", " ", "text"])
    assert a is not b
    assert share(a) is share(b)
    assert share((a, 1)) is share((b, 1))
    listed = ([1], a)
    assert share(listed) == listed


QUESTIONS = (
    "How many refugees have reached camps in Turkey?",
    "What did Ada Brook say?",
    "When did the harbour reopen?",
    "bridgs",  # misspelt: the corrector reads the cached engine's vocabulary
    "how do I bake sourdough bread",
)


def test_an_engine_from_the_cache_serves_exactly_what_the_built_one_does(
    seeds_and_notes: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    built = SearchEngine.from_path(seeds_and_notes, cache_dir=cache)
    cached = SearchEngine.from_path(seeds_and_notes, cache_dir=cache)
    assert isinstance(cached.reports, Records), "the second engine was not loaded from the cache"
    assert cached.reports == built.reports and cached.passages == built.passages
    assert cached.latest(4) == built.latest(4)
    assert cached.newest_date() == built.newest_date()
    assert cached.example_questions(3) == built.example_questions(3)
    for report in built.reports:
        assert cached.report(report.id) == report
    assert cached.report("no such report") is None
    for question in QUESTIONS:
        assert cached.search(question) == built.search(question)
    within = [r.id for r in built.reports[-2:]]
    assert cached.search("harbour", within=within) == built.search("harbour", within=within)
    assert cached.parts() == built.parts()


def test_a_corpus_survives_the_cache_payload_whole(seeds_engine: SearchEngine) -> None:
    corpus = seeds_engine._corpus
    loaded = unpickle_corpus(pickle_corpus(corpus))
    assert isinstance(loaded, Corpus)
    # With the BM25 indexes beside it, which hold the tokens, as an engine loads it.
    engine = SearchEngine(
        loaded, seeds_engine._scorer, seeds_engine._analyzer, seeds_engine.settings,
        seeds_engine._report_scorer,
    )  # fmt: skip
    assert engine.corpus == corpus


def test_a_library_from_the_cache_reloads_a_change_like_a_fresh_one(
    seeds_and_notes: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    Library.open(seeds_and_notes, cache_dir=cache, watch=None, settle_seconds=0).close()
    library = Library.open(seeds_and_notes, cache_dir=cache, watch=None, settle_seconds=0)
    assert isinstance(library.engine.reports, Records)
    (seeds_and_notes / "note2.md").write_text(
        "---\ntitle: Council note 2\ndate: 2024-03-03\n---\n"
        "The ferry to the island was cancelled.\n",
        encoding="utf-8",
    )
    change = library.refresh()
    assert change is not None
    assert [r.id for r in change.updated] == ["note2"] and not change.added and not change.removed
    fresh = SearchEngine.from_path(seeds_and_notes)
    assert library.engine.reports == fresh.reports
    for question in (*QUESTIONS, "What happened to the ferry?"):
        assert library.engine.search(question) == fresh.search(question)
    library.close()
