"""Topics: does a report speak to a topic, and which are the newest reports that do?

A report matches a topic when the engine would answer the topic, read as a
question, from that report alone: the same BM25 scores (with the whole
collection's statistics), the same second stage and the same not-found rule
as any question, with the candidates restricted to the report's passages.
Subscriptions (is this new report worth a push?) and `/latest TOPIC` (the
newest reports on it) share this one rule, so a report pushed for a topic is
one `/latest TOPIC` lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from retrieval.analyzer import Analyzer
from retrieval.models import Hit, Report
from retrieval.search import SearchEngine

MAX_TOPIC_CHARS = 200


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


def match_new_reports(
    engine: SearchEngine, topics: Iterable[str], reports: Sequence[Report], limit: int
) -> dict[str, list[Hit]]:
    """For each topic, the best hit of each of `reports` that matches it, newest first.

    At most `limit` hits per topic: whoever follows it is told the first few
    and pointed to `/latest TOPIC` for the rest.
    """
    ordered = newest_first(reports)
    matched: dict[str, list[Hit]] = {}
    for topic in dict.fromkeys(topics):
        hits: list[Hit] = []
        for report in ordered:
            hit = report_answer(engine, topic, report.id)
            if hit is not None:
                hits.append(hit)
                if len(hits) == limit:
                    break
        if hits:
            matched[topic] = hits
    return matched
