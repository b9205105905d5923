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

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from retrieval.analyzer import Analyzer
from retrieval.answer_types import NO_CUES, AnswerKind, Cues, sentence_cues
from retrieval.models import Passage, Report
from retrieval.records import maker
from retrieval.rerank_match import Matcher
from retrieval.spelling import DEFAULT_LIMITS, SpellingLimits

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


@dataclass(frozen=True, slots=True)
class PassageProfile:
    """What stage two needs of a passage beyond its tokens, worked out at index time.

    `sentence_ends[j]` is the token offset where sentence j of the passage ends;
    it is empty when the tokens could not be lined up with the sentences, and
    the passage is then scored as one block.
    """

    sentence_ends: tuple[int, ...]
    # Ordinal of the passage's first sentence in its report (0 = the lead).
    first_sentence: int
    cues: tuple[Cues, ...]
    # Bit p is set when the passage's token p occurs more than once in its report.
    recurring: int = 0


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


def profile_passages(
    passages: Sequence[Passage], tokens: Sequence[Sequence[str]], analyzer: Analyzer
) -> tuple[PassageProfile, ...]:
    """A profile for each passage; `passages` in report order, as make_passages gives them."""
    profiles: list[PassageProfile] = []
    pairs = list(zip(passages, tokens, strict=True))
    word_terms: dict[str, list[str]] = {}
    for _, group in itertools.groupby(pairs, key=lambda pair: pair[0].report_id):
        pairs_of_report = list(group)
        sentences = analyze_sentences((passage for passage, _ in pairs_of_report), analyzer)
        profiles.extend(profile_report(pairs_of_report, sentences, analyzer, word_terms))
    return tuple(profiles)


def analyze_sentences(passages: Iterable[Passage], analyzer: Analyzer) -> dict[str, list[str]]:
    """Each distinct sentence of one report's passages, in order of first appearance,
    and its tokens (windows overlap: a sentence is analyzed once)."""
    tokens: dict[str, list[str]] = {}
    for passage in passages:
        for sentence in passage.sentences:
            if sentence not in tokens:
                tokens[sentence] = analyzer.tokens(sentence)
    return tokens


def profile_report(
    pairs: Sequence[tuple[Passage, Sequence[str]]],
    sentence_tokens: Mapping[str, Sequence[str]],
    analyzer: Analyzer,
    word_terms: dict[str, list[str]],
) -> list[PassageProfile]:
    """Profiles of one report's passages, with `analyze_sentences` of them.

    The report's sentences are counted once each, in order of first appearance;
    `word_terms` is sentence_cues' memo, shared by the reports of one build.
    """
    cues_of: dict[str, Cues] = {}
    ordinals = {sentence: i for i, sentence in enumerate(sentence_tokens)}
    counts = Counter(itertools.chain.from_iterable(sentence_tokens.values()))
    # Each token's bit of `recurring`, as a digit; a token the sentences lack has 0.
    bit_of = {token: "1" if count > 1 else "0" for token, count in counts.items()}
    profiles = []
    for passage, passage_tokens in pairs:
        first = ordinals[passage.sentences[0]] if passage.sentences else 0
        recurring = _recurring(passage_tokens, bit_of)
        lengths = map(len, map(sentence_tokens.__getitem__, passage.sentences))
        ends = list(itertools.accumulate(lengths))
        if not ends or ends[-1] != len(passage_tokens):
            cues = sentence_cues(passage.text, analyzer, word_terms)
            profiles.append(PassageProfile((), first, (cues,), recurring))
            continue
        for sentence in passage.sentences:
            if sentence not in cues_of:
                cues_of[sentence] = sentence_cues(sentence, analyzer, word_terms)
        cues_each = tuple(cues_of[sentence] for sentence in passage.sentences)
        profiles.append(PassageProfile(tuple(ends), first, cues_each, recurring))
    return profiles


def _recurring(tokens: Sequence[str], bit_of: Mapping[str, str]) -> int:
    """Bit p set when token p occurs more than once in the report."""
    # Read as a binary numeral, the last token's bit first: one int() instead of a
    # big integer added to once per token.
    bits = "".join(map(bit_of.get, reversed(tokens), itertools.repeat("0")))
    return int(bits, 2) if bits else 0


def rank(
    query: Query, candidates: Sequence[Candidate], settings: RerankSettings | None = None
) -> list[Scored]:
    """Candidates scored by stage two, best first (ties keep BM25's order)."""
    settings = settings or RerankSettings()
    if not candidates:
        return []
    top_bm25 = max(c.bm25 for c in candidates) or 1.0
    top_report = max(c.report_score for c in candidates) or 1.0
    match = Matcher(
        query.weights,
        query.total_weight,
        query.terms,
        query.kind,
        sentence_weight=settings.sentence_weight,
        cue_weight=settings.cue_weight,
        next_cue_weight=settings.next_cue_weight,
        lead_weight=settings.lead_weight,
        single_mention_weight=settings.single_mention_weight,
    ).match
    passage_weight, report_weight = settings.passage_weight, settings.report_weight
    coverage_weight, evidence_weight = settings.coverage_weight, settings.evidence_weight
    scored = []
    for candidate in candidates:
        profile = candidate.profile
        if profile is None:
            found = match(candidate.tokens, (), 0, _ONE_BLOCK, None)
        else:
            found = match(
                candidate.tokens,
                profile.sentence_ends,
                profile.first_sentence,
                profile.cues,
                profile.recurring,
            )
        sentence_score, best_sentence, evidence, covered = found
        score = (
            passage_weight * candidate.bm25 / top_bm25
            + report_weight * candidate.report_score / top_report
            + sentence_score
            + coverage_weight * covered
            + evidence_weight * evidence
        )
        scored.append(_make_scored(candidate, score, best_sentence, evidence))
    return sorted(scored, key=lambda s: (-s.score, s.candidate.index))


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
