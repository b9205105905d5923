"""A corpus as rows of field values, the form it crosses between processes in
(retrieval.corpus_pool): rows pickle in a third of the time records take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypeVar

from retrieval.corpus import Corpus
from retrieval.models import Passage, Report
from retrieval.records import init_fields, maker
from retrieval.rerank_profile import PassageProfile

T = TypeVar("T")

# Rows of reports (or only their languages, when the parent has them), passages, tokens,
# profiles and so on.
Packed = tuple[
    tuple[tuple[Any, ...], ...],  # the reports' rows, or (language,) of each
    tuple[tuple[Any, ...], ...],
    tuple[tuple[str, ...], ...],
    tuple[tuple[Any, ...], ...],
    tuple[int, ...],
    tuple[tuple[str, ...], ...],
]


def pack(corpus: Corpus, *, with_reports: bool) -> Packed:
    return (
        rows_of(corpus.reports, Report)
        if with_reports
        else tuple((r.language,) for r in corpus.reports),
        rows_of(corpus.passages, Passage),
        tuple(corpus.passage_tokens),
        rows_of(corpus.profiles, PassageProfile),
        tuple(corpus.passage_reports),
        tuple(corpus.report_tokens),
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
        passage_tokens=tokens,
        problems=(),
        profiles=records_of(profile_rows, PassageProfile),
        passage_reports=passage_reports,
        report_tokens=report_tokens,
    )


def rows_of(records: Sequence[Any], cls: type) -> tuple[tuple[Any, ...], ...]:
    names = init_fields(cls)
    assert names is not None, f"{cls.__name__} is made from its fields in order"
    return tuple([tuple([getattr(record, name) for name in names]) for record in records])


def records_of(rows: Sequence[tuple[Any, ...]], cls: type[T]) -> tuple[T, ...]:
    make = maker(cls)
    return tuple([make(*row) for row in rows])
