"""What a search engine derives from its reports, apart from the BM25 indexes: the
passages, their tokens and stage two's profiles, and each report's tokens.

`make_corpus` analyzes reports; a corpus can be cut into one part per report and
parts merged back (`index_reports`, `merge_parts`, `split_parts`), so a live
reload (retrieval.library) re-analyzes only the reports that changed.  The index
cache (retrieval.corpus_cache) pickles a `Corpus` whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from retrieval import rerank
from retrieval.analyzer import Analyzer
from retrieval.loader import LoadProblem
from retrieval.models import Passage, Report
from retrieval.passages import make_passages


@dataclass(frozen=True, slots=True)
class Corpus:
    """Everything derived from the reports except the scorer (what the cache pickles)."""

    # Tuples when built here; loaded from the index cache, the record columns are
    # retrieval.records.Records and report_tokens is Packed (see corpus_cache).
    reports: Sequence[Report]
    passages: Sequence[Passage]
    passage_tokens: Sequence[tuple[str, ...]]
    problems: tuple[LoadProblem, ...]
    # Stage two's inputs: each passage's profile and report (index into reports),
    # and each report's tokens for the report-level BM25 index.
    profiles: Sequence[rerank.PassageProfile] = ()
    passage_reports: Sequence[int] = ()
    report_tokens: Sequence[tuple[str, ...]] = ()


# Some reports' share of a corpus, analyzed once: `index_reports` makes one per
# report and `merge_parts` joins them.
CorpusPart = Corpus


def make_corpus(
    reports: Sequence[Report], analyzer: Analyzer, problems: Sequence[LoadProblem]
) -> Corpus:
    """`reports` analyzed, in order: passages, tokens, profiles and report tokens."""
    passages: list[Passage] = []
    for report in reports:
        passages.extend(make_passages(report))
    tokens = tuple(tuple(analyzer.tokens(rerank.indexed_text(p))) for p in passages)
    report_index = {report.id: i for i, report in enumerate(reports)}
    return Corpus(
        reports=tuple(reports),
        passages=tuple(passages),
        passage_tokens=tokens,
        problems=tuple(problems),
        profiles=rerank.profile_passages(passages, tokens, analyzer),
        passage_reports=tuple(report_index[p.report_id] for p in passages),
        report_tokens=tuple(tuple(analyzer.tokens(rerank.report_text(r))) for r in reports),
    )


def index_reports(reports: Sequence[Report], analyzer: Analyzer) -> list[CorpusPart]:
    """One analyzed part per report, for `SearchEngine.from_parts`."""
    return [make_corpus((report,), analyzer, ()) for report in reports]


def merge_parts(parts: Sequence[Corpus], problems: Sequence[LoadProblem]) -> Corpus:
    """One corpus from parts, in order; report indices are shifted to the merged list."""
    reports: list[Report] = []
    passage_reports: list[int] = []
    for part in parts:
        offset = len(reports)
        reports.extend(part.reports)
        passage_reports.extend(offset + i for i in part.passage_reports)
    return Corpus(
        reports=tuple(reports),
        passages=tuple(chain.from_iterable(p.passages for p in parts)),
        passage_tokens=tuple(chain.from_iterable(p.passage_tokens for p in parts)),
        problems=tuple(problems),
        profiles=tuple(chain.from_iterable(p.profiles for p in parts)),
        passage_reports=tuple(passage_reports),
        report_tokens=tuple(chain.from_iterable(p.report_tokens for p in parts)),
    )


def split_parts(corpus: Corpus) -> list[Corpus]:
    """The inverse of merge_parts: one part per report (its passages are contiguous)."""
    starts = [0] * (len(corpus.reports) + 1)
    for report_index in corpus.passage_reports:
        starts[report_index + 1] += 1
    for i in range(len(corpus.reports)):
        starts[i + 1] += starts[i]
    parts: list[Corpus] = []
    for i, report in enumerate(corpus.reports):
        start, end = starts[i], starts[i + 1]
        parts.append(
            Corpus(
                reports=(report,),
                passages=corpus.passages[start:end],
                passage_tokens=corpus.passage_tokens[start:end],
                problems=(),
                profiles=corpus.profiles[start:end],
                passage_reports=(0,) * (end - start),
                report_tokens=corpus.report_tokens[i : i + 1],
            )
        )
    return parts
