"""Columns of the index cache kept in its file: each item pickled on its own, read only
when something asks for it.

A restart over a million passages used to unpickle the whole corpus (passages, their
tokens and profiles, each report's tokens) before the first answer: seconds of work,
and a private copy of everything in every process.  A question reads about a hundred
passages, and only a rebuild walks them all.  So `write_columns` lays each column out
as an offsets table and the items' pickles one after another, and `read_columns` gives
back `StoredColumn`s over the file's bytes (the index store maps the file, so the page
cache holds it once for every process on the machine).  An item is unpickled when first
asked for and kept while at most `KEPT` are kept; past that, the kept ones are dropped
all at once, so a long-running process never drifts back to holding every record.

A live library cuts its corpus into one part per report and joins the parts again after
a change (retrieval.corpus): `cut` and `joined` keep the unchanged parts as views
(`ColumnView`: of this file, or of a BM25 index's tokens, retrieval.forward_tokens), so a
reload unpickles nothing it does not need, and saving the cache again copies their
bytes as they are.

A record class with a codec (retrieval.row_codecs: the passages) is written smaller
than its field values and made whole as it is read.

The file is checked whole against its sha256 before it is mapped (retrieval.index_store),
so an item that does not unpickle is a bug, not a bad disk.
"""

from __future__ import annotations

import pickle
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, chain
from typing import Any, Generic, NamedTuple, Self, TypeVar, cast, overload

from retrieval.records import init_fields, maker
from retrieval.row_codecs import CODECS

T = TypeVar("T")
H = TypeVar("H")  # where a view's items are kept

# Items of one column kept unpickled at once (about 40 MB of passages).
KEPT = 65_536
_OFFSET = 8  # bytes of one offset: an int64 in the machine's order (the cache is its own)


class ColumnSpec(NamedTuple):
    """Where a column lies in the buffer, and how its items are made."""

    record: type | None  # a record class (items are its field values), None: plain values
    items: int
    start: int  # of its offsets table; the items' bytes follow it


def write_columns(columns: Mapping[str, Sequence[Any]], out: bytearray) -> dict[str, ColumnSpec]:
    """Append `columns` to `out`; where each lies, and how its items are made.

    A column whose items are all of one record class that `maker` builds is stored as
    their field values; any other column as the items themselves.  Items a stored
    column still holds in its file are copied as they are.  Each item's pickle is
    appended as soon as it is made, so a million of them never live at once."""
    specs: dict[str, ColumnSpec] = {}
    for name, items in columns.items():
        record = _record_class(items)
        table_at = len(out)
        out += bytes(_OFFSET * (len(items) + 1))
        start = len(out)
        ends = array("q", [0])
        for blob in _encoded(items, record):
            out += blob
            ends.append(len(out) - start)
        if len(ends) != len(items) + 1:
            raise ValueError(f"column {name} changed while it was written")
        out[table_at:start] = ends.tobytes()
        specs[name] = ColumnSpec(record, len(items), table_at)
    return specs


def read_columns(
    buffer: memoryview, specs: Mapping[str, ColumnSpec]
) -> dict[str, StoredColumn[Any]]:
    """The columns `write_columns` laid out in `buffer`; ValueError when they do not fit."""
    columns: dict[str, StoredColumn[Any]] = {}
    for name, spec in specs.items():
        table_end = spec.start + (spec.items + 1) * _OFFSET
        if spec.items < 0 or spec.start < 0 or table_end > len(buffer):
            raise ValueError(f"column {name} runs past the end of the index cache")
        offsets = buffer[spec.start : table_end].cast("q")
        if table_end + offsets[spec.items] > len(buffer):
            raise ValueError(f"column {name}'s items run past the end of the index cache")
        column: StoredColumn[Any] = StoredColumn(
            _File(buffer[table_end:], offsets, spec.record), 0, spec.items
        )
        if spec.items:
            column[0]  # a record class whose fields changed fails here, not mid-question
        columns[name] = column
    return columns


