"""What an engine holds of loaded reports: each with its language, detected when the
metadata gave none (retrieval.corpus.with_language)."""

from __future__ import annotations

from collections.abc import Iterable

from retrieval.analyzer import Analyzer
from retrieval.corpus import with_language
from retrieval.models import Report

_ANALYZER = Analyzer()


def as_indexed(reports: Iterable[Report]) -> tuple[Report, ...]:
    return tuple(with_language(report, _ANALYZER) for report in reports)
