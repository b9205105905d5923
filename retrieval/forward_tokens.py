"""Documents' tokens read from a FastBM25 index's forward index, instead of kept as
tuples of strings.

A FastBM25 index already holds every document's tokens, as term ids in one int32 array
(`retrieval.bm25_build.Forward`, 4 bytes a token, mapped from the index cache).  Kept
as tuples as well, a million passages' tokens and their reports' were most of what a
replica held after a reload, and what the index cache stored twice.  `ForwardTokens`
is a column of tuples made from those ids when asked for: a question reads a hundred,
and a rebuild reads none, since `numbered_tokens` hands FastBM25.build the ids
themselves.

A `ForwardTokens` view of some documents (`view`, and `stored_columns.cut` on one) is a
`stored_columns.ColumnView`, so a corpus cut into parts and joined again
(retrieval.corpus) keeps unchanged parts as views of the old index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from itertools import chain
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from retrieval.bm25_build import Forward, TermIds
from retrieval.stored_columns import KEPT, ColumnView, Joined

Tokens = tuple[str, ...]
# Tokens renumbered at a time (`_by_first_appearance`): 32 MB of positions.
_STEP = 1 << 22


class TermsInOrder(Mapping[str, int]):
    """Terms numbered 0, 1, 2… in the order of `names`, whose term → id dictionary is made
    only when a term is looked up.  A worker's chunk of tokens (retrieval.corpus_rows)
    needs only the names; a dictionary for each of a hundred chunks was 200 MB more at
    the peak of a cold start of a million passages."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    @cached_property
    def _ids(self) -> dict[str, int]:
        return dict(zip(self.names, range(len(self.names)), strict=True))

    def __getitem__(self, term: str) -> int:
        return self._ids[term]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class _Source:
    """What the views of one forward index share: the index, and its terms by id."""

    __slots__ = ("__dict__", "forward", "made")

    def __init__(self, forward: Forward) -> None:
        self.forward = forward
        # Tuples made, as a stored column keeps its items: a question's candidates are
        # often the last questions' (a few microseconds each to make again).
        self.made: dict[int, Tokens] = {}

    @cached_property
    def names(self) -> list[str]:
        if isinstance(self.forward.terms, TermsInOrder):
            return self.forward.terms.names
        names = [""] * len(self.forward.terms)
        for term, term_id in self.forward.terms.items():
            names[term_id] = term
        return names


class ForwardTokens(ColumnView[Tokens, _Source]):
    """Documents start to start + length of a forward index, each as its tuple of terms."""

    __slots__ = ()

    @classmethod
    def whole(cls, forward: Forward) -> ForwardTokens:
        return cls(_Source(forward), 0, forward.size)

    def is_whole(self, forward: Forward) -> bool:
        """Whether this is every document of `forward` (an engine copied keeps its column)."""
        return self._home.forward is forward and self._start == 0 and len(self) == forward.size

    def _item(self, index: int) -> Tokens:
        source, at = self._home, self._start + index
        made = source.made.get(at)
        if made is None:
            starts = source.forward.starts
            names = source.names
            made = tuple(
                [names[i] for i in source.forward.token_ids[starts[at] : starts[at + 1]].tolist()]
            )
            if len(source.made) >= KEPT:
                source.made.clear()
            source.made[at] = made
        return made

    def items(self, indices: Sequence[int]) -> list[Tokens]:
        """`[self[i] for i in indices]` (indices in range) at a fraction of the cost:
        stage two asks for a hundred candidates' tokens at once."""
        made, at = self._home.made, self._start
        found = [made.get(at + i) for i in indices]
        if None in found:
            pairs = zip(found, indices, strict=True)
            return [t if t is not None else self._item(i) for t, i in pairs]
        return found  # type: ignore[return-value]  # no None in it

    def __iter__(self) -> Iterator[Tokens]:
        return (self._item(i) for i in range(self._length))

    def ids(self) -> npt.NDArray[np.int32]:
        """The term ids of all the view's tokens, in order (ids of its index's terms)."""
        starts = self._home.forward.starts
        first, end = int(starts[self._start]), int(starts[self._start + self._length])
        return self._home.forward.token_ids[first:end]

    def __repr__(self) -> str:
        return f"ForwardTokens({self._length} documents)"


class Numbered(NamedTuple):
    """Documents as term ids: every token's, one after another, and each document's length."""

    terms: TermIds
    token_ids: npt.NDArray[np.int32]
    doc_len: npt.NDArray[np.int64]


def numbered_tokens(docs: Sequence[Sequence[str]]) -> Numbered:
    """Every token of `docs` as a term id, the terms numbered in order of first appearance
    (as rank-bm25 meets them, which is the order its average idf adds them in).

    Views of a forward index give their ids without a string being made: each index's
    ids are mapped once onto a provisional numbering, then renumbered by where each term
    first appears, in one pass over the ids."""
    segments = docs.segments if isinstance(docs, Joined) else (docs,)
    doc_len = np.concatenate([_lengths(s) for s in segments] or [np.zeros(0, np.int64)])
    views = [s for s in segments if isinstance(s, ForwardTokens)]
    if not views:
        terms = TermIds()
        return Numbered(terms, _ids_of(docs, terms), doc_len)
    # Numbered like the first view's index, its ids need no mapping.
    first_source = views[0]._home
    provisional = TermIds(zip(first_source.names, range(len(first_source.names)), strict=True))
    remaps: dict[int, npt.NDArray[np.int32]] = {}
    pieces: list[npt.NDArray[np.int32]] = []
    for segment in segments:
        if isinstance(segment, ForwardTokens):
            source = segment._home
            if source is first_source:
                pieces.append(segment.ids())
                continue
            remap = remaps.get(id(source))
            if remap is None:
                remap = np.fromiter(map(provisional.__getitem__, source.names), np.int32)
                remaps[id(source)] = remap
            pieces.append(remap[segment.ids()])
        else:
            pieces.append(_ids_of(segment, provisional))
    ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    return Numbered(*_by_first_appearance(provisional, ids), doc_len)


def _lengths(docs: Sequence[Sequence[str]]) -> npt.NDArray[np.int64]:
    if isinstance(docs, ForwardTokens):
        starts = docs._home.forward.starts
        return np.diff(starts[docs._start : docs._start + docs._length + 1]).astype(np.int64)
    return np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))


def _ids_of(docs: Sequence[Sequence[str]], terms: TermIds) -> npt.NDArray[np.int32]:
    """The term id of every token of `docs`, new terms numbered as they come."""
    count = sum(map(len, docs))
    flat = chain.from_iterable(docs)
    return np.fromiter(map(terms.__getitem__, flat), np.int32, count=count)


def _by_first_appearance(
    provisional: TermIds, ids: npt.NDArray[np.int32]
) -> tuple[TermIds, npt.NDArray[np.int32]]:
    n_tokens = len(ids)
    first = np.full(len(provisional), n_tokens, dtype=np.int64)
    for start in range(0, n_tokens, _STEP):  # a step at a time: its positions are a copy
        end = min(start + _STEP, n_tokens)
        np.minimum.at(first, ids[start:end], np.arange(start, end, dtype=np.int64))
    present = np.flatnonzero(first < n_tokens)
    in_order = present[np.argsort(first[present], kind="stable")]
    new_id = np.full(len(provisional), -1, dtype=np.int32)
    new_id[in_order] = np.arange(len(in_order), dtype=np.int32)
    names = list(provisional)
    terms = TermIds(zip([names[i] for i in in_order.tolist()], range(len(in_order)), strict=True))
    return terms, new_id[ids]
