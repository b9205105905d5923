"""Stage two and the hits: the first stage's candidates for a question reranked
(`retrieval.rerank`), kept to where the person asked about speaks, judged found or
not, and turned into `Hit` records.  Pure: `SearchEngine.search` hands it what the
indexes gave."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval import rerank, speakers
from retrieval.analyzer import Analyzer
from retrieval.answer_types import question_kind
from retrieval.corpus import Corpus
from retrieval.hits import make_hits
from retrieval.models import Hit, Report
from retrieval.rerank import RerankSettings
from retrieval.scorer import Floats, Ints, Scorer, best_of


@dataclass(frozen=True, slots=True)
class Question:
    """A question as the indexes see it: its text, its terms and their idf."""

    text: str
    terms: tuple[str, ...]
    idf: dict[str, float]
    n_docs: int


def answer(
    question: Question,
    first_stage: tuple[Ints, Floats],
    corpus: Corpus,
    report_scores: Floats,
    reports_by_id: Mapping[str, Report],
    analyzer: Analyzer,
    settings: RerankSettings,
    top: int,
) -> list[Hit]:
    """The best `top` hits among the first stage's (passage indices, BM25 scores), best
    first; [] when the evidence is too weak to quote anything."""
    indices, scores = first_stage
    candidates = [
        rerank.Candidate(
            index=int(i),
            bm25=float(s),
            passage=corpus.passages[int(i)],
            tokens=corpus.passage_tokens[int(i)],
            profile=corpus.profiles[int(i)],
            report_score=float(report_scores[corpus.passage_reports[int(i)]]),
        )
        for i, s in zip(indices, scores, strict=True)
    ]
    query = rerank.Query(
        text=question.text,
        terms=question.terms,
        idf=question.idf,
        n_docs=question.n_docs,
        kind=question_kind(question.text, analyzer.language),
    )
    ranked = rerank.rank(query, candidates, settings)
    # "What did X say?" is answered from a passage where X speaks, or not at all.
    speaking = speakers.only_where_speaks(question.text, ranked, lambda r: r.candidate.passage)
    ranked = ranked if speaking is None else speaking
    if not ranked or rerank.is_not_found(query, ranked, settings):
        return []
    hits = make_hits(query, ranked, top, reports_by_id, analyzer, settings)
    return speakers.attributed(question.text, hits)


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
