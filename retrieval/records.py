"""Columns of frozen records that load fast: kept as rows of field values, each
record made on first use.

A warm restart over 100,000 small reports unpickles 100,000 reports.  Making a
frozen slotted record costs a Python call and a slot write per field, about 1 µs;
a tuple of the same values costs pickle a tenth of that.  So the index cache
(retrieval.corpus_cache) stores the reports as `Records`: rows of values, with a
record made, and kept, only when something asks for it.  In the cache the rows
themselves stay in the mapped file (`retrieval.stored_columns`), each unpickled when
its record is made, as do the passages and their profiles: a restart then reads only
the few fields wanted for every report at once (`Fields`).

Records are read-only sequences equal to the tuple of the same records, and safe
to share between threads: two threads that make the same record at once each get
an equal one, and one of them is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

R = TypeVar("R")

# A record's own tuples are short; the corpus's columns are long and gain nothing.
_SHARED_TUPLE_ITEMS = 64


class Records(Sequence[R], Generic[R]):
    """Records of one class, kept as rows of their field values in `__init__` order.

    The rows may be a column kept in the index cache's mapped file
    (retrieval.stored_columns), each row unpickled when its record is first made.  Then
    a field that is read for every record at once (the reports' ids at start-up, their
    dates for /latest) comes from `whole`: that field's column, given apart, so reading
    it makes no record and unpickles no row.
    """

    __slots__ = ("_cls", "_made", "_make", "_names", "_rows", "_whole")

    def __init__(
        self,
        cls: type[R],
        rows: Sequence[tuple[Any, ...]],
        whole: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        names = init_fields(cls)
        if names is None or any(len(row) != len(names) for row in rows[:1]):
            # A payload from another version of the class: fail at load, not mid-question.
            raise ValueError(f"rows do not fit {cls.__qualname__}'s fields")
        self._cls = cls
        self._names = names
        self._rows = rows
        self._whole: Mapping[str, Sequence[Any]] = whole or {}
        self._make = maker(cls)
        self._made: list[R | None] = [None] * len(rows)

    @classmethod
    def pack(cls, records: Sequence[R], share: Sharer) -> Records[R] | tuple[R, ...]:
        """`records` as rows, equal values shared (see Sharer); a plain tuple when they are
        not all of one class that `maker` can build (the cache then pickles them as usual)."""
        if isinstance(records, Records):
            return records
        kinds = {type(record) for record in records}
        if len(kinds) != 1:
            return tuple(records)
        [kind] = kinds
        names = init_fields(kind)
        if names is None:
            return tuple(records)
        rows = tuple([tuple([share(getattr(r, name)) for name in names]) for r in records])
        return Records(kind, rows)

    @property
    def record_class(self) -> type[R]:
        return self._cls

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[R, ...]: ...

    def __getitem__(self, index: int | slice) -> R | tuple[R, ...]:
        if isinstance(index, slice):
            return tuple([self[i] for i in range(*index.indices(len(self._rows)))])
        made = self._made[index]
        if made is None:
            made = self._made[index] = self._make(*self._rows[index])
        return made

    def __iter__(self) -> Iterator[R]:
        for index in range(len(self._rows)):
            yield self[index]

    @property
    def rows(self) -> Sequence[tuple[Any, ...]]:
        return self._rows

    @property
    def whole(self) -> Mapping[str, Sequence[Any]]:
        return self._whole

    @property
    def made(self) -> int:
        """How many records have been made (and are kept)."""
        return len(self._made) - self._made.count(None)

    def value(self, index: int, name: str) -> Any:
        """Field `name` of record `index`, without making the record when it is not made."""
        made = self._made[index]
        if made is not None:
            return getattr(made, name)
        if name in self._whole:
            return self._whole[name][index]
        return self._rows[index][self._names.index(name)]

    def column(self, name: str) -> list[Any]:
        """One field of every record, without making the records."""
        if name in self._whole:
            values = list(self._whole[name])
            if len(values) != len(self._rows):
                raise ValueError(f"the {name} column does not fit the rows")
            return values
        at = self._names.index(name)
        return [row[at] for row in self._rows]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Records | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to a tuple, yet not one

    def __reduce__(self) -> tuple[Any, ...]:
        whole = {name: list(values) for name, values in self._whole.items()}
        return Records, (self._cls, self._rows, whole or None)

    def __repr__(self) -> str:
        return f"Records({self._cls.__name__}, {len(self)} rows)"


class Fields(Mapping[str, Sequence[Any]]):
    """Columns by name (`columns[i]` holds the values of `names[i]`), for `Records`'
    `whole`: in the index cache they are items of a stored column, each unpickled when
    first asked for (retrieval.corpus_cache)."""

    __slots__ = ("_columns", "_names")

    def __init__(self, names: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
        if len(names) != len(columns):
            raise ValueError(f"{len(names)} names for {len(columns)} columns")
        self._names = tuple(names)
        self._columns = columns

    def __getitem__(self, name: str) -> Sequence[Any]:
        if name not in self._names:
            raise KeyError(name)
        return self._columns[self._names.index(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without reading the column, as Mapping's would

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class Sharer:
    """Makes equal immutable values one object: 100,000 reports dated by the same file
    time, or 400,000 empty cue sets, then pickle and load once.  (Records themselves are
    never shared; sharing immutable values is safe.)"""

    def __init__(self) -> None:
        self._values: dict[object, object] = {}

    def __call__(self, value: Any) -> Any:
        kind = type(value)
        if kind is str or kind is datetime or kind is frozenset:
            return self._values.setdefault(value, value)
        if kind is tuple and len(value) <= _SHARED_TUPLE_ITEMS:
            items = tuple([self(item) for item in value])
            try:
                return self._values.setdefault(items, items)
            except TypeError:  # something unhashable inside: shared items, own tuple
                return items
        return value


def init_fields(cls: type) -> tuple[str, ...] | None:
    """The fields a record class's `__init__` takes, in order, when it takes all of
    them positionally and does nothing else; None otherwise."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    if not all(f.init and not f.kw_only for f in fields):
        return None
    return tuple(f.name for f in fields)


_MAKERS: dict[type, Callable[..., Any]] = {}


def maker(cls: type[R]) -> Callable[..., R]:
    """A function that builds a `cls` from its field values in `__init__` order.

    A frozen dataclass's own `__init__` sets each field through `object.__setattr__`;
    when every field is a slot, the maker sets the slots directly, in half the time.
    Other classes are made by calling them.
    """
    made = _MAKERS.get(cls)
    if made is not None:
        return made
    fields = init_fields(cls)
    slots = [cls.__dict__.get(field) for field in fields or ()]
    if fields is None or not all(type(slot).__name__ == "member_descriptor" for slot in slots):
        _MAKERS[cls] = cls
        return cls
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    namespace.update({f"set{i}": slot.__set__ for i, slot in enumerate(slots)})  # type: ignore[union-attr]
    values = ", ".join(f"v{i}" for i in range(len(slots)))
    body = "".join(f"    set{i}(record, v{i})\n" for i in range(len(slots)))
    exec(f"def make({values}):\n    record = new(cls)\n{body}    return record\n", namespace)
    made = namespace["make"]
    _MAKERS[cls] = made
    return made  # type: ignore[no-any-return]
