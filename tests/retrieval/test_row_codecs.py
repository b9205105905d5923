"""Passages in the index cache keep their sentences as offsets into their text
(retrieval.row_codecs): read back equal, field by field, and smaller on disk."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.models import Passage
from retrieval.row_codecs import decode_passage, encode_passage, sentence_spans
from retrieval.search import SearchEngine
from retrieval.stored_columns import read_columns, write_columns

ODD = (
    # Sentences as the splitter gives them, one repeated.
    Passage(
        "r1",
        0,
        "Rain fell. Rain fell. Then it stopped.",
        ("Rain fell.", "Rain fell.", "Then it stopped."),
    ),
    # A sentence that is not in the text: kept as strings.
    Passage("r1", 1, "The council met.", ("The council met.", "Not in the text.")),
    # Out of order: the second is only found before the first.
    Passage("r1", 2, "One. Two.", ("Two.", "One.")),
    Passage("r2", 0, "No sentences at all.", ()),
    Passage("r2", 1, "", ("",)),
    Passage(
        "r2", 2, "Été à Zürich — 😀 done.", ("Été à Zürich — 😀 done.",), speaker="Ann", page=3
    ),
    Passage("r3", 0, "x" * 70_000, ("x" * 70_000,)),
)


def column_bytes(passages: Sequence[Passage]) -> tuple[int, Sequence[Passage]]:
    out = bytearray()
    specs = write_columns({"passages": passages}, out)
    return len(out), read_columns(memoryview(out), specs)["passages"]


def row(passage: Passage) -> tuple[object, ...]:
    return (
        passage.report_id, passage.position, passage.text, passage.sentences,
        passage.speaker, passage.is_caption, passage.page, passage.quote,
    )  # fmt: skip


def test_odd_passages_come_back_equal() -> None:
    _, column = column_bytes(ODD)
    assert list(column) == list(ODD)
    assert [p.sentences for p in column] == [p.sentences for p in ODD]
    assert all(type(p.sentences) is tuple for p in column)


def test_sentences_that_cannot_be_found_in_order_stay_strings() -> None:
    assert sentence_spans(ODD[1].text, ODD[1].sentences) is None
    assert sentence_spans(ODD[2].text, ODD[2].sentences) is None
    assert sentence_spans(ODD[6].text, ODD[6].sentences) is None  # past a uint16
    assert encode_passage(row(ODD[1])) == row(ODD[1])
    encoded = encode_passage(row(ODD[0]))
    assert type(encoded[3]) is bytes and decode_passage(encoded) == row(ODD[0])


def test_the_cached_passages_are_read_back_equal_and_stored_smaller(
    seeds_engine: SearchEngine,
) -> None:
    passages = tuple(seeds_engine.passages)
    size, column = column_bytes(passages)
    assert column == passages
    # Sentences as strings are a second copy of the text, but where the one sentence is
    # the text itself pickle stores it once anyway.
    copied = sum(len(s.encode()) for p in passages if p.sentences != (p.text,) for s in p.sentences)
    assert copied > 1000
    spans = sum(len(encode_passage(row(p))[3]) for p in passages)
    assert spans < copied / 10
    plain = bytearray()
    write_columns({"rows": [row(p) for p in passages]}, plain)
    assert size < len(plain) - copied * 0.8
