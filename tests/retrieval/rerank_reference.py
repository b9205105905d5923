"""Stage two's ranking as it was before it was made faster (retrieval/rerank.py and
retrieval/rerank_match.py, issue 14): each candidate's tokens scanned once per feature,
shares summed over dicts and sets.  test_rerank_exact.py checks that the fast `rank`
gives exactly what this gives; keep it as it is (but for its shares, added one by one
as Python 3.11's `sum` adds them, on every Python)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.answer_types import NO_CUES
from retrieval.rerank import Candidate, Query, RerankSettings, Scored
from retrieval.rerank_match import added_in_order


def rank(
    query: Query, candidates: Sequence[Candidate], settings: RerankSettings | None = None
) -> list[Scored]:
    """Candidates scored by stage two, best first (ties keep BM25's order)."""
    settings = settings or RerankSettings()
    if not candidates:
        return []
    top_bm25 = max(c.bm25 for c in candidates) or 1.0
    top_report = max(c.report_score for c in candidates) or 1.0
    scored = []
    for candidate in candidates:
        match = _match(query, candidate, settings)
        score = (
            settings.passage_weight * candidate.bm25 / top_bm25
            + settings.report_weight * candidate.report_score / top_report
            + match.sentence_score
            + settings.coverage_weight * match.coverage
            + settings.evidence_weight * match.evidence
        )
        scored.append(Scored(candidate, score, match.best_sentence, match.evidence))
    return sorted(scored, key=lambda s: (-s.score, s.candidate.index))


@dataclass(frozen=True, slots=True)
class _Match:
    """How a passage's sentences match the question."""

    sentence_score: float
    best_sentence: int  # -1 when the passage was scored as one block
    evidence: float  # best share of the question's idf mass in two adjacent sentences
    coverage: float  # share of it anywhere in the passage


def _match(query: Query, candidate: Candidate, settings: RerankSettings) -> _Match:
    profile = candidate.profile
    ends = profile.sentence_ends if profile is not None else ()
    blocks = _matched_per_sentence(query, candidate.tokens, ends)
    total = query.total_weight or 1.0
    weights = query.weights
    evidence_weights = _evidence_weights(query, candidate, settings.single_mention_weight)

    def share(terms: set[str], weights: Mapping[str, float] = weights) -> float:
        # Summed in question order, never in set order: set order follows the
        # per-process string hash, and float sums in another order can differ in
        # the last bit, which would make two runs (or two backends) disagree.
        return added_in_order(w for t, w in weights.items() if t in terms) / total

    coverages = [share(block) for block in blocks]
    evidence = max(
        [share(blocks[0], evidence_weights)]
        + [share(a | b, evidence_weights) for a, b in itertools.pairwise(blocks)]
    )
    cues = profile.cues if profile is not None else (NO_CUES,)
    first = profile.first_sentence if profile is not None else 0
    wanted = set(query.terms)
    has_cue = [
        query.kind is not None and bool(sentence[query.kind] - wanted)
        for sentence in (cues if len(cues) == len(blocks) else (NO_CUES,) * len(blocks))
    ]
    best_score, best = -math.inf, 0
    for j, cover in enumerate(coverages):
        # A cue only counts in a sentence that matches the question: scaling the
        # match keeps a stray number in an unrelated sentence from winning.
        cue = settings.cue_weight * has_cue[j] + (
            settings.next_cue_weight * has_cue[j + 1] if j + 1 < len(blocks) else 0.0
        )
        score = settings.sentence_weight * cover * (1.0 + cue) + settings.lead_weight * _lead(
            first + j
        )
        if score > best_score:
            best_score, best = score, j
    return _Match(
        sentence_score=best_score,
        best_sentence=best if ends else -1,
        evidence=evidence,
        coverage=share(set().union(*blocks)),
    )


def _evidence_weights(
    query: Query, candidate: Candidate, single_mention_weight: float
) -> Mapping[str, float]:
    """The query's weights, scaled down for words the passage's report uses only once."""
    if single_mention_weight == 1.0 or candidate.profile is None:
        return query.weights
    recurring = candidate.profile.recurring
    scaled = {term: weight * single_mention_weight for term, weight in query.weights.items()}
    for position, token in enumerate(candidate.tokens):
        if token in scaled and recurring >> position & 1:
            scaled[token] = query.weights[token]
    return scaled


def _lead(ordinal: int) -> float:
    """Lead bonus of the sentence at `ordinal` in its report: 1 for the first, fading."""
    return 1.0 / (1.0 + math.log1p(ordinal))


def _matched_per_sentence(
    query: Query, tokens: Sequence[str], ends: Sequence[int]
) -> list[set[str]]:
    """The query terms found in each sentence (one block when `ends` is empty)."""
    weights = query.weights
    if not ends:
        return [{t for t in tokens if t in weights}]
    blocks: list[set[str]] = [set() for _ in ends]
    sentence = 0
    for position, token in enumerate(tokens):
        if token in weights:
            while position >= ends[sentence]:
                sentence += 1
            blocks[sentence].add(token)
    return blocks