class _File:
    """What the views of one stored column share: its bytes, its offsets, its kept items."""

    __slots__ = ("data", "made", "make", "offsets", "record")

    def __init__(self, data: memoryview, offsets: memoryview, record: type | None) -> None:
        self.data = data
        self.offsets = offsets
        self.record = record
        self.make: Callable[[Any], Any] = _values if record is None else _rows_of(record)
        self.made: dict[int, Any] = {}

    def item(self, index: int) -> Any:
        made = self.made.get(index)
        if made is None:
            made = self.make(pickle.loads(self.raw(index)))
            if len(self.made) >= KEPT:
                self.made.clear()
            self.made[index] = made
        return made

    def raw(self, index: int) -> memoryview:
        return self.data[self.offsets[index] : self.offsets[index + 1]]


class _Column(Sequence[T], Generic[T]):
    """What both kinds of column share: read-only, equal to the tuple of their items,
    pickled as that tuple (in a worker process, a test); `_item` is the one to write."""

    __slots__ = ()

    def _item(self, index: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        length = len(self)
        if isinstance(index, slice):
            return tuple([self._item(i) for i in range(*index.indices(length))])
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(f"{type(self).__name__} index out of range")
        return self._item(index)

    def __eq__(self, other: object) -> bool:
        """Item by item, as a tuple compares (any other sequence but text)."""
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return False
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to a tuple, yet not one

    def __reduce__(self) -> tuple[Any, ...]:
        return tuple, (tuple(self),)


class ColumnView(_Column[T], Generic[T, H]):
    """Items start to start + length of a column kept elsewhere (`_home`: a file, an
    index), not as a tuple: `cut` and `joined` keep views as views, and merge
    consecutive ones."""

    __slots__ = ("_home", "_length", "_start")

    def __init__(self, home: H, start: int, length: int) -> None:
        self._home = home
        self._start = start
        self._length = length

    def __len__(self) -> int:
        return self._length

    def view(self, start: int, end: int) -> Self:
        """Items start to end (clipped), still where they are."""
        if 0 <= start <= end <= self._length:  # a reload cuts a million of these
            return type(self)(self._home, self._start + start, end - start)
        start, end, _ = slice(start, end).indices(self._length)
        return type(self)(self._home, self._start + start, max(end - start, 0))

    def _continued_by(self, other: ColumnView[T, Any]) -> bool:
        """Whether `other` holds the items right after this view's, in the same place."""
        return other._home is self._home and other._start == self._start + self._length

    def _extended(self, other: ColumnView[T, Any]) -> Self:
        """This view and `other`, which continues it, as one."""
        return type(self)(self._home, self._start, self._length + other._length)


class StoredColumn(ColumnView[T, _File]):
    """Items unpickled from the file on first use: a whole stored column, or a view of
    some of its items (`cut`).

    Safe to share between threads: two threads that make the same item at once each get
    an equal one, and one of them is kept."""

    __slots__ = ()

    def _item(self, index: int) -> T:
        item: T = self._home.item(self._start + index)
        return item

    def __iter__(self) -> Iterator[T]:
        item = self._home.item
        for index in range(self._start, self._start + self._length):
            yield item(index)

    def _raw(self) -> Iterator[memoryview]:
        raw = self._home.raw
        return (raw(index) for index in range(self._start, self._start + self._length))

    def __repr__(self) -> str:
        return f"StoredColumn({self._length} items, {len(self._home.made)} of its file's kept)"


class Joined(_Column[T]):
    """Parts' columns one after another, without copying them (see `joined`)."""

    __slots__ = ("_segments", "_starts")

    def __init__(self, segments: Sequence[Sequence[T]]) -> None:
        self._segments = tuple(segments)
        self._starts = list(accumulate(map(len, self._segments), initial=0))

    def __len__(self) -> int:
        return self._starts[-1]

    def _item(self, index: int) -> T:
        at = bisect_right(self._starts, index) - 1
        return self._segments[at][index - self._starts[at]]

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self._segments)

    @property
    def segments(self) -> tuple[Sequence[T], ...]:
        return self._segments

    def cut(self, start: int, end: int) -> Sequence[T]:
        """Items start to end (clipped), each segment's cut as `cut` cuts it."""
        start, end, _ = slice(start, end).indices(len(self))
        at = bisect_right(self._starts, start) - 1
        pieces: list[Sequence[T]] = []
        while start < end:
            segment, offset = self._segments[at], self._starts[at]
            stop = min(end, offset + len(segment))
            pieces.append(cut(segment, start - offset, stop - offset))
            start, at = stop, at + 1
        return joined(pieces)

    def __repr__(self) -> str:
        return f"Joined({len(self)} items in {len(self._segments)} segments)"


