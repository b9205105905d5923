"""FastBM25's compiled top-k (numba): the exact top k, found by dynamic pruning.

`retrieval.bm25` imports this module at the first top-k, so importing the package
never pays for numba.  The kernels are compiled once per machine and cached on disk
(`cache=True`); `warm_up()` compiles or loads them, from a background thread.

For a query whose terms all have a positive idf: (1) the documents of the rarest
terms (at most `prefill` postings) are scored exactly, the other lists probed by
galloping, so the k-th score, the threshold, usually starts high; (2) the rest goes
document at a time, MaxScore style: the longest lists whose bounds sum below the
threshold are left out, only documents of the other (essential) terms are
candidates, and each is first bounded with every term's block maxima
(`bm25_build.BLOCK` postings a block), which bound every document up to the nearest
block end too: all are skipped at once while below the threshold; (3) when the
essential postings are many, `WINDOW` documents at a time are scored term at a time
into an accumulator instead, hopeless blocks skipped.

Bounds only decide what is skipped: a kept score is always each occurrence's
`idf * tf_part[code]` added in query order from 0.0, rank-bm25's very floats (see
`retrieval.bm25`).  Bounds are grown by `SLACK` per query term, far more than
rounding can move a sum, and prune only strictly below the threshold, so nothing
that would enter the top k or tie with its k-th is skipped; the heap compares
(score, -id) in full, so ties break by index whatever order documents come in.  A
term with an idf <= 0 (tiny corpora) turns pruning off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, NamedTuple, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

WINDOW: Final = 4096
SLACK: Final = 1e-12
# Rough ns of term at a time per posting and per window document (vs `cost` per posting).
TAAT_COST: Final = 2.0
SCAN_COST: Final = 0.5

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Codes = npt.NDArray[np.unsignedinteger[Any]]
Offsets = tuple[I64, F64, I64, I64]  # by term: postings' offsets, idf, best code, first block
_F = TypeVar("_F", bound=Callable[..., Any])
_A = TypeVar("_A", bound=npt.NDArray[Any])


class Postings(NamedTuple):
    """The index, laid out as `retrieval.bm25_build` builds it."""

    doc_ids: I32
    pair_codes: Codes
    tf_part: F64
    block_best: Codes  # for each block of `block` postings of a term, its best code
    block: int


class Terms(NamedTuple):
    """The query: its distinct terms, one entry each, and its occurrences."""

    start: I64  # the postings of term u: start[u] .. end[u] - 1
    end: I64
    first_block: I64  # its first block in Postings.block_best
    idf: F64
    weight: F64  # idf times how often the query holds the term
    bound: F64  # the most one document can get from the term
    slots: I64  # for each occurrence in query order, its term
    grow: float  # bounds times this prune only what rounding cannot bring back


class Work(NamedTuple):
    """What the scoring of one query updates in place."""

    hs: F64  # the heap of the best documents: scores
    hd: I64  # and ids
    seen: I64  # the prefilled documents, ascending
    pos: I64  # each term's cursor in its postings
    contrib: F64  # each term's contribution to the current document
    block_bound: F64  # each term's bound in the block that would hold the candidate
    block_at: I64  # and which block that is


def _jit(function: _F, inline: Literal["never", "always"] = "never") -> _F:
    try:  # numba raises when it finds no writable cache folder: then compile per process
        compiled = numba.njit(cache=True, nogil=True, inline=inline)(function)
    except RuntimeError:
        compiled = numba.njit(nogil=True, inline=inline)(function)
    return cast(_F, compiled)


def _inline(function: _F) -> _F:
    # Inlined: a call between compiled functions costs too much once per posting.
    return _jit(function, "always")


@_inline
def _gallop(doc_ids: I32, lo: int, hi: int, target: int) -> int:
    """The first position in [lo, hi) whose doc id is >= target (hi if none)."""
    if lo >= hi or doc_ids[lo] >= target:
        return lo
    step, high = 1, hi
    while lo + step < hi:
        if doc_ids[lo + step] >= target:
            high = lo + step
            break
        lo += step
        step *= 2
    lo += 1
    while lo < high:
        mid = (lo + high) >> 1
        if doc_ids[mid] < target:
            lo = mid + 1
        else:
            high = mid
    return lo


@_inline
def _push(hs: F64, hd: I64, n: int, s: float, d: int) -> int:
    """Offer document d with score s to the heap of the best hs.size; return its size.

    The root is the worst kept: the lowest score, of equal scores the highest id."""
    if n == hs.size:
        if s > hs[0] or (s == hs[0] and d < hd[0]):
            _sift_down(hs, hd, n, s, d)
        return n
    i = n
    while i > 0 and (s < hs[(i - 1) >> 1] or (s == hs[(i - 1) >> 1] and d > hd[(i - 1) >> 1])):
        hs[i], hd[i] = hs[(i - 1) >> 1], hd[(i - 1) >> 1]
        i = (i - 1) >> 1
    hs[i], hd[i] = s, d
    return n + 1


@_jit
def _sift_down(hs: F64, hd: I64, n: int, s: float, d: int) -> None:
    """Put (s, d) at the root of the heap of size n and sift it down."""
    i = 0
    while 2 * i + 1 < n:
        c = 2 * i + 1
        if c + 1 < n and (hs[c + 1] < hs[c] or (hs[c + 1] == hs[c] and hd[c + 1] > hd[c])):
            c += 1
        if not (hs[c] < s or (hs[c] == s and hd[c] > d)):
            break
        hs[i], hd[i] = hs[c], hd[c]
        i = c
    hs[i], hd[i] = s, d


@_jit
def _prefill(ix: Postings, q: Terms, w: Work, pre: I64, probe: I64) -> tuple[int, int]:
    """Score each document of the `pre` terms, probing the `probe` terms (largest
    bound first); put their ids in w.seen; return the heap's size and their number."""
    # Unpacked once: arrays taken from a tuple in a loop can cost reference counting.
    doc_ids, codes, tf_part = ix.doc_ids, ix.pair_codes, ix.tf_part
    end, idf, weight, slots, grow = q.end, q.idf, q.weight, q.slots, q.grow
    hs, hd, seen, pos, contrib = w.hs, w.hd, w.seen, w.pos, w.contrib
    left = np.zeros(probe.size + 1)  # left[i]: the bounds of probe[i:], summed
    for i in range(probe.size - 1, -1, -1):
        left[i] = left[i + 1] + q.bound[probe[i]]
    n = n_seen = 0
    while True:
        cur = -1
        for g in range(pre.size):
            u = pre[g]
            if pos[u] < end[u] and (cur < 0 or doc_ids[pos[u]] < cur):
                cur = doc_ids[pos[u]]
        if cur < 0:
            return n, n_seen
        seen[n_seen], n_seen = cur, n_seen + 1
        partial, theta = 0.0, hs[0] if n == hs.size else -np.inf
        for g in range(pre.size):
            u = pre[g]
            contrib[u] = 0.0
            if pos[u] < end[u] and doc_ids[pos[u]] == cur:
                t = tf_part[codes[pos[u]]]
                contrib[u], partial, pos[u] = idf[u] * t, partial + weight[u] * t, pos[u] + 1
        for i in range(probe.size + 1):
            if (partial + left[i]) * grow < theta:
                break
            if i == probe.size:
                s = 0.0
                for j in range(slots.size):  # rank-bm25's sum: in query order
                    s += contrib[slots[j]]
                n = _push(hs, hd, n, s, cur)
                break
            u = probe[i]
            p = pos[u] = _gallop(doc_ids, pos[u], end[u], cur)
            contrib[u] = 0.0
            if p < end[u] and doc_ids[p] == cur:
                t = tf_part[codes[p]]
                contrib[u], partial = idf[u] * t, partial + weight[u] * t


