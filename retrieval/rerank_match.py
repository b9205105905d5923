"""How each of stage two's candidates matches the question (`retrieval.rerank.rank`).

A candidate is looked at once: one pass over its tokens finds the ones that are query
terms, and from their positions come, per sentence, the set of query terms it holds (a
bit mask, bit k for the question's k-th distinct term) and which of them the report
uses more than once.  Everything else is worked out from those masks.

The scores are bit-for-bit those of the straightforward per-candidate code this
replaced (tests/retrieval/rerank_reference.py keeps it, and
tests/retrieval/test_rerank_exact.py compares the two): a share of the question's idf
mass is always added in question order (`added_in_order`), over exactly the same weights,
so a mask's share can be worked out once per question and looked up after that.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress, pairwise

from retrieval.answer_types import NO_CUES, AnswerKind, Cues

# (sentence score, best sentence or -1, evidence, coverage) of one candidate.
Match = tuple[float, int, float, float]


def added_in_order(values: Iterable[float]) -> float:
    """The values added one by one from 0.0: `sum` as Python 3.11 adds floats (3.12 adds
    them with compensation), and as the compiled kernel adds them
    (`retrieval.rerank_kernel`), so the two give the same bits on every Python."""
    total = 0.0
    for value in values:
        total += value
    return total


def lead(ordinal: int) -> float:
    """Lead bonus of the sentence at `ordinal` in its report: 1 for the first, fading."""
    return 1.0 / (1.0 + math.log1p(ordinal))


class Matcher:
    """One question's match of candidates; made per question, not shared between threads."""

    __slots__ = (
        "_evidences",
        "_factors",
        "_kind",
        "_lead_weight",
        "_leads",
        "_position",
        "_scaled",
        "_sentence_weight",
        "_shares",
        "_total",
        "_wanted",
        "_weights",
    )

    def __init__(
        self,
        weights: Mapping[str, float],
        total_weight: float,
        terms: Sequence[str],
        kind: AnswerKind | None,
        *,
        sentence_weight: float,
        cue_weight: float,
        next_cue_weight: float,
        lead_weight: float,
        single_mention_weight: float,
    ) -> None:
        # The question's distinct terms in question order, and their weights.
        self._position = {term: k for k, term in enumerate(weights)}
        self._weights = list(weights.values())
        self._scaled = (
            None
            if single_mention_weight == 1.0
            else [weight * single_mention_weight for weight in self._weights]
        )
        self._total = total_weight or 1.0
        self._kind = kind
        self._wanted = set(terms)
        self._sentence_weight = sentence_weight
        self._lead_weight = lead_weight
        # 1 + the cue of a sentence: by whether it holds a cue, and whether the next
        # sentence does (None: there is none), as `cue_weight * has + ...` gives it.
        self._factors = {
            (has, following): 1.0
            + (cue_weight * has + (next_cue_weight * following if following is not None else 0.0))
            for has in (False, True)
            for following in (False, True, None)
        }
        self._shares: dict[int, float] = {}
        self._evidences: dict[tuple[int, int], float] = {}
        self._leads: dict[int, float] = {}

    def _share(self, mask: int) -> float:
        """Share of the question's weight in the terms of `mask`, summed in question order."""
        share = self._shares.get(mask)
        if share is None:
            weights = self._weights
            picked = [weights[k] for k in range(len(weights)) if mask >> k & 1]
            share = self._shares[mask] = added_in_order(picked) / self._total
        return share

    def _evidence(self, mask: int, recurring: int) -> float:
        """As `_share`, a term the report uses once (its bit not in `recurring`) scaled down."""
        scaled = self._scaled
        if scaled is None:
            return self._share(mask)
        key = (mask, recurring & mask)
        share = self._evidences.get(key)
        if share is None:
            weights = self._weights
            picked = [
                weights[k] if recurring >> k & 1 else scaled[k]
                for k in range(len(weights))
                if mask >> k & 1
            ]
            share = self._evidences[key] = added_in_order(picked) / self._total
        return share

    def _lead_term(self, ordinal: int) -> float:
        term = self._leads.get(ordinal)
        if term is None:
            term = self._leads[ordinal] = self._lead_weight * lead(ordinal)
        return term

    def match(
        self,
        tokens: Sequence[str],
        ends: Sequence[int],
        first: int,
        cues: Sequence[Cues],
        recurring: int | None,
    ) -> Match:
        """The match of a passage's tokens whose sentences end at `ends` (empty: one
        block), the first being sentence `first` of its report; `recurring` is the
        profile's bit mask of tokens used more than once, None without a profile."""
        position = self._position
        n = len(ends) if ends else 1
        masks = [0] * n
        # Query terms with an occurrence whose report uses them more than once.
        many = 0
        hits = compress(range(len(tokens)), map(position.__contains__, tokens))
        if ends:
            for p in hits:
                bit = 1 << position[tokens[p]]
                masks[bisect_right(ends, p)] |= bit
                if recurring is not None and recurring >> p & 1:
                    many |= bit
        else:
            for p in hits:
                bit = 1 << position[tokens[p]]
                masks[0] |= bit
                if recurring is not None and recurring >> p & 1:
                    many |= bit
        if recurring is None:
            many = -1  # no profile: every term at its full weight
        evidence_of = self._evidence
        evidence = evidence_of(masks[0], many)
        for a, b in pairwise(masks):
            pair = evidence_of(a | b, many)
            if pair > evidence:
                evidence = pair
        kind = self._kind
        if kind is None:
            has_cue = [False] * n
        else:
            wanted = self._wanted
            sentences = cues if len(cues) == n else (NO_CUES,) * n
            has_cue = [not sentence[kind] <= wanted for sentence in sentences]
        factors = self._factors
        share = self._share
        weight = self._sentence_weight
        best_score, best = -math.inf, 0
        union = 0
        for j, mask in enumerate(masks):
            union |= mask
            following = has_cue[j + 1] if j + 1 < n else None
            score = weight * share(mask) * factors[has_cue[j], following] + self._lead_term(
                first + j
            )
            if score > best_score:
                best_score, best = score, j
        return best_score, (best if ends else -1), evidence, share(union)
