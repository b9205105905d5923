"""Rows of a record class made smaller for the index cache, and made whole again when read.

A passage's sentences are its text cut up: stored as strings they were a second copy
of every passage's text, 125 MB of a million passages' 340 MB in the mapped file (and
in the page cache of every replica).  So a passage's row keeps, in place of its
sentences, where each one lies in its text: two uint16 offsets a sentence, as one
`bytes`.  A passage whose sentences are not all found in its text, in order (one made
by hand), keeps them as they are; reading tells the two apart by the value's type,
bytes or a tuple.

`retrieval.stored_columns` encodes every row of a class named in `CODECS` as it writes
the column and decodes it as it makes the record, so what is read is equal, field by
field, to what was written.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any, NamedTuple

from retrieval.models import Passage
from retrieval.records import init_fields

Row = tuple[Any, ...]

_FIELDS = init_fields(Passage) or ()
_TEXT = _FIELDS.index("text")
_SENTENCES = _FIELDS.index("sentences")
_MAX_OFFSET = 0xFFFF  # an offset is a uint16; passages are far shorter (MAX_QUOTE_CHARS)


class RowCodec(NamedTuple):
    encode: Callable[[Row], Row]
    decode: Callable[[Row], Row]


def sentence_spans(text: str, sentences: tuple[str, ...]) -> bytes | None:
    """Where each sentence lies in `text`, found in order: start and end of each as
    uint16; None when one is not found after the one before (or `text` is too long)."""
    if len(text) > _MAX_OFFSET:
        return None
    spans = array("H")
    at = 0
    for sentence in sentences:
        start = text.find(sentence, at)
        if start < 0:
            return None
        at = start + len(sentence)
        spans.append(start)
        spans.append(at)
    return spans.tobytes()


def sentences_at(text: str, spans: bytes) -> tuple[str, ...]:
    """The sentences `sentence_spans` found in `text`."""
    offsets = array("H", spans)
    return tuple([text[offsets[i] : offsets[i + 1]] for i in range(0, len(offsets), 2)])


def encode_passage(row: Row) -> Row:
    spans = sentence_spans(row[_TEXT], row[_SENTENCES])
    if spans is None:
        return row
    return (*row[:_SENTENCES], spans, *row[_SENTENCES + 1 :])


def decode_passage(row: Row) -> Row:
    # A row of another length is left for the record class to refuse (at load).
    spans = row[_SENTENCES] if len(row) == len(_FIELDS) else None
    if type(spans) is not bytes:
        return row
    return (*row[:_SENTENCES], sentences_at(row[_TEXT], spans), *row[_SENTENCES + 1 :])


# The offsets are in the machine's byte order, as the rest of the cache is (its own).
CODECS: dict[type, RowCodec] = {Passage: RowCodec(encode_passage, decode_passage)}
