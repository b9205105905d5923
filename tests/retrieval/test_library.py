"""The live collection over a real folder: new, changed and deleted files, files still
being written, reports from outside the folder, and engines merged from parts that
answer exactly like engines built in one go."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import PROJECT_SEEDS
from retrieval import corpus
from retrieval.analyzer import Analyzer
from retrieval.corpus import index_reports
from retrieval.library import Library
from retrieval.loader import load_reports
from retrieval.models import Report
from retrieval.records import Records
from retrieval.search import SearchEngine, SearchSettings
from tests.conftest import make_report
from tests.retrieval.indexed import as_indexed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
QUESTIONS = (
    "How many refugees have entered camps in Turkey?",
    "Who commands the rebels in Aleppo province?",
    "What did Faiz Amr say about the border crossings?",
    "When does the ferry leave?",
    "What about the harbour?",
    "budget",
)
WHEAT = "Wheat harvest\n\nThe national wheat harvest reached 12 million tonnes this year.\n"
PORT = "Terminal reopens\n\nThe Zeebrugge container terminal resumed work after the crane strike.\n"


def write(path: Path, text: str, age_seconds: float = 3600.0) -> Path:
    """Write a finished report file, its mtime `age_seconds` in the past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    moment = datetime.now(UTC).timestamp() - age_seconds
    os.utime(path, (moment, moment))
    return path


