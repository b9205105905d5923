"""Stage two's match over the forward index, compiled in the background: `match_compiled`.

`retrieval.rerank.rank` asks this module first.  It lays one question's candidates
out as flat arrays (their sentence ends, cues and recurring bits from the profiles;
their tokens are already term ids in the passage index, `retrieval.bm25.Forward`) and
hands them to `retrieval.rerank_kernel.match_all`.  Until numba has compiled that
(`retrieval.background_compile`), or when a question has more distinct terms than a
mask has bits, it answers None and `rank` matches in Python (`rerank_match.Matcher`),
with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Final, Protocol

import numpy as np
import numpy.typing as npt

from retrieval.answer_types import AnswerKind
from retrieval.background_compile import BackgroundKernel
from retrieval.rerank_match import lead
from retrieval.rerank_pack import STRAY, one_block
from retrieval.rerank_profile import PassageProfile

if TYPE_CHECKING:
    from retrieval.bm25_build import Forward
    from retrieval.scorer import Floats, Ints


class Candidate(Protocol):
    """What this module reads of `rerank.Candidate` (not imported: rerank imports us)."""

    @property
    def index(self) -> int: ...

    @property
    def profile(self) -> PassageProfile | None: ...


# A question's terms are bits of an int64 mask (the sign bit left alone).
MAX_TERMS: Final = 62
LEADS: Final = 4096

MatchAll = Callable[..., tuple["Floats", "Ints", "Floats", "Floats"]]


def _load() -> MatchAll:
    from retrieval.rerank_kernel import match_all, warm_up

    warm_up()
    return match_all


_MATCH: BackgroundKernel[MatchAll] = BackgroundKernel(
    "rerank-kernel-compile",
    _load,
    "cannot compile stage two's kernel (numba); reranking without it, slower",
)


def compiled_match(*, wait: bool = False) -> MatchAll | None:
    """The compiled kernel, or None while numba compiles it (the first call starts
    that); `wait` blocks until the compile is over (benchmarks, tests)."""
    return _MATCH.get(wait=wait)


class Matches:
    """Each candidate's (sentence score, best sentence or -1, evidence, coverage)."""

    __slots__ = ("best", "covered", "evidence", "sentence")

    def __init__(self, sentence: Floats, best: Ints, evidence: Floats, covered: Floats) -> None:
        self.sentence, self.best, self.evidence, self.covered = sentence, best, evidence, covered


class _Leads:
    """`lead_weight * lead(ordinal)` for the first `LEADS` ordinals, per weight: the
    very floats `Matcher` computes (the kernel works out later ones itself)."""

    def __init__(self) -> None:
        self._tables: dict[float, Floats] = {}

    def table(self, weight: float) -> Floats:
        table = self._tables.get(weight)
        if table is None:
            table = np.array([weight * lead(o) for o in range(LEADS)])
            table.flags.writeable = False
            # Two threads may both make it: the same table, one kept.
            self._tables[weight] = table
        return table


_LEADS = _Leads()


def match_compiled(
    forward: Forward,
    weights: Mapping[str, float],
    total_weight: float,
    wanted: frozenset[str],
    kind: AnswerKind | None,
    candidates: Sequence[Candidate],
    *,
    sentence_weight: float,
    cue_weight: float,
    next_cue_weight: float,
    lead_weight: float,
    single_mention_weight: float,
) -> Matches | None:
    """What `Matcher.match` gives each candidate, or None when the kernel cannot (yet)."""
    if len(weights) > MAX_TERMS:
        return None
    match_all = compiled_match()
    if match_all is None:
        return None
    packs = _packs(candidates, forward, wanted)
    if packs is None:
        return None
    terms = forward.terms
    query_ids = np.array([terms.get(term, -1) for term in weights], dtype=np.int64)
    weight_of = np.array(list(weights.values()))
    scaled = weight_of if single_mention_weight == 1.0 else weight_of * single_mention_weight
    docs = np.fromiter((c.index for c in candidates), dtype=np.int64, count=len(candidates))
    factors = np.array(
        [
            1.0 + (cue_weight * has + (next_cue_weight * following if following < 2 else 0.0))
            for has in (False, True)
            for following in (0, 1, 2)
        ]
    )
    flat, starts = packs
    sentence, best, evidence, covered = match_all(
        forward.token_ids,
        forward.starts,
        docs,
        query_ids,
        flat,
        starts,
        -1 if kind is None else int(kind),
        weight_of,
        scaled,
        float(total_weight or 1.0),
        float(sentence_weight),
        factors,
        _LEADS.table(lead_weight),
        float(lead_weight),
    )
    return Matches(sentence, best, evidence, covered)


def _packs(
    candidates: Sequence[Candidate], forward: Forward, wanted: frozenset[str]
) -> tuple[npt.NDArray[np.uint16], Ints] | None:
    """The candidates' packed profiles, one after the other, and where each starts;
    None when one is not packed or has a stray cue the question holds."""
    profiles = list(map(_PROFILE, candidates))
    if None in profiles:
        packs = [
            _one_block(c, forward) if c.profile is None else c.profile.packed for c in candidates
        ]
    else:
        packs = list(map(_PACKED, profiles))
    if b"" in packs:
        return None
    strays = [s for s in map(_STRAYS, filter(None, profiles)) if s]
    if not all(map(wanted.isdisjoint, strays)):
        return None
    sizes = np.fromiter(map(len, packs), dtype=np.int64, count=len(packs))
    starts = np.zeros(len(packs), dtype=np.int64)
    np.cumsum(sizes[:-1] // 2, out=starts[1:])
    return np.frombuffer(b"".join(packs), dtype="<u2"), starts


def _one_block(candidate: Candidate, forward: Forward) -> bytes:
    """The packed profile of a candidate without one (b"" when it cannot be packed)."""
    start, end = forward.starts[candidate.index : candidate.index + 2].tolist()
    return b"" if end - start >= STRAY else one_block(end - start)


_PROFILE = attrgetter("profile")
_PACKED = attrgetter("packed")
_STRAYS = attrgetter("strays")
