"""Stage two: reorder BM25's candidates and decide when nothing answers.

Everything here is pure: it sees the question, the candidates BM25 found
and the analyzer, and returns scores.  Each feature is measured in
docs/quality.md before it earns a place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.analyzer import Analyzer
from retrieval.models import Passage, Report

# Below this share of the question's idf mass matched by the best passage we
# refuse to quote: it is the line between "answers it" and "shares a word".
MIN_COVERAGE = 0.5


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[str, ...]
    # idf of each distinct query term in the passage index; 0.0 for unknown terms.
    idf: Mapping[str, float]
    n_docs: int

    def weight(self, term: str) -> float:
        """The term's idf, with unknown terms weighted as the rarest possible:
        a question about something the reports never mention must lose."""
        idf = self.idf.get(term, 0.0)
        if idf == 0.0 and term not in self.known_terms:
            return math.log((self.n_docs + 0.5) / 0.5)
        return max(idf, 0.0)

    @property
    def known_terms(self) -> frozenset[str]:
        return frozenset(t for t, v in self.idf.items() if v != 0.0)


@dataclass(frozen=True, slots=True)
class Candidate:
    index: int
    bm25: float
    passage: Passage
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float


def indexed_text(passage: Passage, report: Report) -> str:
    """The text BM25 indexes for a passage."""
    return passage.text


def rank(query: Query, candidates: Sequence[Candidate], analyzer: Analyzer) -> list[Scored]:
    scored = [Scored(c, c.bm25) for c in candidates]
    return sorted(scored, key=lambda s: (-s.score, s.candidate.index))


def coverage(query: Query, tokens: Sequence[str]) -> float:
    """Share of the question's idf mass that the passage contains."""
    distinct = set(query.terms)
    total = sum(query.weight(t) for t in distinct)
    if total <= 0:
        return 0.0
    present = set(tokens)
    return sum(query.weight(t) for t in distinct if t in present) / total


def is_not_found(query: Query, ranked: Sequence[Scored]) -> bool:
    if not ranked or not query.known_terms:
        return True
    return coverage(query, ranked[0].candidate.tokens) < MIN_COVERAGE


def best_sentence(
    query: Query, passage: Passage, analyzer: Analyzer
) -> tuple[str, tuple[str, ...]]:
    """The sentence holding the most query weight, and the passage's matched words."""
    wanted = set(query.terms)
    best, best_weight = (passage.sentences[0] if passage.sentences else passage.text), -1.0
    for sentence in passage.sentences:
        terms = {term for term, _, _ in analyzer.spans(sentence)} & wanted
        weight = sum(query.weight(t) for t in terms)
        if weight > best_weight:
            best, best_weight = sentence, weight
    matched: list[str] = []
    for term, start, end in analyzer.spans(passage.text):
        word = passage.text[start:end]
        if term in wanted and word not in matched:
            matched.append(word)
    return best, tuple(matched)
