"""Stage two and the hits: the first stage's candidates for a question reranked
(`retrieval.rerank`), kept to where the person asked about speaks, judged found or
not, and turned into `Hit` records.  Pure: `SearchEngine.search` hands it what the
indexes gave."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

import numpy as np

from retrieval import rerank, semantic_rank, speakers
from retrieval.analyzer import Analyzer
from retrieval.answer_types import question_kind, without_question_words
from retrieval.bm25_build import Forward
from retrieval.corpus import Corpus
from retrieval.forward_tokens import ForwardTokens
from retrieval.hits import make_hits
from retrieval.models import Hit, Passage, Report
from retrieval.records import maker
from retrieval.rerank import RerankSettings
from retrieval.scorer import Floats, Ints, Scorer, best_of
from retrieval.semantic import Vectors
from retrieval.semantic_index import SemanticIndex
from retrieval.semantic_rank import RankerModel
from retrieval.spelling import SpellingCorrector

T = TypeVar("T")

# Candidate's own __init__ costs more than the rest of a candidate's making.
_make_candidate = maker(rerank.Candidate)
# Stems of words that ask about whatever the reports say of a subject, not for a word
# of theirs: "What happened in X?", "What is the news from X?".
_ASKING_WORDS = frozenset({"happen", "news"})
# The report-level BM25 score of each report index given (`Scorer.scores_of`).
ReportScores = Callable[[Sequence[int]], Floats]


@dataclass(frozen=True, slots=True)
class Question:
    """A question as the indexes see it: its text, its terms and their idf."""

    text: str
    terms: tuple[str, ...]
    idf: dict[str, float]
    n_docs: int
    forward: Forward | None = None


def question_terms(
    question: str, analyzer: Analyzer, spelling: SpellingCorrector | None
) -> list[str]:
    """The terms the indexes are asked for (none: nothing to look for)."""
    # "Wie viele Flüchtlinge…?": the words that only ask are not looked for.
    terms = analyzer.tokens(without_question_words(question, analyzer.language))
    terms = terms or analyzer.tokens(question)
    # "What happened in Aleppo?" asks what the reports say of Aleppo: the words
    # that only ask are not looked for (unless nothing else is left).
    terms = [t for t in terms if t not in _ASKING_WORDS] or terms
    if terms and spelling is not None:
        return spelling.correct(terms)
    # Only stopwords: kept as they are, never "corrected".
    return terms or analyzer.query_tokens(question)


def answer(
    question: Question,
    first_stage: tuple[Ints, Floats],
    corpus: Corpus,
    report_scores: ReportScores,
    reports_by_id: Mapping[str, Report],
    analyzer: Analyzer,
    settings: RerankSettings,
    top: int,
) -> list[Hit]:
    """The best `top` hits among the first stage's (passage indices, BM25 scores), best
    first; [] when the evidence is too weak to quote anything."""
    candidates = make_candidates(first_stage, corpus, report_scores)
    query = _query(question, analyzer)
    shown = where_asked_speaks(question.text, rerank.rank(query, candidates, settings))
    if not shown or rerank.is_not_found(query, shown, settings):
        return []
    return _hits(question, query, shown, top, reports_by_id, analyzer, settings)


@dataclass(frozen=True, slots=True)
class Dense:
    """What the semantic stage brings to one question."""

    index: SemanticIndex
    question: Vectors
    model: RankerModel
    # Sees every question's pool before the not-found rule (benchmarks/fit_semantic.py).
    observe: Callable[[rerank.Query, semantic_rank.Pool], None] | None = None


def answer_semantic(
    question: Question,
    first_stage: tuple[Ints, Floats],
    dense: Dense,
    bm25_of: Callable[[Ints], Floats],
    corpus: Corpus,
    report_scores: ReportScores,
    reports_by_id: Mapping[str, Report],
    analyzer: Analyzer,
    settings: RerankSettings,
    top: int,
) -> list[Hit]:
    """As `answer`, with the nearest windows by meaning among the candidates, the
    semantic model's order, and its not-found rule (retrieval.semantic_rank)."""
    indices, scores = first_stage
    cos = semantic_rank.Cosines.of(dense.index, dense.question, dense.model)
    near = semantic_rank.dense_ids(dense.index, cos, dense.model)
    merged = semantic_rank.merge_ids(indices, scores, near, bm25_of)
    query = _query(question, analyzer)
    candidates = make_candidates(merged, corpus, report_scores)
    found = semantic_rank.pool(query, candidates, dense.index, cos, settings)
    if dense.observe is not None:
        dense.observe(query, found)
    if not found.ranked or semantic_rank.is_off_topic(query, found, dense.model, settings):
        return []
    shown = where_asked_speaks(question.text, semantic_rank.reorder(found, dense.model))
    if not shown:
        return []
    return _hits(question, query, shown, top, reports_by_id, analyzer, settings)


