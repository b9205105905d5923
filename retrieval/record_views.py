"""Records of the index cache kept where they are when a corpus is cut into parts and
joined again.

A live library cuts a corpus loaded from the index cache into one part per report the
first time it rebuilds (retrieval.corpus.split_parts), and joins the parts again
(merge_parts).  The passages, tokens and profiles stay views of the mapped file
(retrieval.stored_columns); the reports were each made whole, with their paragraphs,
to be put in a part: at a million passages 1.3 s of the first reload, and 330 MB more
that a replica then kept.  A `RecordsView` is a report part's reports as they lie in
the loaded `Records`: a record is made when something reads it (a hit, a changed
file's comparison), and `field_of` reads one field of one without making it (which
file a report came from, its id), from the fields the cache keeps whole.  Joined
views stay one view (`stored_columns.joined` merges consecutive ones), and `pack`
gives the cache rows to copy as they are.  `Keyed` finds records by id, making only the
one looked up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any, Generic, TypeVar, cast

from retrieval.records import Records, Sharer
from retrieval.stored_columns import ColumnView, Joined, cut, joined, segments_of

R = TypeVar("R")
Span = tuple[int, int]  # start and end of some records of a Records


class RecordsView(ColumnView[R, Records[R]]):
    """Records start to start + length of a `Records` (`_home`), made there on first use
    and kept there (so a view and the whole give the same objects)."""

    __slots__ = ()

    def _item(self, index: int) -> R:
        return self._home[self._start + index]

    def __iter__(self) -> Iterator[R]:
        home = self._home
        for index in range(self._start, self._start + self._length):
            yield home[index]

    def value(self, index: int, name: str) -> Any:
        return self._home.value(self._start + index, name)

    def rows(self) -> Sequence[tuple[Any, ...]]:
        return cut(self._home.rows, self._start, self._start + self._length)

    def column(self, name: str) -> list[Any]:
        if name in self._home.whole:
            return list(self._home.whole[name][self._start : self._start + self._length])
        return [self.value(i, name) for i in range(self._length)]

    def __repr__(self) -> str:
        return f"RecordsView({self._length} of {self._home!r})"


class Keyed(Mapping[str, R], Generic[R]):
    """`records` by key, through an index of their positions: looking one up makes
    only that record."""

    __slots__ = ("_index", "_records")

    def __init__(self, index: dict[str, int], records: Sequence[R]) -> None:
        self._index = index
        self._records = records

    def __getitem__(self, key: str) -> R:
        return self._records[self._index[key]]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def records_cut(records: Sequence[R], start: int, end: int) -> Sequence[R]:
    """Records start to end: a view when `records` are `Records`, else as `cut` gives."""
    if isinstance(records, Records):
        return RecordsView(records, 0, len(records)).view(start, end)
    return cut(records, start, end)


def field_of(records: Sequence[Any], index: int, name: str) -> Any:
    """Field `name` of `records[index]`, making no record that is not made yet."""
    kind = type(records)  # an ABC's isinstance is slow: a reload asks for 300,000 fields
    if kind is tuple:
        return getattr(records[index], name)
    if kind is RecordsView or kind is Records or isinstance(records, RecordsView | Records):
        return cast(RecordsView[Any] | Records[Any], records).value(index, name)
    return getattr(records[index], name)


def column(records: Sequence[Any], name: str) -> list[Any]:
    """One field of every record of `records`, making none that are not made yet."""
    if isinstance(records, Records | RecordsView):
        return records.column(name)
    if isinstance(records, Joined):
        return list(chain.from_iterable(column(segment, name) for segment in records.segments))
    return [getattr(record, name) for record in records]


def not_in(records: Sequence[R], other: Sequence[R]) -> Iterator[R]:
    """The records of `records`, but those at the same place in the same `Records` as one
    of `other`'s (the same record: what a rebuild kept of the engine before it)."""
    held: dict[int, list[Span]] = {}
    for home, start, end in filter(None, map(_place, segments_of(other))):
        held.setdefault(id(home), []).append((start, end))
    for segment in segments_of(records):
        place = _place(segment)
        if place is None:
            yield from segment
            continue
        home, start, end = place
        for first, last in _uncovered(start, end, sorted(held.get(id(home), ()))):
            yield from (home[index] for index in range(first, last))


def _place(segment: Sequence[R]) -> tuple[Records[R], int, int] | None:
    if isinstance(segment, Records):
        return segment, 0, len(segment)
    if isinstance(segment, RecordsView):
        return segment._home, segment._start, segment._start + segment._length
    return None


def _uncovered(start: int, end: int, covered: Sequence[Span]) -> Iterator[Span]:
    """The ranges of start..end outside the (sorted) `covered` ranges."""
    for first, last in covered:
        if first > start:
            yield start, min(first, end)
        start = max(start, last)
        if start >= end:
            return
    if start < end:
        yield start, end


def pack(records: Sequence[R], share: Sharer) -> Records[R] | tuple[R, ...]:
    """`records` as rows for the index cache (`Records.pack`), views' rows kept as they
    lie in their file (so saving copies their bytes), and the fields their `Records`
    keep whole kept whole."""
    segments = segments_of(records)
    views = [segment for segment in segments if isinstance(segment, RecordsView)]
    if not views:
        return Records.pack(records, share)
    home = views[0]._home
    if len(views) == 1 and len(segments) == 1 and len(views[0]) == len(home):
        return home
    rows: list[Sequence[tuple[Any, ...]]] = []
    for segment in segments:
        if isinstance(segment, RecordsView):
            rows.append(segment.rows())
            continue
        packed = Records.pack(segment, share)
        if not isinstance(packed, Records) or packed.record_class is not home.record_class:
            return tuple(records)  # records of another class among them: pickled as they are
        rows.append(packed.rows)
    whole = {name: column(records, name) for name in home.whole}
    return Records(home.record_class, joined(rows), whole)
