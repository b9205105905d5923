"""Stage two: reorder BM25's candidates and decide when nothing answers.

Everything here is pure: it sees the question, the candidates BM25 found
(with what was worked out about each passage at index time) and returns
scores.  A candidate's score adds, each with its weight from `RerankSettings`:

* its passage BM25, divided by the best candidate's;
* its report's BM25 over the whole report text, divided by the best
  candidate report's ("fusion": a question is usually about one report, and
  the whole report says more about the topic than one window of it);
* its best sentence: the share of the question's idf mass in that sentence,
  raised when the sentence (or the one after it) holds a word of the kind
  the question asks for (`retrieval.answer_types`), plus a lead bonus that
  fades with the sentence's place in its report (news puts the key facts
  first);
* the share of the question's idf mass in the whole passage, and the best
  share within two adjacent sentences ("evidence").

The not-found rule asks whether one of the best candidates holds enough
evidence.  Each piece is measured in docs/quality.md (bench:
benchmarks/bench_quality.py) before it earns its weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from retrieval.answer_types import NO_CUES, AnswerKind
from retrieval.models import Passage, Report
from retrieval.records import maker
from retrieval.rerank_compiled import Matches, match_compiled
from retrieval.rerank_match import Matcher
from retrieval.rerank_profile import PassageProfile
from retrieval.spelling import DEFAULT_LIMITS, SpellingLimits

if TYPE_CHECKING:
    from retrieval.bm25_build import Forward
    from retrieval.scorer import Floats, Ints

NotFoundRule = Literal["sentences", "passage", "never"]


@dataclass(frozen=True, slots=True)
class RerankSettings:
    """Stage two's knobs; a weight of 0 switches its feature off.

    The defaults are the variant docs/quality.md chose; the benchmark builds
    the other variants from these fields.
    """

    passage_weight: float = 1.0
    report_weight: float = 1.05
    sentence_weight: float = 0.8
    # Multipliers of a sentence's match when it (or the next sentence) holds a cue.
    cue_weight: float = 0.25
    next_cue_weight: float = 0.05
    lead_weight: float = 0.55
    # Share of the question's idf mass anywhere in the passage / within two adjacent
    # sentences (the evidence the not-found rule reads).
    coverage_weight: float = 0.15
    evidence_weight: float = 0.4
    # "sentences": refuse unless one of the `evidence_depth` best candidates holds
    # `min_evidence` of the question's idf mass within two adjacent sentences;
    # "passage": unless the top passage holds it anywhere (the first baseline);
    # "never": always answer.
    not_found: NotFoundRule = "sentences"
    min_evidence: float = 0.42
    evidence_depth: int = 10
    # In the evidence, a word its report uses only once counts this much: a report
    # that names the subject of the question once, in passing, is not about it.
    single_mention_weight: float = 0.75
    # How many sentences a shown window may share with each window of its report
    # shown before it (retrieval.hits.distinct_windows); 0 drops every overlap.
    shared_sentences: int = 1
    # How query terms the index does not know are corrected to a close known term
    # (retrieval.spelling), None for not at all: a typo in a key word otherwise
    # weighs as a rare word no passage holds, and the answer is refused.
    spelling: SpellingLimits | None = DEFAULT_LIMITS
    # Show each hit's window grown by whole neighbouring sentences up to the quote
    # limit (retrieval.passages.widen): indexing still uses the 600-character windows.
    widen_quotes: bool = True


_SHARPNESS = 2.0


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[str, ...]
    # BM25Okapi's idf of each distinct query term the passage index holds (terms it
    # does not hold are left out).
    idf: Mapping[str, float]
    n_docs: int
    kind: AnswerKind | None = None
    # The passage index's tokens as term ids, when it keeps them: stage two then
    # matches candidates in one compiled pass (retrieval.rerank_compiled).
    forward: Forward | None = field(default=None, repr=False, compare=False)
    weights: Mapping[str, float] = field(init=False, repr=False, compare=False)
    total_weight: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = {term: self.weight(term) for term in dict.fromkeys(self.terms)}
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "total_weight", sum(weights.values()))

    def weight(self, term: str) -> float:
        """How much the term counts in the evidence: its idf, made positive.

        BM25Okapi's idf, log((N - n + 0.5) / (n + 0.5)), is 0 or below for a term in
        half the passages or more: in a collection of one or two reports that is
        every term, and nothing could ever be found.  log(1 + e^idf) is Lucene's idf,
        log(1 + (N - n + 0.5) / (n + 0.5)): always above 0, and within 1 % of
        Okapi's for the rare terms that decide answers in a large collection.  A
        term the reports never use weighs as much as their rarest (a term in one
        passage), so a question about something they never mention cannot gather
        enough evidence.
        """
        idf = self.idf.get(term)
        if idf is None:
            return math.log1p((max(self.n_docs - 0.5, 0.0) / 1.5) ** _SHARPNESS) / _SHARPNESS
        return math.log1p(math.exp(_SHARPNESS * idf)) / _SHARPNESS

    @property
    def known_terms(self) -> frozenset[str]:
        return frozenset(self.idf)


@dataclass(frozen=True, slots=True)
class Candidate:
    index: int
    bm25: float
    passage: Passage
    tokens: tuple[str, ...]
    profile: PassageProfile | None = None
    # BM25 of the passage's report in the report-level index.
    report_score: float = 0.0


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float
    # Index into passage.sentences of the sentence that scored best, or -1 when
    # the passage was scored as one block.
    best_sentence: int = -1
    # The largest share of the question's idf mass within two adjacent sentences.
    evidence: float = 0.0


# A frozen record's own __init__ costs more than its scoring (retrieval.records.maker).
_make_scored = maker(Scored)
# The cues of a passage without a profile: it is scored as one block.
_ONE_BLOCK = (NO_CUES,)


def indexed_text(passage: Passage) -> str:
    """The text BM25 indexes for a passage."""
    return passage.text


def report_text(report: Report) -> str:
    """The text the report-level index holds: the title, the caption and the body."""
    return "\n\n".join(part for part in (report.title, report.caption, report.text) if part)


def rank(
    query: Query, candidates: Sequence[Candidate], settings: RerankSettings | None = None
) -> Sequence[Scored]:
    """Candidates scored by stage two, best first (ties keep BM25's order)."""
    settings = settings or RerankSettings()
    if not candidates:
        return []
    found = _matches(query, candidates, settings)
    count = len(candidates)
    bm25 = np.fromiter(map(_BM25, candidates), dtype=np.float64, count=count)
    report = np.fromiter(map(_REPORT_SCORE, candidates), dtype=np.float64, count=count)
    top_bm25 = float(bm25.max()) or 1.0
    top_report = float(report.max()) or 1.0
    # Elementwise, in the order `a * b / c + d * e / f + g + h * i + j * k` reads: the
    # floats the same sum per candidate in Python gives (numpy fuses no operations).
    score = settings.passage_weight * bm25 / top_bm25
    score += settings.report_weight * report / top_report
    score += found.sentence
    score += settings.coverage_weight * found.covered
    score += settings.evidence_weight * found.evidence
    index = np.fromiter(map(_INDEX, candidates), dtype=np.int64, count=count)
    return Ranked(candidates, np.lexsort((index, -score)), score, found)


class Ranked(Sequence[Scored]):
    """`rank`'s answer: each `Scored` record is made when first read, since most
    questions read only the first few (a record costs as much as its match)."""

    __slots__ = ("_best", "_candidates", "_evidence", "_made", "_order", "_scores")

    def __init__(
        self, candidates: Sequence[Candidate], order: Ints, scores: Floats, found: Matches
    ) -> None:
        self._candidates = candidates
        self._order: list[int] = order.tolist()
        self._scores: list[float] = scores.tolist()
        self._best: list[int] = found.best.tolist()
        self._evidence: list[float] = found.evidence.tolist()
        self._made: list[Scored | None] = [None] * len(self._order)

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, at: int) -> Scored: ...

    @overload
    def __getitem__(self, at: slice) -> list[Scored]: ...

    def __getitem__(self, at: int | slice) -> Scored | list[Scored]:
        if isinstance(at, slice):
            return [self._scored(i) for i in range(*at.indices(len(self._order)))]
        return self._scored(range(len(self._order))[at])

    def _scored(self, at: int) -> Scored:
        made = self._made[at]
        if made is None:
            i = self._order[at]
            made = _make_scored(
                self._candidates[i], self._scores[i], self._best[i], self._evidence[i]
            )
            self._made[at] = made
        return made