def where_asked_speaks(question: str, ranked: Sequence[rerank.Scored]) -> Sequence[rerank.Scored]:
    """ "What did X say?" is answered from a passage where X speaks, or not at all; other
    questions keep every candidate.  Kept lazily: the rule and the hits read only the
    first few."""
    speaks = speakers.speaks_in(question, ranked, _passage_of)
    return ranked if speaks is None else Kept(ranked, speaks)


def _hits(
    question: Question,
    query: rerank.Query,
    shown: Sequence[rerank.Scored],
    top: int,
    reports_by_id: Mapping[str, Report],
    analyzer: Analyzer,
    settings: RerankSettings,
) -> list[Hit]:
    hits = make_hits(query, shown, top, reports_by_id, analyzer, settings)
    return speakers.attributed(question.text, hits)


def _query(question: Question, analyzer: Analyzer) -> rerank.Query:
    return rerank.Query(
        text=question.text,
        terms=question.terms,
        idf=question.idf,
        n_docs=question.n_docs,
        kind=question_kind(question.text, analyzer.language),
        forward=question.forward,
    )


def _passage_of(scored: rerank.Scored) -> Passage:
    return scored.candidate.passage


class Kept(Sequence[T]):
    """The items of `items` that `keep` keeps, in order, each tested only when an item
    at or after it is asked for (the list `[i for i in items if keep(i)]`, lazily)."""

    __slots__ = ("_keep", "_kept", "_rest")

    def __init__(self, items: Iterable[T], keep: Callable[[T], bool]) -> None:
        self._kept: list[T] = []
        self._keep = keep
        self._rest = iter(items)

    def _fill(self, count: int | None) -> list[T]:
        """The kept items, at least `count` of them when there are (all for None)."""
        kept = self._kept
        for item in self._rest:
            if self._keep(item):
                kept.append(item)
                if count is not None and len(kept) >= count:
                    break
        return kept

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            prefix = index.stop if index.stop is not None and index.stop >= 0 else None
            plain = (index.start or 0) >= 0 and (index.step or 1) > 0
            return self._fill(prefix if plain else None)[index]
        return self._fill(index + 1 if index >= 0 else None)[index]

    def __len__(self) -> int:
        return len(self._fill(None))

    def __bool__(self) -> bool:
        return bool(self._fill(1))

    def __iter__(self) -> Iterator[T]:
        position = 0
        while position < len(self._fill(position + 1)):
            yield self._kept[position]
            position += 1


def make_candidates(
    first_stage: tuple[Ints, Floats], corpus: Corpus, report_scores: ReportScores
) -> list[rerank.Candidate]:
    """Stage two's candidates for the first stage's (passage indices, BM25 scores)."""
    indices, scores = first_stage
    ids: list[int] = indices.tolist()
    passages, tokens, profiles = corpus.passages, corpus.passage_tokens, corpus.profiles
    reports = corpus.passage_reports
    # One call for every candidate's report instead of a numpy scalar each.
    report_of: list[float] = report_scores([reports[i] for i in ids]).tolist()
    of_ids = tokens.items(ids) if isinstance(tokens, ForwardTokens) else [tokens[i] for i in ids]
    make = _make_candidate
    return [
        make(i, s, passages[i], t, profiles[i], r)
        for i, s, t, r in zip(ids, scores.tolist(), of_ids, report_of, strict=True)
    ]


def first_stage_among(
    terms: Sequence[str],
    ids: Iterable[int],
    tokens: Sequence[Sequence[str]],
    scorer: Scorer,
    k: int,
) -> tuple[Ints, Floats]:
    """The first stage kept to some passages (`ids`), scored with the whole collection's
    statistics.  As `top_k`: the passages holding at least one query term, whatever
    their score."""
    wanted = set(terms)
    chosen = np.array([i for i in ids if not wanted.isdisjoint(tokens[i])], dtype=np.int64)
    if len(chosen) == 0:
        return chosen, np.zeros(0, dtype=np.float64)
    return best_of(chosen, scorer.get_scores(terms)[chosen], k, positive_only=False)
