"""Analysis shared with worker processes builds what analysis in this process builds,
record for record and in the same order; a worker that fails costs only time.

The workers are forced on (two processes: this one and a worker; any batch size), so
that these tests run them on any machine, and each test checks who did the work.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks.corpus import CorpusSpec, generate
from bot.config import PROJECT_SEEDS
from retrieval import corpus_pool
from retrieval.analyzer import Analyzer
from retrieval.corpus import make_corpus
from retrieval.corpus_rows import pack, unpack
from retrieval.forward_tokens import ForwardTokens
from retrieval.library import Library
from retrieval.loader import LoadProblem, load_reports
from retrieval.models import Report
from retrieval.search import SearchSettings

BROKEN = "---\ntitle: [unclosed\n---\nbody\n"


def _exit_worker(task: object) -> object:
    """A worker's task that kills the worker, as the kernel's OOM killer would."""
    os._exit(3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated archive, plus the seed report and a file the loader cannot read."""
    out = tmp_path_factory.mktemp("pool") / "corpus"
    root = generate(CorpusSpec(passages=1200, questions=10), out).reports_dir
    shutil.copy(PROJECT_SEEDS / "000_cd10308accc684f1.txt", root / "seed.txt")
    (root / "broken.md").write_text(BROKEN, encoding="utf-8")
    return root


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The workers on for any batch; for each chunk, whether a worker did it."""
    monkeypatch.setattr(corpus_pool, "pool_size", lambda workers: min(workers, 2))
    monkeypatch.setattr(corpus_pool, "MIN_POOL_CHARS", 0)
    by_worker: list[bool] = []
    take = corpus_pool._Shared.take

    def counting(self: corpus_pool._Shared[Any, Any], index: int) -> Any:
        got = take(self, index)
        by_worker.append(got is not None)
        return got

    monkeypatch.setattr(corpus_pool._Shared, "take", counting)
    return by_worker


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process waits for the worker instead of doing a chunk itself: the worker
    does them all (without this, how they share depends on how fast each is)."""
    take = corpus_pool._Shared.take

    def waiting(self: corpus_pool._Shared[Any, Any], index: int) -> Any:
        future = self._futures.get(index)
        if future is not None:
            concurrent.futures.wait([future])
        return take(self, index)

    monkeypatch.setattr(corpus_pool._Shared, "take", waiting)


def reports_of(folder: Path) -> tuple[list[Report], tuple[LoadProblem, ...]]:
    loaded = load_reports(folder)
    return list(loaded.reports), loaded.problems


@pytest.mark.usefixtures("patient")
def test_a_build_by_a_worker_is_the_build_here(folder: Path, forced: list[bool]) -> None:
    reports, problems = reports_of(folder)
    pooled = corpus_pool.make_corpus_pooled(reports, Analyzer(), problems, 2)
    assert len(forced) > 1 and all(forced)  # every chunk came from the worker
    assert pooled == make_corpus(reports, Analyzer(), problems)
    # The worker's tokens came as term ids, which the BM25 build maps without strings.
    segments = getattr(pooled.passage_tokens, "segments", (pooled.passage_tokens,))
    assert all(isinstance(segment, ForwardTokens) for segment in segments)


def test_a_build_shared_with_a_worker_is_the_build_here(folder: Path, forced: list[bool]) -> None:
    reports, problems = reports_of(folder)
    pooled = corpus_pool.make_corpus_pooled(reports, Analyzer(), problems, 2)
    assert len(forced) > 1  # in chunks (however many the worker got to)
    assert pooled == make_corpus(reports, Analyzer(), problems)


@pytest.mark.usefixtures("patient")
def test_a_cold_start_by_a_worker_is_the_cold_start_here(
    folder: Path, forced: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        pooled = Library.open(folder, SearchSettings(build_workers=2), watch=None).engine
    assert len(forced) > 1 and all(forced)
    # What the loader said in the worker is said here, once, as without a worker.
    said = [r for r in caplog.records if "broken.md" in r.getMessage()]
    assert len(said) == 1 and said[0].name == "retrieval.loader"
    plain = Library.open(folder, SearchSettings(build_workers=1), watch=None).engine
    assert pooled.parts() == plain.parts()
    assert pooled.problems == plain.problems and pooled.problems


@pytest.mark.usefixtures("patient")
def test_a_killed_worker_costs_only_time(
    folder: Path,
    forced: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports, problems = reports_of(folder)
    monkeypatch.setattr(corpus_pool, "_analyze_reports", _exit_worker)
    with caplog.at_level(logging.WARNING, logger="retrieval.corpus_pool"):
        pooled = corpus_pool.make_corpus_pooled(reports, Analyzer(), problems, 2)
    assert forced and not any(forced)
    [line] = [r.getMessage() for r in caplog.records if r.name == "retrieval.corpus_pool"]
    assert "this process does the rest" in line
    assert pooled == make_corpus(reports, Analyzer(), problems)


@pytest.mark.usefixtures("patient")
def test_a_cold_start_whose_worker_is_killed_reads_the_files_here(
    folder: Path, forced: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus_pool, "_load_files", _exit_worker)
    pooled = Library.open(folder, SearchSettings(build_workers=2), watch=None).engine
    assert forced and not any(forced)
    plain = Library.open(folder, SearchSettings(build_workers=1), watch=None).engine
    assert pooled.parts() == plain.parts() and pooled.problems == plain.problems


def test_no_worker_processes_at_all(
    folder: Path,
    forced: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no processes here")

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "submit", refuse)
    reports, problems = reports_of(folder)
    with caplog.at_level(logging.WARNING, logger="retrieval.corpus_pool"):
        pooled = corpus_pool.make_corpus_pooled(reports, Analyzer(), problems, 2)
    assert "no processes here" in caplog.text
    assert pooled == make_corpus(reports, Analyzer(), problems)


def test_small_batches_one_worker_and_shared_ids_stay_here(
    folder: Path, forced: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports, _ = reports_of(folder)
    corpus_pool.make_corpus_pooled(reports, Analyzer(), (), 1)
    twice = [*reports[:3], reports[0]]  # an id twice: profiled as one report, never cut
    assert corpus_pool.make_corpus_pooled(twice, Analyzer(), (), 2) == make_corpus(
        twice, Analyzer(), ()
    )
    monkeypatch.setattr(corpus_pool, "MIN_POOL_CHARS", 10**9)
    corpus_pool.make_corpus_pooled(reports, Analyzer(), (), 2)
    assert forced == []


def test_packed_tokens_come_back_as_they_went(folder: Path) -> None:
    reports, _ = reports_of(folder)
    corpus = make_corpus(reports[:5], Analyzer(), ())
    with_empty = type(corpus)(
        reports=corpus.reports,
        passages=corpus.passages,
        passage_tokens=((), *corpus.passage_tokens[1:]),
        problems=(),
        profiles=corpus.profiles,
        passage_reports=corpus.passage_reports,
        report_tokens=corpus.report_tokens,
    )
    for original in (corpus, with_empty, make_corpus((), Analyzer(), ())):
        back = unpack(pack(original, with_reports=True), None)
        assert isinstance(back.passage_tokens, ForwardTokens)
        assert list(back.passage_tokens) == list(original.passage_tokens)
        assert list(back.report_tokens) == list(original.report_tokens)
        assert back == original


def test_pools_are_never_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    assert corpus_pool.pool_size(1) == 1
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    assert corpus_pool.pool_size(64) == 1