_BM25 = attrgetter("bm25")
_REPORT_SCORE = attrgetter("report_score")
_INDEX = attrgetter("index")


def _matches(query: Query, candidates: Sequence[Candidate], settings: RerankSettings) -> Matches:
    """Each candidate's match (retrieval.rerank_match): compiled over the forward
    index when there is one and the kernel is ready, else in Python."""
    knobs = {
        "sentence_weight": settings.sentence_weight,
        "cue_weight": settings.cue_weight,
        "next_cue_weight": settings.next_cue_weight,
        "lead_weight": settings.lead_weight,
        "single_mention_weight": settings.single_mention_weight,
    }
    if query.forward is not None:
        compiled = match_compiled(
            query.forward,
            query.weights,
            query.total_weight,
            frozenset(query.terms),
            query.kind,
            candidates,
            **knobs,
        )
        if compiled is not None:
            return compiled
    match = Matcher(query.weights, query.total_weight, query.terms, query.kind, **knobs).match
    found = []
    for candidate in candidates:
        profile = candidate.profile
        if profile is None:
            found.append(match(candidate.tokens, (), 0, _ONE_BLOCK, None))
        else:
            found.append(
                match(
                    candidate.tokens,
                    profile.sentence_ends,
                    profile.first_sentence,
                    profile.cues,
                    profile.recurring,
                )
            )
    sentence, best, evidence, covered = zip(*found, strict=True)
    return Matches(
        np.array(sentence, dtype=np.float64),
        np.array(best, dtype=np.int64),
        np.array(evidence, dtype=np.float64),
        np.array(covered, dtype=np.float64),
    )


def coverage(query: Query, tokens: Sequence[str]) -> float:
    """Share of the question's idf mass that the passage contains."""
    total = query.total_weight
    if total <= 0:
        return 0.0
    present = set(tokens)
    return sum(w for t, w in query.weights.items() if t in present) / total


def is_not_found(
    query: Query, ranked: Sequence[Scored], settings: RerankSettings | None = None
) -> bool:
    settings = settings or RerankSettings()
    if not ranked or not query.known_terms:
        return True
    if settings.not_found == "never":
        return False
    if settings.not_found == "passage":
        return coverage(query, ranked[0].candidate.tokens) < settings.min_evidence
    shown = ranked[: max(settings.evidence_depth, 1)]
    return max(s.evidence for s in shown) < settings.min_evidence
