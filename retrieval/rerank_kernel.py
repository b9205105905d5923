"""Stage two's match of every candidate at once, compiled (numba): `match_all`.

The very arithmetic of `retrieval.rerank_match.Matcher.match`, over term ids instead
of strings, for all of one question's candidates in one call: the per-candidate
Python it replaces cost ten microseconds a candidate.  Shares of the question's weight
are added one by one in question order from 0.0, as `Matcher` adds them, and every
product and sum is the same float64 operation in the same order, so the results are
bit for bit the same (tests/retrieval/test_rerank_compiled.py).

`retrieval.rerank_compiled` imports this module on first use, in a background thread,
so that nothing else pays for numba; `warm_up()` compiles the kernel or loads it from
numba's on-disk cache.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

F8 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int64]


@numba.njit(cache=True, nogil=True)
def _share(mask: int, weights: F8, total: float) -> float:
    added = 0.0
    for k in range(len(weights)):
        if mask >> k & 1:
            added += weights[k]
    return added / total


@numba.njit(cache=True, nogil=True)
def _evidence(mask: int, many: int, weights: F8, scaled: F8, total: float) -> float:
    """`_share`, with a term whose bit is not in `many` at its scaled weight."""
    added = 0.0
    for k in range(len(weights)):
        if mask >> k & 1:
            added += weights[k] if many >> k & 1 else scaled[k]
    return added / total


@numba.njit(cache=True, nogil=True)
def _lead(leads: F8, weight: float, ordinal: int) -> float:
    if ordinal < len(leads):
        return float(leads[ordinal])
    return weight * (1.0 / (1.0 + math.log1p(ordinal)))


@numba.njit(cache=True, nogil=True)
def match_all(
    token_ids: npt.NDArray[np.int32],
    token_starts: I8,
    docs: I8,
    query_ids: I8,
    packs: npt.NDArray[np.uint16],
    pack_starts: I8,
    kind: int,
    weights: F8,
    scaled: F8,
    total: float,
    sentence_weight: float,
    factors: F8,
    leads: F8,
    lead_weight: float,
) -> tuple[F8, I8, F8, F8]:
    """(sentence score, best sentence or -1, evidence, coverage) of each candidate.

    Candidate c is document `docs[c]`, its profile packed (`retrieval.rerank_pack`)
    at `packs[pack_starts[c]:]`.  `query_ids[k]` is the term id of the question's
    k-th distinct term (-1: not in the index); `kind` the answer kind it asks for
    (-1: none); `factors[3 * has + following]` 1 + the cue term of a sentence
    (following 2: there is no next one), `leads[o]` the lead term of ordinal o.
    """
    n = len(docs)
    sentence_score = np.empty(n)
    best_of = np.empty(n, dtype=np.int64)
    evidence_of = np.empty(n)
    covered = np.empty(n)
    n_terms = len(query_ids)
    longest = 1
    for c in range(n):
        longest = max(longest, token_starts[docs[c] + 1] - token_starts[docs[c]])
    # The query term at each token position (-1: none), and each slot's mask and cue.
    term_at = np.empty(longest, dtype=np.int64)
    masks = np.zeros(16, dtype=np.int64)
    cue = np.zeros(16, dtype=np.bool_)
    for c in range(n):
        start, end = token_starts[docs[c]], token_starts[docs[c] + 1]
        at = pack_starts[c]
        first = int(packs[at]) | int(packs[at + 1]) << 16
        n_slots = int(packs[at + 2])
        flags = int(packs[at + 3])
        n_cues = int(packs[at + 4])
        n_words = int(packs[at + 5])
        ends = at + 6
        cues = ends + n_slots
        words = cues + 2 * n_cues
        if n_slots > len(masks):
            masks = np.zeros(2 * n_slots, dtype=np.int64)
            cue = np.zeros(2 * n_slots, dtype=np.bool_)
        masks[:n_slots] = 0
        cue[:n_slots] = False
        many = 0
        j = 0
        for p in range(end - start):
            term = token_ids[start + p]
            k = 0
            while k < n_terms and query_ids[k] != term:
                k += 1
            if k == n_terms:
                term_at[p] = -1
                continue
            term_at[p] = k
            bit = 1 << k
            while packs[ends + j] <= p:  # the last slot ends after the last token
                j += 1
            masks[j] |= bit
            if p >> 4 < n_words and packs[words + (p >> 4)] >> (p & 15) & 1:
                many |= bit
        if not flags & 2:
            many = -1
        if kind >= 0:
            for r in range(n_cues):
                slot_kind = int(packs[cues + 2 * r])
                if slot_kind & 3 == kind:
                    position = int(packs[cues + 2 * r + 1])
                    if position == 0xFFFF or term_at[position] < 0:
                        cue[slot_kind >> 2] = True
        evidence = _evidence(masks[0], many, weights, scaled, total)
        for s in range(1, n_slots):
            pair = _evidence(masks[s - 1] | masks[s], many, weights, scaled, total)
            if pair > evidence:
                evidence = pair
        best_score = -np.inf
        best = 0
        union = 0
        for s in range(n_slots):
            union |= masks[s]
            has = 1 if cue[s] else 0
            following = (1 if cue[s + 1] else 0) if s + 1 < n_slots else 2
            score = sentence_weight * _share(masks[s], weights, total) * factors[
                3 * has + following
            ] + _lead(leads, lead_weight, first + s)
            if score > best_score:
                best_score = score
                best = s
        sentence_score[c] = best_score
        best_of[c] = best if flags & 1 else -1
        evidence_of[c] = evidence
        covered[c] = _share(union, weights, total)
    return sentence_score, best_of, evidence_of, covered


def warm_up() -> None:
    """Compile the kernel (or load it from numba's cache) on a tiny input."""
    one = np.ones(1)
    i0 = np.zeros(1, dtype=np.int64)
    args: tuple[Any, ...] = (
        np.zeros(1, dtype=np.int32),
        np.array([0, 1], dtype=np.int64),
        i0,
        i0,
        np.array([0, 0, 1, 3, 0, 0, 1], dtype=np.uint16),
        i0,
        0,
        one,
        one,
        1.0,
        1.0,
        np.ones(6),
        one,
        1.0,
    )
    match_all(*args)
