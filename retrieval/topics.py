"""Topics: does a report speak to a topic, and which are the newest reports that do?

A report matches a topic when the engine would answer the topic, read as a
question, from that report alone: the same BM25 scores (with the whole
collection's statistics), the same second stage and the same not-found rule
as any question, with the candidates restricted to the report's passages.
Subscriptions (is this new report worth a push?) and `/latest TOPIC` (the
newest reports on it) share this one rule, so a report pushed for a topic is
one `/latest TOPIC` lists.

Matching a batch of new reports against every subscribed topic is bounded,
whatever the sizes: a topic costs at most `1 + 2 × limit` searches (a small
batch is checked report by report; a bigger one is first searched as a whole,
and only the reports of its best passages are checked), only the newest
`MAX_REPORTS_PER_BATCH` reports of a batch are matched, and a batch spends at
most `MAX_SEARCHES_PER_BATCH` searches.  Each cut is logged, and
`/latest TOPIC` still finds what was cut.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retrieval.analyzer import Analyzer
from retrieval.models import Hit, Report
from retrieval.search import SearchEngine

log = logging.getLogger(__name__)

MAX_TOPIC_CHARS = 200
# A batch bigger than this (a feed's first fetch, a folder copied in) is matched by its
# newest reports only: subscribers are told about those, and /latest TOPIC lists the rest.
MAX_REPORTS_PER_BATCH = 200
# Searches one batch may spend on all its topics together (enough for 2,000 topics at the
# pushes' limit of 6); the topics past it are not matched against that batch.  A search
# within one report takes well under a millisecond, one over a whole batch a few.
MAX_SEARCHES_PER_BATCH = 30_000


def normalize_topic(topic: str) -> str:
    return " ".join(topic.split())


def has_search_terms(engine: SearchEngine, topic: str) -> bool:
    """False for a topic of stopwords and punctuation only: nothing could ever match it."""
    return bool(Analyzer(engine.settings.analyzer).tokens(topic))


def report_answer(engine: SearchEngine, topic: str, report_id: str) -> Hit | None:
    """The report's best passage on `topic`, or None when the report does not answer it."""
    hits = engine.search(topic, top=1, within=(report_id,))
    return hits[0] if hits else None


def newest_first(reports: Iterable[Report]) -> list[Report]:
    return sorted(reports, key=lambda r: (r.published, r.id), reverse=True)


def newest_on_topic(engine: SearchEngine, topic: str, n: int) -> list[Report]:
    """Up to `n` reports that match `topic`, newest first.

    The candidates are the reports of the engine's best passages for the
    topic (its `candidates` setting: 100 by default), each then checked on
    its own.
    """
    if n <= 0:
        return []
    hits = engine.search(topic, top=engine.settings.candidates)
    found: list[Report] = []
    for report in newest_first({hit.report.id: hit.report for hit in hits}.values()):
        if report_answer(engine, topic, report.id) is not None:
            found.append(report)
            if len(found) == n:
                break
    return found


@dataclass(frozen=True, slots=True)
class BatchMatches:
    """What `match_new_reports` found, what it cost, and what its caps left out."""

    hits: dict[str, list[Hit]] = field(default_factory=dict)
    searches: int = 0
    reports_left_out: int = 0
    topics_left_out: int = 0


def match_new_reports(
    engine: SearchEngine,
    topics: Iterable[str],
    reports: Sequence[Report],
    limit: int,
    *,
    max_reports: int = MAX_REPORTS_PER_BATCH,
    max_searches: int = MAX_SEARCHES_PER_BATCH,
) -> BatchMatches:
    """For each topic, the best hit of each of `reports` that matches it, newest first.

    At most `limit` hits per topic: whoever follows it is told the first few
    and pointed to `/latest TOPIC` for the rest.  Each report is checked on its
    own with `report_answer`, the rule `/latest TOPIC` applies; in a batch of
    more than `2 × limit` reports only the candidates are checked: the reports
    of the best `2 × limit` passages of one search over the whole batch.
    """
    batch = newest_first(reports)
    kept = batch[:max_reports]
    wanted = list(dict.fromkeys(topics))
    checks = 2 * limit
    matched: dict[str, list[Hit]] = {}
    searches = done = 0
    for topic in wanted:
        if limit <= 0 or searches + 1 + checks > max_searches:
            break
        done += 1
        candidates = kept
        if len(kept) > checks:
            searches += 1
            candidates = _candidates(engine, topic, kept, checks)
        hits: list[Hit] = []
        for report in candidates:
            searches += 1
            hit = report_answer(engine, topic, report.id)
            if hit is not None:
                hits.append(hit)
                if len(hits) == limit:
                    break
        if hits:
            matched[topic] = hits
    result = BatchMatches(matched, searches, len(batch) - len(kept), len(wanted) - done)
    _log_cuts(result, len(batch), max_searches)
    return result


def _candidates(
    engine: SearchEngine, topic: str, batch: Sequence[Report], top: int
) -> list[Report]:
    """The reports of the batch's best `top` passages on `topic`, newest first."""
    by_id = {report.id: report for report in batch}
    found = engine.search(topic, top=top, within=list(by_id))
    return newest_first({hit.report.id: by_id[hit.report.id] for hit in found}.values())


def _log_cuts(result: BatchMatches, batch: int, max_searches: int) -> None:
    if result.reports_left_out:
        log.warning(
            "%d new reports at once: only the newest %d were matched against subscriptions",
            batch,
            batch - result.reports_left_out,
        )
    if result.topics_left_out:
        log.warning(
            "%d subscribed topics were not matched against %d new reports: the batch "
            "reached its budget of %d searches",
            result.topics_left_out,
            batch - result.reports_left_out,
            max_searches,
        )
