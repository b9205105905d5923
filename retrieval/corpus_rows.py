"""A corpus as rows of field values, the form it crosses between processes in
(retrieval.corpus_pool): rows pickle in a third of the time records take.

Tokens cross as term ids (`Numbered`): the terms once, then an int32 per token.  Tuples
of strings took the parent a second per 200,000 passages to unpickle, and as many
again to number for the BM25 build; the ids come back as a `ForwardTokens` column,
which `FastBM25.build` maps onto its own numbering without making a string.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from retrieval.bm25_build import Forward
from retrieval.corpus import Corpus
from retrieval.forward_tokens import ForwardTokens, TermsInOrder, numbered_tokens
from retrieval.models import Passage, Report
from retrieval.records import init_fields, maker
from retrieval.rerank_profile import PassageProfile

T = TypeVar("T")

# A column of token tuples: its terms in order of first appearance, every token's term
# id, and each item's token count.
Numbered = tuple[list[str], npt.NDArray[np.int32], npt.NDArray[np.int64]]
# Rows of reports (or only their languages, when the parent has them), passages, tokens,
# profiles and so on.
Packed = tuple[
    tuple[tuple[Any, ...], ...],  # the reports' rows, or (language,) of each
    tuple[tuple[Any, ...], ...],
    Numbered,
    tuple[tuple[Any, ...], ...],
    Sequence[int],  # an int32 array
    Numbered,
]


def pack(corpus: Corpus, *, with_reports: bool) -> Packed:
    return (
        rows_of(corpus.reports, Report)
        if with_reports
        else tuple((r.language,) for r in corpus.reports),
        rows_of(corpus.passages, Passage),
        numbered(corpus.passage_tokens),
        rows_of(corpus.profiles, PassageProfile),
        array("i", corpus.passage_reports),
        numbered(corpus.report_tokens),
    )


def unpack(packed: Packed, reports: tuple[Report, ...] | None) -> Corpus:
    """The corpus `pack` packed; `reports`: the parent's own, when they were left out."""
    report_rows, passage_rows, tokens, profile_rows, passage_reports, report_tokens = packed
    if reports is not None:  # the worker detected their languages
        languages = [language for (language,) in report_rows]
        reports = tuple(
            r if r.language == code else replace(r, language=code)
            for r, code in zip(reports, languages, strict=True)
        )
    return Corpus(
        reports=reports if reports is not None else records_of(report_rows, Report),
        passages=records_of(passage_rows, Passage),
        passage_tokens=tokens_of(tokens),
        problems=(),
        profiles=records_of(profile_rows, PassageProfile),
        passage_reports=passage_reports,
        report_tokens=tokens_of(report_tokens),
    )


def numbered(tokens: Sequence[tuple[str, ...]]) -> Numbered:
    """`tokens` as `Numbered`, for `tokens_of` to read back."""
    terms, token_ids, lengths = numbered_tokens(tokens)
    return list(terms), token_ids, lengths


def tokens_of(column: Numbered) -> ForwardTokens:
    """The column of token tuples `numbered` numbered, read from its ids when asked."""
    names, token_ids, lengths = column
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return ForwardTokens.whole(Forward(TermsInOrder(names), token_ids, starts))


def rows_of(records: Sequence[Any], cls: type) -> tuple[tuple[Any, ...], ...]:
    names = init_fields(cls)
    assert names is not None, f"{cls.__name__} is made from its fields in order"
    return tuple([tuple([getattr(record, name) for name in names]) for record in records])


def records_of(rows: Sequence[tuple[Any, ...]], cls: type[T]) -> tuple[T, ...]:
    make = maker(cls)
    return tuple([make(*row) for row in rows])
