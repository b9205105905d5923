"""`SearchEngine.search` step by step, with a clock around each step (for bench_question).

`staged_search` makes the very calls `retrieval.search.SearchEngine.search` makes, in
its order, on the engine's own parts, and `retrieval.hits.make_hits`' loop inside it,
so that each step can be timed on its own.  The benchmark checks that it returns
exactly the hits `engine.search` returns for every question it times: when search.py
or hits.py change, that check fails until this copy is brought up to date, so the
breakdown never drifts from the real code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from retrieval import answering, rerank, speakers
from retrieval.answer_types import question_kind, without_question_words
from retrieval.hits import best_sentence, distinct_windows
from retrieval.models import Hit
from retrieval.passages import widen
from retrieval.scorer import idf_of
from retrieval.search import SearchEngine

# In the order search runs them; make_hits' own steps are indented in the tables.
STAGES: tuple[str, ...] = (
    "question language",
    "analyze the question",
    "spelling",
    "BM25 first stage (passage top-k)",
    "report-level BM25",
    "building candidates",
    "query (idf, answer kind)",
    "rerank.rank",
    "speaker filter",
    "not-found rule",
    "make_hits: distinct windows",
    "make_hits: best sentence",
    "make_hits: widen",
    "make_hits: hit records",
    "attributed speakers",
)


class Laps:
    """Seconds spent in each stage of one question, each lap ending where the next begins."""

    __slots__ = ("_clock", "_last", "times")

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.times: dict[str, float] = {}
        self._last = clock()

    def lap(self, stage: str) -> None:
        now = self._clock()
        self.times[stage] = self.times.get(stage, 0.0) + now - self._last
        self._last = now


def staged_search(
    engine: SearchEngine,
    question: str,
    top: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[Hit], Laps]:
    """`engine.search(question, top)` (without `within`), each step timed by `clock`."""
    laps = Laps(clock)
    # The benchmark's archives are in one language: search tries only the first.
    languages = engine.question_languages(question).search
    laps.lap("question language")
    if not languages:
        return [], laps
    analyzer = engine._analyzer.for_language(languages[0])
    terms = analyzer.tokens(without_question_words(question, analyzer.language))
    terms = terms or analyzer.tokens(question)
    terms = [t for t in terms if t not in answering._ASKING_WORDS] or terms
    spelling = None
    if terms:
        laps.lap("analyze the question")
        spelling = engine._spelling
        if spelling is not None:
            terms = spelling.correct(terms)
        laps.lap("spelling")
    else:
        terms = analyzer.query_tokens(question)
        laps.lap("analyze the question")
    corpus = engine._corpus
    if not terms or top <= 0 or not corpus.passages:
        return [], laps
    indices, scores = engine._first_stage(terms, None)
    laps.lap("BM25 first stage (passage top-k)")
    if len(indices) == 0:
        return [], laps
    # The scores make_candidates asks for (its candidates' reports, in order), timed apart.
    reports = corpus.passage_reports
    found = engine._report_scorer.scores_of(terms, [reports[i] for i in indices.tolist()])
    laps.lap("report-level BM25")
    candidates = answering.make_candidates((indices, scores), corpus, lambda _: found)
    laps.lap("building candidates")
    query = rerank.Query(
        text=question,
        terms=tuple(terms),
        idf=idf_of(engine._scorer, terms),
        n_docs=engine._scorer.n_docs,
        kind=question_kind(question, analyzer.language),
        forward=engine._forward,
    )
    settings = engine.settings.rerank
    laps.lap("query (idf, answer kind)")
    ranked = rerank.rank(query, candidates, settings)
    laps.lap("rerank.rank")
    # Lazy, as in answering.answer: what it tests is timed in the stages that read it.
    shown = answering.where_asked_speaks(question, ranked)
    laps.lap("speaker filter")
    if not shown or rerank.is_not_found(query, shown, settings):
        laps.lap("not-found rule")
        return [], laps
    laps.lap("not-found rule")
    hits = _staged_hits(engine, query, shown, top, laps)
    hits = speakers.attributed(question, hits)
    laps.lap("attributed speakers")
    return hits, laps


def _staged_hits(
    engine: SearchEngine,
    query: rerank.Query,
    ranked: Sequence[rerank.Scored],
    top: int,
    laps: Laps,
) -> list[Hit]:
    """retrieval.hits.make_hits, each of its steps timed."""
    settings = engine.settings.rerank
    reports = engine._reports_by_id
    hits: list[Hit] = []
    distinct = distinct_windows(ranked, settings.shared_sentences, top)
    laps.lap("make_hits: distinct windows")
    for rank, scored in enumerate(distinct, start=1):
        passage = scored.candidate.passage
        report = reports[passage.report_id]
        laps.lap("make_hits: hit records")
        best = best_sentence(query, scored, engine._analyzer)
        laps.lap("make_hits: best sentence")
        if settings.widen_quotes:
            passage = widen(passage, report)
        laps.lap("make_hits: widen")
        hits.append(
            Hit(rank=rank, score=scored.score, passage=passage, report=report, best_sentence=best)
        )
        laps.lap("make_hits: hit records")
    return hits
