"""The search engine: reports in, ranked hits out.

Stage one is BM25Okapi over passages (exactly rank-bm25's scores, via `retrieval.bm25`).
Stage two (`retrieval.rerank`) reorders the best candidates with cheap features, among
them a second BM25 index over whole reports, and decides when the evidence is too weak
to quote anything.  With a semantic stage (`with_semantic`) whose vectors are ready, the
nearest windows by meaning join the candidates and `retrieval.semantic_rank` orders them
and decides "not found".  This module only wires the stages together and keeps the
built indexes: what is indexed comes from `retrieval.corpus`, the hits from
`retrieval.answering`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, partial
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval import corpus_pool, languages
from retrieval.analyzer import Analyzer, AnalyzerSettings
from retrieval.answering import Question, answer, answer_semantic, first_stage_among, question_terms
from retrieval.bm25 import BACKENDS, FastBM25, build_report_scorer, build_scorers
from retrieval.bm25_forward import ForwardBM25
from retrieval.cache_stamps import CacheCheck
from retrieval.corpus import Corpus, CorpusPart, merge_parts, split_parts, tokens_of_indexes
from retrieval.corpus_cache import (
    code_version,
    file_signatures,
    pickle_corpus,
    pickle_listing,
    source_id,
    unpickle_corpus,
    unpickle_listing,
)
from retrieval.errors import UnknownBackendError
from retrieval.index_store import CachedIndex, IndexStore, fingerprint
from retrieval.languages import QuestionLanguages
from retrieval.loader import LoadProblem, LoadResult, load_reports
from retrieval.models import Hit, Passage, Report
from retrieval.record_views import Keyed, column
from retrieval.rerank import RerankSettings

if TYPE_CHECKING:
    from retrieval.semantic_stage import SemanticStage
from retrieval.scorer import Floats, Ints, Scorer, idf_of
from retrieval.spelling import SpellingCorrector

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SearchSettings:
    backend: str = "fast"
    analyzer: AnalyzerSettings = field(default_factory=AnalyzerSettings)
    # How many BM25 candidates stage two looks at; more costs time, not quality.
    candidates: int = 100
    rerank: RerankSettings = field(default_factory=RerankSettings)
    build_workers: int = 2  # processes a big build analyzes in, at most (retrieval.corpus_pool)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            known = ", ".join(BACKENDS)
            raise UnknownBackendError(f"unknown backend {self.backend!r}: choose one of {known}")


class SearchEngine:
    """Holds one built index. Immutable after construction, so sharing it across
    threads is safe and a reload simply builds a new engine and swaps it in."""

    def __init__(
        self,
        corpus: Corpus,
        scorer: Scorer,
        analyzer: Analyzer,
        settings: SearchSettings,
        report_scorer: Scorer | None = None,
        semantic: SemanticStage | None = None,
    ) -> None:
        self._semantic = semantic
        self._scorer = scorer
        # The index cache keeps it too (over 100,000 small reports: half a second to build).
        own = report_scorer or build_report_scorer(settings.backend, corpus.report_tokens)
        self._report_scorer = own
        fast = isinstance(scorer, FastBM25) and scorer.n_docs == len(corpus.passages)
        self._forward = scorer.forward if fast and isinstance(scorer, FastBM25) else None
        # The tokens are in the indexes already: kept once, as term ids.
        reports = own.forward if isinstance(own, ForwardBM25) else None
        self._corpus = tokens_of_indexes(corpus, self._forward, reports)
        self._analyzer = analyzer
        self.settings = settings
        languages.warm_up(analyzer.settings.language_model)
        # From the id column: a cached corpus makes its reports only when asked for.
        report_ids = column(corpus.reports, "id")
        self._reports_by_id = Keyed(
            dict(zip(report_ids, range(len(report_ids)), strict=True)), corpus.reports
        )

    # -- construction -----------------------------------------------------

    @classmethod
    def build(
        cls,
        reports: Sequence[Report],
        settings: SearchSettings | None = None,
        problems: Sequence[LoadProblem] = (),
    ) -> SearchEngine:
        settings = settings or SearchSettings()
        analyzer = Analyzer(settings.analyzer)
        corpus = corpus_pool.make_corpus_pooled(reports, analyzer, problems, settings.build_workers)
        tokens = (corpus.passage_tokens, corpus.report_tokens)
        scorer, report_scorer = build_scorers(settings.backend, *tokens)
        return cls(corpus, scorer, analyzer, settings, report_scorer)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        settings: SearchSettings | None = None,
        cache_dir: Path | None = None,
        *,
        follow_outside_links: bool = False,
    ) -> SearchEngine:
        """Load reports from a file or folder and build the index.  With `cache_dir`
        (fast backend only) a previously built index for the very same files and
        analyzer settings is loaded instead of rebuilt.  Symlinks that lead outside
        `path` are skipped unless `follow_outside_links`."""
        settings = settings or SearchSettings()
        root = Path(path)
        if cache_dir is None or settings.backend != "fast":
            loaded = load_reports(root, follow_outside_links=follow_outside_links)
            return cls._build_from_load(loaded, settings)
        signatures = file_signatures(root, follow_outside_links=follow_outside_links)
        cached = cls.from_cache(cache_dir, signatures, settings)
        if cached is not None:
            return cached
        loaded = load_reports(root, follow_outside_links=follow_outside_links)
        engine = cls._build_from_load(loaded, settings)
        source = source_id(root, follow_outside_links, engine._analyzer.fingerprint())
        engine.save_to_cache(cache_dir, signatures, source=source)
        return engine

    @classmethod
    def from_cache(
        cls,
        cache_dir: Path,
        signatures: Sequence[tuple[str, int, int]],
        settings: SearchSettings | None = None,
    ) -> SearchEngine | None:
        """The engine cached for report files with exactly these (path, size, mtime_ns)
        signatures, or None when there is none (or it cannot be used)."""
        settings = settings or SearchSettings()
        if settings.backend != "fast":
            return None
        analyzer = Analyzer(settings.analyzer)
        key = fingerprint(signatures, analyzer.fingerprint(), code_version())
        return cls._from_entry(IndexStore(cache_dir).load(key), key, analyzer, settings)

    @classmethod
    def from_latest_cache(
        cls, cache_dir: Path, source: str, settings: SearchSettings | None = None
    ) -> tuple[SearchEngine, list[tuple[str, int, int]], CacheCheck | None] | None:
        """The newest engine cached for `source` (corpus_cache.source_id) whatever files it
        was built from, their (relative path, size, mtime_ns) for the caller to read again
        what changed since, and the entry's `CachedIndex.check`; None when there is none."""
        settings = settings or SearchSettings()
        if settings.backend != "fast":
            return None
        cached = IndexStore(cache_dir).latest(source)
        if cached is None or cached.listing is None:
            return None
        listing = unpickle_listing(cached.listing)
        if listing is None:
            return None
        engine = cls._from_entry(cached, source, Analyzer(settings.analyzer), settings)
        return None if engine is None else (engine, listing, cached.check)

    @classmethod
    def _from_entry(
        cls, cached: CachedIndex | None, name: str, analyzer: Analyzer, settings: SearchSettings
    ) -> SearchEngine | None:
        if cached is None:
            return None
        corpus = unpickle_corpus(cached.payload)
        indexed = (cached.scorer.n_docs, getattr(cached.report_scorer, "n_docs", -1))
        # The tokens are read from the indexes, so each must hold one document per item.
        if not isinstance(corpus, Corpus) or indexed != (len(corpus.passages), len(corpus.reports)):
            log.warning("cached index %s holds unexpected data; rebuilding", name[:12])
            return None
        log.info("loaded cached index %s (%d passages)", name[:12], len(corpus.passages))
        return cls(corpus, cached.scorer, analyzer, settings, cached.report_scorer)

    @classmethod
    def _build_from_load(cls, loaded: LoadResult, settings: SearchSettings) -> SearchEngine:
        started = time.perf_counter()
        engine = cls.build(loaded.reports, settings, loaded.problems)
        seconds, skipped = time.perf_counter() - started, len(loaded.problems)
        message = "indexed %d reports, %d passages in %.2fs (%d files skipped)"
        log.info(message, len(engine.reports), len(engine.passages), seconds, skipped)
        return engine

    @classmethod
    def from_parts(
        cls,
        parts: Sequence[CorpusPart],
        settings: SearchSettings | None = None,
        problems: Sequence[LoadProblem] = (),
    ) -> SearchEngine:
        """An engine over parts analyzed earlier: only the BM25 indexes are built,
        since their statistics span the whole collection."""
        settings = settings or SearchSettings()
        corpus = merge_parts(parts, problems)
        tokens = (corpus.passage_tokens, corpus.report_tokens)
        scorer, report_scorer = build_scorers(settings.backend, *tokens)
        return cls(corpus, scorer, Analyzer(settings.analyzer), settings, report_scorer)

    def parts(self) -> list[CorpusPart]:
        """This engine's corpus cut into one part per report, in order (for from_parts)."""
        return split_parts(self._corpus)

    def save_to_cache(
        self, cache_dir: Path, signatures: Sequence[tuple[str, int, int]], *, source: str = ""
    ) -> None:
        """Store this engine as the index cache of a folder whose report files have exactly
        these (relative path, size, mtime_ns) signatures, so that `from_path` loads it
        instead of rebuilding (a live library keeps the cache current this way), and
        `from_latest_cache(source)` finds it.  The engine must hold exactly what loading
        those files gives."""
        if not isinstance(self._scorer, FastBM25):
            return
        key = fingerprint(signatures, self._analyzer.fingerprint(), code_version())
        reports = self._report_scorer if isinstance(self._report_scorer, ForwardBM25) else None
        corpus, listing = pickle_corpus(self._corpus), pickle_listing(signatures)
        store = IndexStore(cache_dir)
        store.save(key, self._scorer, corpus, report_scorer=reports, listing=listing, source=source)

    def with_rerank(self, settings: RerankSettings) -> SearchEngine:
        """The same indexes ranked with other stage-two settings (for comparing variants)."""
        return self._copy(replace(self.settings, rerank=settings), self._semantic)

    def with_semantic(self, stage: SemanticStage | None) -> SearchEngine:
        """The same indexes, with the semantic stage once `stage` has embedded this corpus
        (None: BM25 and stage two alone)."""
        return self._copy(self.settings, stage)

    def _copy(self, settings: SearchSettings, stage: SemanticStage | None) -> SearchEngine:
        engine = copy.copy(self)  # what is made of the corpus is shared, not made again
        if settings.rerank.spelling != self.settings.rerank.spelling:
            engine.__dict__.pop("_spelling", None)  # the one made under other limits
        engine.settings, engine._semantic = settings, stage
        return engine

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    @property
    def semantic_ready(self) -> bool:
        return self._semantic is not None and self._semantic.index_for(self._corpus) is not None

    # -- what the engine knows ---------------------------------------------

    @property
    def reports(self) -> Sequence[Report]:
        return self._corpus.reports

    @property
    def passages(self) -> Sequence[Passage]:
        return self._corpus.passages

    @property
    def problems(self) -> tuple[LoadProblem, ...]:
        return self._corpus.problems

    def report(self, report_id: str) -> Report | None:
        return self._reports_by_id.get(report_id)

    def latest(self, n: int = 5) -> list[Report]:
        return [self._corpus.reports[i] for i in self._latest[: max(n, 0)]]

    def newest_date(self) -> datetime | None:
        return self._corpus.reports[self._latest[0]].published if self._latest else None

    def example_questions(self, n: int = 2) -> list[str]:
        """Questions a newcomer can try, made from the newest reports: only questions
        the engine really answers (a "not found" example would teach the wrong thing)."""
        candidates: list[str] = []
        for report in self.latest(20):
            speakers = dict.fromkeys(p.speaker for p in self._passages_of(report.id) if p.speaker)
            candidates.extend(f"What did {speaker} say?" for speaker in speakers)
            candidates.append(f"What about {report.title}?")
        fine = (q for q in dict.fromkeys(candidates) if self.search(q, top=1))
        return list(islice(fine, n))

    @cached_property
    def _latest(self) -> list[int]:
        """Report indices, newest first (ties: the greater id first)."""
        # On first use, not at start-up: sorting 100,000 reports is a tenth of a second.
        reports = self._corpus.reports
        keys = list(zip(column(reports, "published"), column(reports, "id"), strict=True))
        return sorted(range(len(keys)), key=keys.__getitem__, reverse=True)

    def _passages_of(self, report_id: str) -> list[Passage]:
        return [self._corpus.passages[i] for i in self._passage_ids.get(report_id, ())]

    # -- searching ----------------------------------------------------------

    def search(
        self, question: str, top: int = 5, within: Collection[str] | None = None
    ) -> list[Hit]:
        """The best passages for `question`, best first; [] means not found.

        `within` (report ids) keeps only those reports' passages as candidates,
        scored with the whole collection's statistics: "does this new report
        answer the question?" gets the same answer the full search would give.

        A question is looked for in reports of its own language only
        (`question_languages`): in each plausible one, the likeliest first.
        """
        for language in self.question_languages(question).search:
            hits = self._search_in(self._analyzer.for_language(language), question, top, within)
            if hits:
                return hits
        return []

    def question_languages(self, question: str) -> QuestionLanguages:
        """The reports' languages `question` is looked for in, and the language it is
        surely in when no report is (`missing`: the bot says so)."""
        return self._analyzer.question_languages(question, self._languages.keys())

    @cached_property
    def _languages(self) -> dict[str, int]:
        default = self._analyzer.default_language
        codes = column(self._corpus.reports, "language")
        return dict(Counter(code or default for code in codes).most_common())

    def languages(self) -> dict[str, int]:
        """How many reports there are in each language, the most first."""
        return dict(self._languages)

    def _search_in(
        self, analyzer: Analyzer, question: str, top: int, within: Collection[str] | None
    ) -> list[Hit]:
        terms = question_terms(question, analyzer, self._spelling)
        if not terms or top <= 0 or not self._corpus.passages:
            return []
        indices, scores = self._first_stage(terms, within)
        idf, n_docs = idf_of(self._scorer, terms), self._scorer.n_docs  # forward: for stage two
        asked = Question(question, tuple(terms), idf, n_docs, self._forward)
        report_scores = partial(self._report_scorer.scores_of, terms)
        # "Does this new report answer?" (within) stays lexical: pushes do not wait for vectors.
        stage = self._semantic if within is None else None
        dense = stage.dense(self._corpus, analyzer.language, question) if stage else None
        if dense is not None:
            return answer_semantic(
                asked, (indices, scores), dense, lambda ids: self._scorer.get_scores(terms)[ids],
                self._corpus, report_scores, self._reports_by_id, analyzer, self.settings.rerank,
                top,
            )  # fmt: skip
        if len(indices) == 0:
            return []
        return answer(
            asked, (indices, scores), self._corpus, report_scores, self._reports_by_id,
            analyzer, self.settings.rerank, top,
        )  # fmt: skip

    def _first_stage(
        self, terms: Sequence[str], within: Collection[str] | None
    ) -> tuple[Ints, Floats]:
        if within is None:
            return self._scorer.top_k(terms, self.settings.candidates)
        ids = (i for report_id in within for i in self._passage_ids.get(report_id, ()))
        return first_stage_among(
            terms, ids, self._corpus.passage_tokens, self._scorer, self.settings.candidates
        )

    @cached_property
    def _passage_ids(self) -> dict[str, list[int]]:
        report_ids = column(self._corpus.reports, "id")
        ids: dict[str, list[int]] = {}
        for index, report in enumerate(self._corpus.passage_reports):
            ids.setdefault(report_ids[report], []).append(index)
        return ids

    @cached_property
    def _spelling(self) -> SpellingCorrector | None:
        limits = self.settings.rerank.spelling
        if limits is None:
            return None
        # The passages' own terms, so both backends correct to the same words; a lower
        # idf means more passages use the term.
        known = self._scorer.vocabulary()
        return SpellingCorrector(known, lambda term: -self._scorer.term_idf(term), limits)