def hits_of(engine: SearchEngine, question: str) -> list[tuple[str, float, str]]:
    return [(h.passage.id, round(h.score, 9), h.best_sentence) for h in engine.search(question)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    shutil.copytree(FIXTURES / "good", root)
    shutil.copy(PROJECT_SEEDS / "000_cd10308accc684f1.txt", root / "syria.txt")
    return root


# -- engines from parts ------------------------------------------------------------------


def test_an_engine_from_parts_answers_exactly_like_one_built_at_once(folder: Path) -> None:
    reports = load_reports(folder).reports
    built = SearchEngine.build(reports)
    merged = SearchEngine.from_parts(index_reports(reports, Analyzer()))
    assert merged.reports == built.reports
    assert merged.passages == built.passages
    for question in QUESTIONS:
        assert hits_of(merged, question) == hits_of(built, question), question
    assert merged.latest(10) == built.latest(10)


def test_cutting_an_engine_into_parts_and_merging_them_gives_it_back(folder: Path) -> None:
    built = SearchEngine.build(load_reports(folder).reports)
    parts = built.parts()
    assert [p.reports[0] for p in parts] == list(built.reports)
    again = SearchEngine.from_parts(parts)
    assert again.passages == built.passages
    for question in QUESTIONS:
        assert hits_of(again, question) == hits_of(built, question), question


def test_search_within_some_reports_keeps_to_them(folder: Path) -> None:
    engine = SearchEngine.from_path(folder)
    question = "How many refugees have entered camps in Turkey?"
    [syria] = [r for r in engine.reports if r.title == "Syria Battle"]
    others = [r.id for r in engine.reports if r.id != syria.id]
    inside = engine.search(question, within={syria.id})
    assert inside and {h.report.id for h in inside} == {syria.id}
    assert inside[0].passage == engine.search(question)[0].passage
    # The not-found rule holds within a subset too: the other reports say nothing of it.
    assert engine.search(question, within=others) == []
    assert engine.search(question, within=["no-such-report"]) == []


def test_a_report_listed_among_the_hits_may_still_not_answer_on_its_own() -> None:
    """`within` applies the not-found rule to those reports alone: the Muhu ferry is a
    weak hit for a question about the Hiiumaa ferry, but it does not answer it."""
    texts = {
        "Hiiumaa": "The ferry to Hiiumaa leaves at six.",
        "Saaremaa": "The ferry to Saaremaa leaves at nine.",
        "Muhu": "The ferry to Muhu leaves at noon.",
        "Wheat": "The wheat harvest reached 12 million tonnes.",
    }
    engine = SearchEngine.build(
        [
            make_report(
                name, paragraphs=(text,), report_id=name, published=datetime(2024, 5, 1, tzinfo=UTC)
            )
            for name, text in texts.items()
        ]
    )
    question = "When does the ferry to Hiiumaa leave?"
    assert "Muhu" in {hit.report.id for hit in engine.search(question)}
    assert engine.search(question, within={"Muhu"}) == []
    assert [h.report.id for h in engine.search("ferry leaves", within={"Muhu"})] == ["Muhu"]


# -- the folder ----------------------------------------------------------------------------


def test_first_refresh_loads_everything_and_announces_nothing(folder: Path) -> None:
    library = Library(folder)
    change = library.refresh()
    assert change is not None and change.added == ()
    assert len(change.engine.reports) == len(load_reports(folder).reports)
    assert library.refresh() is None  # nothing changed: the engine stays


def test_a_new_file_is_picked_up_alone_and_announced(folder: Path) -> None:
    library = Library(folder)
    before = library.engine
    write(folder / "farm" / "wheat.txt", WHEAT)
    change = library.refresh()
    assert change is not None
    assert change.files_read == 1
    assert [r.title for r in change.added] == ["Wheat harvest"]
    assert change.engine is library.engine and change.engine is not before
    [hit, *_] = change.engine.search("How big was the wheat harvest?")
    assert hit.report.title == "Wheat harvest"
    # The old engine is untouched: whoever still holds it gets its answers.
    assert before.search("How big was the wheat harvest?") == []


def test_a_changed_file_replaces_its_reports(folder: Path) -> None:
    port = write(folder / "port.txt", PORT)
    library = Library(folder)
    library.refresh()
    write(port, PORT.replace("Zeebrugge", "Antwerp"), age_seconds=1800)
    change = library.refresh()
    assert change is not None and change.added == () and change.files_read == 1
    assert [r.title for r in change.updated] == ["Terminal reopens"]
    [hit, *_] = change.engine.search("Which container terminal resumed work after the strike?")
    assert "Antwerp" in hit.quote
    assert not any("Zeebrugge" in p.text for p in change.engine.passages)


def test_a_deleted_file_is_forgotten(folder: Path) -> None:
    port = write(folder / "port.txt", PORT)
    library = Library(folder)
    assert library.engine.search("Which terminal resumed work after the crane strike?")
    port.unlink()
    change = library.refresh()
    assert change is not None and change.removed == ("port",)
    assert change.engine.search("Which terminal resumed work after the crane strike?") == []
    assert all(r.id != "port" for r in change.engine.latest(50))


def test_a_file_still_being_written_waits_until_it_settles(folder: Path) -> None:
    now = [datetime.now(UTC).timestamp()]
    library = Library(folder, wall_clock=lambda: now[0])
    library.refresh()
    fresh = folder / "wheat.txt"
    fresh.write_text(WHEAT[:20], encoding="utf-8")  # half written, mtime: now
    now[0] = fresh.stat().st_mtime + 0.2
    assert library.refresh() is None
    fresh.write_text(WHEAT, encoding="utf-8")  # the writer finishes
    now[0] = fresh.stat().st_mtime + 0.5
    assert library.refresh() is None
    now[0] = fresh.stat().st_mtime + 1.5
    change = library.refresh()
    assert change is not None and [r.title for r in change.added] == ["Wheat harvest"]
    assert any("12 million tonnes" in p.text for p in change.engine.passages)


def test_a_file_dated_in_the_future_is_read_once_it_stops_changing(folder: Path) -> None:
    ticks = [0.0]
    library = Library(folder, clock=lambda: ticks[0])
    library.refresh()
    ahead = write(folder / "wheat.txt", WHEAT, age_seconds=-86_400)  # a skewed clock
    assert library.refresh() is None
    ticks[0] = 0.5
    assert library.refresh() is None
    ticks[0] = 1.5
    change = library.refresh()
    assert change is not None and [r.path for r in change.added] == [str(ahead)]


@pytest.mark.parametrize(
    "name", [".#wheat.txt", "wheat.txt~", "#wheat.txt#", "wheat.txt.swp", "wheat.tmp", "w.part"]
)
def test_temporary_and_editor_files_are_never_read(folder: Path, name: str) -> None:
    library = Library(folder)
    library.refresh()
    write(folder / name, WHEAT)
    assert library.refresh() is None
    assert library.engine.search("How big was the wheat harvest?") == []


def test_a_file_renamed_into_place_is_read_in_full(folder: Path) -> None:
    library = Library(folder)
    library.refresh()
    partial = write(folder / "wheat.txt.part", WHEAT)
    assert library.refresh() is None
    partial.rename(folder / "wheat.txt")
    change = library.refresh()
    assert change is not None and [r.id for r in change.added] == ["wheat"]


def test_a_duplicate_id_in_another_file_is_skipped_first_one_wins(folder: Path) -> None:
    line = '{"id": "dup-1", "title": "%s", "text": "The %s text about lighthouses."}\n'
    write(folder / "a.jsonl", line % ("First", "first"))
    library = Library(folder)
    library.refresh()
    write(folder / "b.jsonl", line % ("Second", "second"))
    change = library.refresh()
    assert change is not None and change.added == ()
    assert library.engine.report("dup-1") is not None
    assert library.engine.report("dup-1").title == "First"  # type: ignore[union-attr]
    assert any("duplicate report id 'dup-1'" in p.reason for p in library.engine.problems)


def test_an_unreadable_file_is_a_problem_once_not_a_reload_every_scan(folder: Path) -> None:
    library = Library(folder)
    library.refresh()
    write(folder / "broken.md", "---\ntitle: [unclosed\n---\nbody\n")
    change = library.refresh()
    assert change is not None and change.added == ()
    assert any(p.path.endswith("broken.md") for p in change.engine.problems)
    assert library.refresh() is None


@pytest.fixture
def poisoned_indexer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexing a report titled "Poison…" fails, as a bug nobody foresaw would."""
    real = corpus.make_corpus

    def make_corpus(reports: Any, analyzer: Any, problems: Any) -> corpus.Corpus:
        if any(report.title.startswith("Poison") for report in reports):
            raise RecursionError("maximum recursion depth exceeded")
        return real(reports, analyzer, problems)

    monkeypatch.setattr(corpus, "make_corpus", make_corpus)


@pytest.mark.usefixtures("poisoned_indexer")
def test_a_file_that_cannot_be_indexed_is_its_own_problem_and_the_rest_load(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(folder / "poison.txt", "Poison\n\nThis report breaks the indexer.\n")
    library = Library(folder)
    with caplog.at_level("WARNING", logger="retrieval.library"):
        first = library.refresh()
    assert first is not None
    [problem] = [p for p in first.engine.problems if p.path.endswith("poison.txt")]
    assert "RecursionError" in problem.reason and "fix or remove the file" in problem.reason
    assert "poison.txt" in caplog.text
    assert len(first.engine.reports) == len(load_reports(folder).reports) - 1
    # The rescans go on: a new file loads, and another one that breaks is its own problem.
    write(folder / "wheat.txt", WHEAT)
    write(folder / "poison2.txt", "Poison again\n\nThis one breaks it too.\n")
    change = library.refresh()
    assert change is not None and [r.id for r in change.added] == ["wheat"]
    assert any(p.path.endswith("poison2.txt") for p in change.engine.problems)
    assert library.refresh() is None  # a problem once, not a reload every scan


@pytest.mark.usefixtures("poisoned_indexer")
def test_a_report_from_outside_that_cannot_be_indexed_costs_only_itself(folder: Path) -> None:
    library = Library(folder)
    library.refresh()
    bad = make_report("Poison pill", paragraphs=("It breaks.",), report_id="feed-bad")
    library.put_reports([bad, feed_report(7, "Gulls nest on the pier.")])
    change = library.refresh()
    assert change is not None and [r.id for r in change.added] == ["feed-7"]
    assert change.engine.report("feed-bad") is None


def test_a_vanished_reports_folder_keeps_what_was_loaded(folder: Path) -> None:
    library = Library(folder)
    count = len(library.engine.reports)
    shutil.rmtree(folder)
    assert library.refresh() is None
    assert len(library.engine.reports) == count


def test_open_takes_over_the_cached_engine_and_rereads_nothing(
    folder: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    SearchEngine.from_path(folder, cache_dir=cache)  # warm the cache
    library = Library.open(folder, cache_dir=cache)
    assert len(library.engine.reports) == len(load_reports(folder).reports)
    assert library.refresh() is None
    write(folder / "wheat.txt", WHEAT)
    change = library.refresh()
    assert change is not None and change.files_read == 1
    assert [r.id for r in change.added] == ["wheat"]


def test_open_takes_the_newest_cache_and_rereads_only_what_changed_since(
    folder: Path, tmp_path: Path
) -> None:
    port = write(folder / "port.txt", PORT)
    cache = tmp_path / "cache"
    Library.open(folder, cache_dir=cache)  # reads everything and caches it
    write(port, PORT.replace("Zeebrugge", "Antwerp"), age_seconds=1800)  # while it is down
    library = Library.open(folder, cache_dir=cache)
    # It answers at once, from what the cache holds, and then reads the one changed file.
    assert any("Zeebrugge" in p.text for p in library.engine.passages)
    change = library.refresh()
    assert change is not None and change.files_read == 1
    assert [r.id for r in change.updated] == ["port"]
    assert any("Antwerp" in p.text for p in library.engine.passages)
    assert not any("Zeebrugge" in p.text for p in library.engine.passages)
    assert library.engine.reports == as_indexed(load_reports(folder).reports)


def test_a_saved_cache_spares_the_next_start_the_analysis(
    folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    library = Library.open(folder, cache_dir=cache)
    assert not library.cache_stale and library.save_cache(cache) is False
    write(folder / "wheat.txt", WHEAT)
    library.refresh()
    library.put_reports([feed_report(5, "A feed story about tides.")])
    library.refresh()
    assert library.cache_stale
    assert library.save_cache(cache) is True
    assert not library.cache_stale
    with caplog.at_level("INFO", logger="retrieval.search"):
        cached = SearchEngine.from_path(folder, cache_dir=cache)
    assert "loaded cached index" in caplog.text
    # The folder's reports, and not those put in from outside.
    assert cached.reports == as_indexed(load_reports(folder).reports)
    assert cached.report("feed-5") is None
    assert Library.open(folder, cache_dir=cache).refresh() is None


def test_a_file_deleted_after_a_restart_is_gone_at_the_first_refresh(
    folder: Path, tmp_path: Path
) -> None:
    port = write(folder / "port.txt", PORT)
    cache = tmp_path / "cache"
    Library.open(folder, cache_dir=cache).close()
    library = Library.open(folder, cache_dir=cache)  # from the cache, its parts not cut yet
    assert library.engine.report("port") is not None
    port.unlink()
    change = library.refresh()
    assert change is not None and change.removed == ("port",)
    assert library.engine.report("port") is None
    assert library.refresh() is None


def test_after_a_save_the_saved_entry_serves_mapped_as_after_a_restart(
    folder: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    library = Library.open(folder, cache_dir=cache)
    # Even the cold start's own engine is swapped for the entry it saved.
    assert isinstance(library.engine.reports, Records)
    write(folder / "wheat.txt", WHEAT)
    change = library.refresh()
    assert change is not None and not isinstance(change.engine.reports, Records)
    rebuilt = change.engine
    assert library.save_cache(cache)
    mapped = library.engine
    assert mapped is not rebuilt and isinstance(mapped.reports, Records)
    assert mapped.reports == rebuilt.reports and mapped.passages == rebuilt.passages
    for question in QUESTIONS:
        assert hits_of(mapped, question) == hits_of(rebuilt, question)
    # And it goes on like a restarted library: only what changes is read again.
    assert library.refresh() is None
    write(folder / "port.txt", PORT)
    change = library.refresh()
    assert change is not None and change.files_read == 1
    assert [r.id for r in change.added] == ["port"]
    fresh = SearchEngine.build(load_reports(folder).reports)
    for question in (*QUESTIONS, "Which terminal resumed work?"):
        assert hits_of(change.engine, question) == hits_of(fresh, question)


def test_the_engine_stays_when_the_save_is_not_to_be_mapped_or_holds_less(
    folder: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    library = Library.open(folder, cache_dir=cache)
    write(folder / "wheat.txt", WHEAT)
    change = library.refresh()
    assert change is not None
    assert library.save_cache(cache, then_map=False) and library.engine is change.engine
    # Reports from outside are not in the saved entry: it cannot serve in their place.
    library.put_reports([feed_report(5, "A feed story about tides.")])
    write(folder / "port.txt", PORT)
    change = library.refresh()
    assert change is not None and library.save_cache(cache)
    assert library.engine is change.engine and library.engine.report("feed-5") is not None


def test_no_cache_is_saved_while_a_file_waits_to_settle(folder: Path, tmp_path: Path) -> None:
    library = Library(folder)
    library.refresh()
    (folder / "fresh.txt").write_text(WHEAT, encoding="utf-8")  # mtime now: not settled
    assert library.refresh() is None
    assert library.save_cache(tmp_path / "cache") is False


def test_a_single_file_as_root(tmp_path: Path) -> None:
    report = write(tmp_path / "port.txt", PORT)
    library = Library(report)
    assert [r.id for r in library.engine.reports] == ["port"]
    write(report, PORT.replace("Zeebrugge", "Antwerp"), age_seconds=1800)
    change = library.refresh()
    assert change is not None and [r.id for r in change.updated] == ["port"]


# -- reports from outside the folder --------------------------------------------------------


def feed_report(number: int, text: str, published: datetime | None = None) -> Report:
    return make_report(
        f"Feed story {number}",
        paragraphs=(text,),
        report_id=f"feed-{number}",
        published=published or datetime(2030, 1, number, tzinfo=UTC),
        source="Wire",
        url=f"https://example.org/{number}",
    )


# Long enough for its language to be detected: the report indexed is not the one put.
MADRID = "Heavy snow closed the roads and the schools of Madrid on Monday, the city council said."


def test_reports_put_from_outside_are_searchable_newest_first_and_replaceable(
    folder: Path,
) -> None:
    library = Library(folder)
    library.refresh()
    library.put_reports([feed_report(1, "Volcano ash closed the airport of Catania.")])
    change = library.refresh()
    assert change is not None and [r.id for r in change.added] == ["feed-1"]
    assert change.engine.latest(1)[0].id == "feed-1"  # dated 2030: the newest
    assert change.engine.search("Which airport did the volcano ash close?")
    library.put_reports([feed_report(1, "Volcano ash closed the airport of Palermo.")])
    change = library.refresh()
    assert change is not None and [r.id for r in change.updated] == ["feed-1"]
    assert "Palermo" in change.engine.search("Which airport did volcano ash close?")[0].quote
    # Putting the very same report again changes nothing.
    library.put_reports([feed_report(2, MADRID)])
    library.refresh()
    library.put_reports([feed_report(2, MADRID)])
    assert library.refresh() is None


def test_a_quiet_put_is_indexed_but_not_announced(folder: Path) -> None:
    library = Library(folder)
    library.refresh()
    library.put_reports([feed_report(3, "Backlog story on tides.")], announce=False)
    library.put_reports([feed_report(4, "Fresh story on tides.")])
    change = library.refresh()
    assert change is not None and [r.id for r in change.added] == ["feed-4"]
    assert change.engine.report("feed-3") is not None


def test_questions_during_refreshes_always_meet_a_complete_engine(folder: Path) -> None:
    """Readers take the engine reference once and search it while refreshes swap it."""
    library = Library(folder)
    library.refresh()
    question = "How many refugees have entered camps in Turkey?"
    expected = [h.passage.id for h in library.engine.search(question)]
    failures: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            engine = library.engine
            if [h.passage.id for h in engine.search(question)][:1] != expected[:1]:
                failures.append(f"{len(engine.reports)} reports")

    readers = [threading.Thread(target=ask) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for number in range(8):
            write(folder / f"extra{number}.txt", f"Extra {number}\n\nLighthouse keeper {number}.\n")
            assert library.refresh() is not None
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert len(library.engine.reports) == len(load_reports(folder).reports)


def test_settings_reach_the_engines(folder: Path) -> None:
    settings = SearchSettings(candidates=7)
    library = Library(folder, settings)
    assert library.engine.settings.candidates == 7


def test_reports_put_from_outside_can_be_removed_and_the_folder_stays(folder: Path) -> None:
    library = Library(folder)
    first = library.refresh()
    assert first is not None
    folder_ids = {r.id for r in first.engine.reports}
    library.put_reports([feed_report(5, "Tides rose."), feed_report(6, "Tides fell.")])
    library.refresh()
    library.remove_reports(["feed-5", *folder_ids])  # folder reports are not outside ones
    change = library.refresh()
    assert change is not None and change.removed == ("feed-5",)
    assert {r.id for r in change.engine.reports} == folder_ids | {"feed-6"}
    # A put after a removal wins, and a removal of what is not there changes nothing.
    library.remove_reports(["feed-6"])
    library.put_reports([feed_report(6, "Tides fell.")])
    library.remove_reports(["feed-404"])
    assert library.refresh() is None