def cut(column: Sequence[T], start: int, end: int) -> Sequence[T]:
    """Items start to end of `column`: views where it holds views."""
    if type(column) is tuple:  # the usual case, and an ABC's isinstance is slow
        return column[start:end]
    if isinstance(column, ColumnView):
        return column.view(start, end)
    if isinstance(column, Joined):
        return column.cut(start, end)
    return tuple(column[start:end])


def cutter(column: Sequence[T]) -> Callable[[int, int], Sequence[T]]:
    """`cut` of `column` as one function, its kind looked at once: for the loops that cut a
    column into a part per report."""
    if isinstance(column, ColumnView):
        return column.view
    return lambda start, end: cut(column, start, end)


def joined(columns: Iterable[Sequence[T]]) -> Sequence[T]:
    """The columns one after another: a tuple when none is a view, else the views
    (consecutive ones merged) and tuples of the rest."""
    segments: list[Sequence[T]] = []
    loose: list[T] = []
    for column in columns:
        parts = column._segments if type(column) is Joined else (column,)
        for part in parts:
            if type(part) is tuple or not _is_view(type(part)):
                loose.extend(part)
                continue
            view = cast(ColumnView[T, Any], part)
            if loose:
                segments.append(tuple(loose))
                loose = []
            last = segments[-1] if segments else ()
            # Segments are views and tuples; a type test is far cheaper than an ABC's.
            if type(last) is not tuple and cast(ColumnView[T, Any], last)._continued_by(view):
                segments[-1] = cast(ColumnView[T, Any], last)._extended(view)
            elif len(view):
                segments.append(view)
    if not segments:
        return tuple(loose)
    if loose:
        segments.append(tuple(loose))
    return segments[0] if len(segments) == 1 else Joined(segments)


_VIEW_TYPES: dict[type, bool] = {}


def _is_view(kind: type) -> bool:
    """issubclass(kind, ColumnView), remembered: an ABC's check is slow, and joining a
    reload's parts asks it a million times."""
    known = _VIEW_TYPES.get(kind)
    if known is None:
        known = _VIEW_TYPES[kind] = issubclass(kind, ColumnView)
    return known


def segments_of(items: Sequence[T]) -> tuple[Sequence[T], ...]:
    """A joined column's segments; any other column as its one segment."""
    return items._segments if isinstance(items, Joined) else (items,)


def _record_class(items: Sequence[Any]) -> type | None:
    """The record class every item is (read from the file's spec for stored items), or
    None when they are not all one class that `maker` builds from field values."""
    kinds: set[type | None] = set()
    for segment in segments_of(items):
        if isinstance(segment, StoredColumn):
            kinds.add(segment._home.record)
        else:
            kinds.update(map(type, segment))
    if len(kinds) != 1:
        return None
    [kind] = kinds
    return kind if kind is not None and kind is not tuple and init_fields(kind) else None


def _encoded(items: Sequence[Any], record: type | None) -> Iterator[bytes | memoryview]:
    fields = init_fields(record) if record is not None else None
    for segment in segments_of(items):
        if isinstance(segment, StoredColumn) and segment._home.record is record:
            yield from segment._raw()
        elif fields is None:
            yield from (pickle.dumps(item, pickle.HIGHEST_PROTOCOL) for item in segment)
        else:
            codec = CODECS.get(record)  # type: ignore[arg-type]
            for item in segment:
                row = tuple([getattr(item, name) for name in fields])
                if codec is not None:
                    row = codec.encode(row)
                yield pickle.dumps(row, pickle.HIGHEST_PROTOCOL)


def _values(value: T) -> T:
    return value


def _rows_of(record: type[T]) -> Callable[[tuple[Any, ...]], T]:
    make = maker(record)
    codec = CODECS.get(record)
    if codec is not None:
        decode = codec.decode

        def decoded(row: tuple[Any, ...]) -> T:
            return make(*decode(row))

        return decoded

    def made(row: tuple[Any, ...]) -> T:
        return make(*row)

    return made