@_jit
def _left_out(rest: I64, df: I64, q: Terms, theta: float) -> npt.NDArray[np.bool_]:
    """Which of `rest` to leave out: the longest lists while their bounds stay below theta."""
    out, total = np.zeros(rest.size, np.bool_), 0.0
    for i in np.argsort(-df[rest], kind="mergesort"):
        if (total + q.bound[rest[i]]) * q.grow < theta:
            total += q.bound[rest[i]]
            out[i] = True
    return out


@_jit
def _window(ix: Postings, q: Terms, w: Work, others: F64, n: int, first: int, acc: F64) -> int:
    """Score documents first .. first + WINDOW - 1 term at a time into `acc`, each
    occurrence in query order (so the sums are exact), skipping the blocks that
    cannot reach the threshold even with every other term's bound (`others`, < 0 for
    a prefilled term); offer the scores to the heap; move the cursors past."""
    doc_ids, codes, tf_part, block_best, block = ix
    start, end, first_block, idf, weight, _, slots, grow = q
    hs, hd, seen, pos = w.hs, w.hd, w.seen, w.pos
    theta, hi = hs[0] if n == hs.size else -np.inf, pos.copy()
    for u in range(start.size):
        if others[u] >= 0:
            pos[u] = _gallop(doc_ids, pos[u], end[u], first)
            hi[u] = _gallop(doc_ids, pos[u], end[u], first + WINDOW)
    for j in range(slots.size):
        u = slots[j]
        if others[u] < 0 or pos[u] >= hi[u]:
            continue
        for b in range((pos[u] - start[u]) // block, (hi[u] - 1 - start[u]) // block + 1):
            if (weight[u] * tf_part[block_best[first_block[u] + b]] + others[u]) * grow < theta:
                continue  # what the block's documents get here keeps them below theta
            lo = max(pos[u], start[u] + b * block)
            for p in range(lo, min(hi[u], start[u] + b * block + block)):
                acc[doc_ids[p] - first] += idf[u] * tf_part[codes[p]]
    for d in seen[np.searchsorted(seen, first) : np.searchsorted(seen, first + WINDOW)]:
        acc[d - first] = 0.0  # scored in the prefill
    for i in range(WINDOW):
        if acc[i] != 0.0:
            if n < hs.size or acc[i] >= hs[0]:
                n = _push(hs, hd, n, acc[i], first + i)
            acc[i] = 0.0
    for u in range(start.size):
        pos[u] = hi[u] if others[u] >= 0 else pos[u]
    return n


@_jit
def _rest(ix: Postings, q: Terms, w: Work, rest: I64, n: int, cost: tuple[float, int]) -> int:
    """Score every document that holds a `rest` term, none of the prefilled ones
    (w.seen), and can still enter the top k; return the heap's size.  `cost` is
    (daat_cost, n_docs); a daat_cost of 0 keeps to document at a time."""
    doc_ids, codes, tf_part, block_best, block = ix
    start, end, first_block, idf, weight, bound, slots, grow = q
    hs, hd, seen, pos, contrib, block_bound, block_at = w
    df, prune = end - start, bool(np.all(idf > 0))
    others = np.full(start.size, -1.0)
    for u in rest:  # summed, not a difference: that could round below the sum
        others[u] = 0.0
        for v in rest:
            others[u] += bound[v] if v != u else 0.0
    taat = df[rest].sum() * TAAT_COST + cost[1] * SCAN_COST
    essential, left_out, acc = rest, rest, np.zeros(0)
    dense, theta, changed = False, -np.inf, True
    done = at_seen = 0  # every document below `done` is decided
    until, total, left_total = -1, 0.0, 0.0
    while True:
        if changed:
            theta = hs[0] if prune and n == hs.size else -np.inf
            out = _left_out(rest, df, q, theta)
            essential, left_out = rest[~out], rest[out]
            for u in essential:  # one left out until now catches up
                pos[u] = _gallop(doc_ids, pos[u], end[u], done)
            left_out = left_out[np.argsort(-bound[left_out])]  # big bounds first: early exits
            dense = prune and df[essential].sum() * cost[0] > taat
            changed, until = False, -1  # -1: the left-out bounds need summing again
        cur = -1
        for g in range(essential.size):
            u = essential[g]
            if pos[u] < end[u] and (cur < 0 or doc_ids[pos[u]] < cur):
                cur = doc_ids[pos[u]]
        if cur < 0:
            return n
        pruning = prune and n == hs.size
        if dense:
            acc = np.zeros(WINDOW) if acc.size == 0 else acc
            n = _window(ix, q, w, others, n, cur, acc)
            done, changed = cur + WINDOW, n == hs.size and hs[0] > theta
            continue
        if pruning and cur > until:  # else the blocks found last still hold cur
            # Each term's block that would hold cur bounds what it gives every document
            # from cur to that block's last; together, up to the first of those ends.
            total, until, left_total = 0.0, 1 << 62, 0.0
            for g in range(rest.size):
                u = rest[g]
                n_blocks, b = (end[u] - start[u] + block - 1) // block, block_at[u]
                while b < n_blocks and doc_ids[min(start[u] + b * block + block, end[u]) - 1] < cur:
                    b += 1
                block_at[u], block_bound[u] = b, 0.0
                if b < n_blocks:
                    block_bound[u] = weight[u] * tf_part[block_best[first_block[u] + b]]
                    total += block_bound[u]
                    until = min(until, int(doc_ids[min(start[u] + b * block + block, end[u]) - 1]))
            for g in range(left_out.size):
                left_total += block_bound[left_out[g]]
        if pruning and total * grow < theta:  # nothing up to `until` can reach theta
            done = until + 1
            for g in range(essential.size):
                u = essential[g]
                pos[u] = _gallop(doc_ids, pos[u], end[u], done)
            continue
        done, partial, left = cur + 1, 0.0, left_total
        for g in range(essential.size):
            u = essential[g]
            contrib[u] = 0.0
            if pos[u] < end[u] and doc_ids[pos[u]] == cur:
                t = tf_part[codes[pos[u]]]
                contrib[u], partial, pos[u] = idf[u] * t, partial + weight[u] * t, pos[u] + 1
        while at_seen < seen.size and seen[at_seen] < cur:
            at_seen += 1
        if at_seen < seen.size and seen[at_seen] == cur:
            continue  # scored in the prefill
        for i in range(left_out.size + 1):
            if pruning and (partial + left) * grow < theta:
                break
            if i == left_out.size:
                s = 0.0
                for j in range(slots.size):  # rank-bm25's sum: in query order
                    s += contrib[slots[j]]
                if (not prune or s > 0) and (n < hs.size or s >= hs[0]):
                    n = _push(hs, hd, n, s, cur)
                    changed = prune and n == hs.size and hs[0] > theta
                break
            u = left_out[i]
            left -= block_bound[u]
            p = pos[u] = _gallop(doc_ids, pos[u], end[u], cur)
            contrib[u] = 0.0
            if p < end[u] and doc_ids[p] == cur:
                t = tf_part[codes[p]]
                contrib[u], partial = idf[u] * t, partial + weight[u] * t


@_jit
def top_k(
    ix: Postings, offsets: Offsets, query: I64, k: int, n_docs: int, prefill: int, cost: float
) -> tuple[I64, F64]:
    """The k best documents holding at least one of the `query` term ids (in query
    order, repeats kept), by score descending then id: (ids, scores), exactly as
    `scorer.best_of` cuts rank-bm25's scores.  `offsets` is (term offsets, idf, term
    best codes, block offsets).  `prefill` (postings scored first) and `cost` (the
    daat_cost: 0 never goes term at a time, inf always once pruning) change only the
    speed."""
    term_offsets, idf, term_best_code, block_offsets = offsets
    terms = np.unique(query)
    slots = np.searchsorted(terms, query)
    count = np.zeros(terms.size)
    for u in slots:
        count[u] += 1.0
    start, end = term_offsets[terms], term_offsets[terms + 1]
    df, weight = end - start, count * idf[terms]
    bound = weight * ix.tf_part[term_best_code[terms]]
    grow = 1.0 + SLACK * (query.size + 16)
    q = Terms(start, end, block_offsets[terms], idf[terms], weight, bound, slots, grow)
    size, prune = max(0, min(k, df.sum())), bool(np.all(q.idf > 0))
    by_df = np.argsort(df, kind="mergesort")
    n_pre = 0
    while prune and n_pre < terms.size and df[by_df[: n_pre + 1]].sum() <= prefill:
        n_pre += 1
    pre, rest = by_df[:n_pre], by_df[n_pre:]
    hs, hd, seen = np.empty(size), np.empty(size, np.int64), np.empty(df[pre].sum(), np.int64)
    m, n, n_seen = terms.size, 0, 0
    if size and n_pre:
        probe = rest[np.argsort(-bound[rest], kind="mergesort")]
        w = Work(hs, hd, seen, start.copy(), np.zeros(m), np.zeros(m), np.zeros(m, np.int64))
        n, n_seen = _prefill(ix, q, w, pre, probe)
    if size and rest.size and not (n == size and bound[rest].sum() * grow < hs[0]):
        at = np.zeros(m, np.int64)
        w = Work(hs, hd, seen[:n_seen], start.copy(), np.zeros(m), np.zeros(m), at)
        n = _rest(ix, q, w, rest, n, (cost, n_docs))
    ids, scores = np.empty(n, np.int64), np.empty(n)
    for i in range(n - 1, -1, -1):  # take the worst off the heap, the best come last
        ids[i], scores[i] = hd[0], hs[0]
        _sift_down(hs, hd, i, hs[i], hd[i])
    return ids, scores


def warm_up() -> None:
    """Compile the kernels, or load them from numba's cache, for both pair-code widths
    and read-only arrays as FastBM25 holds them: then no top-k waits for numba."""
    for code_type in (np.uint16, np.uint32):
        codes: Codes = _frozen(np.array([0, 1, 0], code_type))
        tf_part: F64 = _frozen(np.array([0.5, 0.8]))
        ix = Postings(_frozen(np.array([0, 1, 0], np.int32)), codes, tf_part, codes[1:], 64)
        arrays = ([0, 2, 3], [0.25, 1.0], [1, 0], [0, 1, 2])
        offsets = cast(Offsets, tuple(_frozen(np.array(a)) for a in arrays))
        # The types FastBM25 passes: a writable query, Python ints and a float.
        top_k(ix, offsets, np.array([0, 1, 1]), 1, 2, 1024, 20.0)


def _frozen(array: _A) -> _A:
    array.flags.writeable = False
    return array
