"""Spelling correction of query terms the index does not know.

A misspelt key word ("exptected", "lybia") is unknown to the index, so it
matches nothing, yet stage two weighs it as a rare word the best passage
lacks and the not-found rule refuses.  `SpellingCorrector` maps such a term
to the closest known term (optimal string alignment distance: insertions,
deletions, substitutions and adjacent transpositions) when it is close
enough; known terms, numbers and short terms are left as they are.

Cost: nothing beyond a set lookup per term when every term is known.  The
first unknown term builds, once, one code-point matrix per term length and
first letter (4 bytes a character: 0.7 MB for the 21k terms of the dev
corpus, 10 MB for 250k terms); each correction then scans only the buckets
within reach, row by row in numpy, dropping terms as soon as they cannot
come within the limit (docs/quality.md has the times).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from threading import Lock

import numpy as np
import numpy.typing as npt

_Codes = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class SpellingLimits:
    """How far a term may be from its correction, by the term's length."""

    # Shorter terms are never corrected: too many known words lie one edit away.
    min_length: int = 4
    # Terms this long or longer may be two edits away; shorter ones one.
    two_edits_from: int = 8
    # Typists rarely miss a word's first letter, while a real word the reports
    # never use ("router") often lies one edit from a known one ("outer").
    same_first_letter: bool = True
    # The same holds, less strongly, for the last letter ("grout" / "group").
    same_last_letter: bool = True


DEFAULT_LIMITS = SpellingLimits()


def _codes(terms: Sequence[str], length: int) -> _Codes:
    """One row of code points per term (all `length` characters long)."""
    data = "".join(terms).encode("utf-32-le")
    return np.frombuffer(data, dtype=np.uint32).reshape(len(terms), length)


def distances_within(word: str, terms: _Codes, limit: int) -> tuple[npt.NDArray[np.intp], _Codes]:
    """Optimal string alignment distances from `word` to each row of `terms`.

    Returns (row numbers, distances) of the rows within `limit` only.  The
    dynamic programme runs one row (one character of `word`) at a time over
    all terms at once; a term whose best partial distance already exceeds
    `limit` cannot come back under it and is dropped.
    """
    rows = np.arange(len(terms))
    n = terms.shape[1]
    steps = np.arange(n + 1, dtype=np.uint32)
    previous = np.broadcast_to(steps, (len(terms), n + 1)).copy()
    before_previous = previous
    target = _codes([word], len(word))[0] if word else np.zeros(0, dtype=np.uint32)
    for i in range(1, len(word) + 1):
        char = target[i - 1]
        current = np.empty_like(previous)
        current[:, 0] = i
        substitution = previous[:, :-1] + (terms != char)
        current[:, 1:] = np.minimum(previous[:, 1:] + 1, substitution)
        if i > 1 and n > 1:
            swapped = (terms[:, 1:] == target[i - 2]) & (terms[:, :-1] == char)
            transposition = np.where(swapped, before_previous[:, :-2] + 1, current[:, 2:])
            current[:, 2:] = np.minimum(current[:, 2:], transposition)
        # Insertions: D[i][j] = min(D[i][j], D[i][j-1] + 1) along the row, as a running min.
        shifted = current.astype(np.int64) - steps
        current = (np.minimum.accumulate(shifted, axis=1) + steps).astype(np.uint32)
        alive = current.min(axis=1) <= limit
        if not alive.all():
            rows, terms = rows[alive], terms[alive]
            current, previous = current[alive], previous[alive]
        before_previous, previous = previous, current
        if len(rows) == 0:
            break
    final = previous[:, n]
    close = final <= limit
    return rows[close], final[close]


class SpellingCorrector:
    """Corrects terms unknown to a vocabulary; thread-safe, the vocabulary read lazily."""

    def __init__(
        self,
        known: Collection[str],
        commonness: Callable[[str], float],
        limits: SpellingLimits = DEFAULT_LIMITS,
    ) -> None:
        """`known`: the index's terms.  `commonness`: higher for a term in more
        documents (it breaks ties between equally close corrections)."""
        self._known = known
        self._commonness = commonness
        self.limits = limits
        self._by_length_and_first: dict[tuple[int, str], tuple[list[str], _Codes]] | None = None
        self._corrections: dict[str, str] = {}
        self._lock = Lock()

    def correct(self, terms: Sequence[str]) -> list[str]:
        """`terms` with each unknown, correctable term replaced by its correction."""
        known = self._known
        if all(term in known for term in terms):
            return list(terms)
        return [term if term in known else self.correction(term) for term in terms]

    def correction(self, term: str) -> str:
        """The closest known term to `term` within the limits, else `term` itself."""
        cached = self._corrections.get(term)
        if cached is None:
            cached = self._closest(term)
            if len(self._corrections) < 10_000:  # bounded: questions are unbounded
                self._corrections[term] = cached
        return cached

    def _closest(self, term: str) -> str:
        limits = self.limits
        if term in self._known or len(term) < limits.min_length:
            return term
        if any(char.isdigit() for char in term):
            return term
        limit = 1 if len(term) < limits.two_edits_from else 2
        best: list[tuple[int, str]] = []
        first = term[0] if limits.same_first_letter else ""
        for length in range(len(term) - limit, len(term) + limit + 1):
            bucket = self._buckets().get((length, first))
            if bucket is None:
                continue
            words, codes = bucket
            rows, distances = distances_within(term, codes, limit)
            best.extend(
                (int(d), words[int(r)])
                for r, d in zip(rows, distances, strict=True)
                if self._keeps_ends(term, words[int(r)])
            )
        if not best:
            return term
        nearest = min(distance for distance, _ in best)
        tied = [word for distance, word in best if distance == nearest]
        return min(tied, key=lambda word: (-self._commonness(word), word))

    def _keeps_ends(self, term: str, word: str) -> bool:
        limits = self.limits
        if _language_of(word) != _language_of(term):
            return False  # "de:haus" is never corrected into English, nor the other way
        if limits.same_first_letter and word[0] != term[0]:
            return False
        return not limits.same_last_letter or word[-1] == term[-1]

    def _buckets(self) -> dict[tuple[int, str], tuple[list[str], _Codes]]:
        """Known terms by (length, first letter), or by length alone when the first
        letter may differ: a correction scans only the buckets it can reach."""
        with self._lock:
            if self._by_length_and_first is None:
                by_first = self.limits.same_first_letter
                grouped: dict[tuple[int, str], list[str]] = {}
                for word in self._known:
                    if len(word) >= self.limits.min_length - 2 and not word.isdigit():
                        key = (len(word), word[0] if by_first else "")
                        grouped.setdefault(key, []).append(word)
                self._by_length_and_first = {}
                for key, words in grouped.items():
                    words.sort()
                    self._by_length_and_first[key] = (words, _codes(words, key[0]))
            return self._by_length_and_first


def _language_of(term: str) -> str:
    """The language prefix of an analyzer term ("de:" of "de:haus"; "" for the default
    language's terms, which hold no colon)."""
    return term[: term.find(":") + 1]
