"""What a refresh of the live library changed, and what it was handed to change.

`Change` is what `Library.refresh` returns: the new engine and the reports that
came, changed and went.  `Pending` holds the reports handed in from outside the
folder (feeds) until the next refresh takes them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retrieval.corpus import CorpusPart, is_indexed_as
from retrieval.loader import LoadProblem
from retrieval.models import Report
from retrieval.record_views import column, field_of, not_in
from retrieval.search import SearchEngine

log = logging.getLogger("retrieval.library")

# How a duplicate's problem starts: made again by every build, never carried over.
DUPLICATE_REASON = "duplicate report id"


@dataclass(frozen=True, slots=True)
class Change:
    """What one refresh changed, and the engine that holds the result."""

    engine: SearchEngine
    # New reports to announce (not those of a feed's first fetch, not the initial load).
    added: tuple[Report, ...] = ()
    updated: tuple[Report, ...] = ()
    removed: tuple[str, ...] = ()
    files_read: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"{len(self.engine.reports)} reports, {len(self.engine.passages)} passages "
            f"(+{len(self.added)} new, {len(self.updated)} changed, {len(self.removed)} gone; "
            f"{self.files_read} files read) in {self.seconds:.2f}s"
        )


@dataclass
class Pending:
    """Reports handed in from outside (feeds) since the last refresh."""

    put: dict[str, Report] = field(default_factory=dict)
    quiet: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def put_all(self, reports: Iterable[Report], announce: bool) -> None:
        for report in reports:
            self.put[report.id] = report
            self.removed.discard(report.id)
            if announce:
                self.quiet.discard(report.id)
            else:
                self.quiet.add(report.id)

    def remove_all(self, report_ids: Iterable[str]) -> None:
        for report_id in report_ids:
            self.put.pop(report_id, None)
            self.removed.add(report_id)


@dataclass(frozen=True, slots=True)
class Diff:
    added: tuple[Report, ...]
    updated: tuple[Report, ...]
    removed: tuple[str, ...]


def diff(previous: SearchEngine | None, engine: SearchEngine, quiet: set[str]) -> Diff:
    if previous is None:  # the first load is where we start, not news
        return Diff((), (), ())
    added: list[Report] = []
    updated: list[Report] = []
    # The reports the rebuild kept where they lie in the cache are the same records: only
    # the others are made and compared (at a million passages, 150,000 reports).
    for report in not_in(engine.reports, previous.reports):
        old = previous.report(report.id)
        if old is None:
            if report.id not in quiet:
                added.append(report)
        elif old != report:
            updated.append(report)
    kept = set(column(engine.reports, "id"))
    removed = tuple(i for i in column(previous.reports, "id") if i not in kept)
    return Diff(tuple(added), tuple(updated), removed)


def holds(part: CorpusPart | None, report: Report) -> bool:
    return part is not None and is_indexed_as(part.reports[0], report)


def first_of_each(
    sources: Iterable[tuple[str, Sequence[CorpusPart], Sequence[LoadProblem]]],
) -> tuple[list[CorpusPart], list[LoadProblem]]:
    """The parts to index from (where from, its parts, its problems): each report id's
    first part only; every source's problems, then a problem for each duplicate in it."""
    parts: list[CorpusPart] = []
    problems: list[LoadProblem] = []
    seen: dict[str, str] = {}
    for where, found, found_problems in sources:
        problems.extend(found_problems)
        for part in found:
            report_id = field_of(part.reports, 0, "id")
            if report_id in seen:
                problems.append(duplicate(where, report_id, seen[report_id]))
                continue
            seen[report_id] = where
            parts.append(part)
    return parts, problems


def duplicate(path: str, report_id: str, first: str) -> LoadProblem:
    problem = LoadProblem(
        path, f"{DUPLICATE_REASON} {report_id!r} (first seen in {first}); this copy is skipped"
    )
    log.warning("skipped %s: %s", problem.path, problem.reason)
    return problem
