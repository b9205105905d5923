"""What a search engine derives from its reports, apart from the BM25 indexes: the
passages, their tokens and stage two's profiles, and each report's tokens.

`make_corpus` analyzes reports; a corpus can be cut into one part per report and
parts merged back (`index_reports`, `merge_parts`, `split_parts`), so a live
reload (retrieval.library) re-analyzes only the reports that changed.  An engine keeps
the tokens as its BM25 indexes' term ids (`tokens_of_indexes`); the index cache
(retrieval.corpus_cache) stores the rest; retrieval.corpus_pool runs `make_corpus` on
several cores.

Each sentence is analyzed once: a passage's tokens and its report's are its
sentences' tokens one after another whenever its text is those sentences with
whitespace between (`analyzer.space_separated`), and the text is analyzed whole only
where it is not (a window cut inside a word).  The tokens are the same either way.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import chain

from retrieval import languages, rerank, rerank_profile
from retrieval.analyzer import Analyzer, space_separated
from retrieval.bm25_build import Forward
from retrieval.forward_tokens import ForwardTokens
from retrieval.loader import LoadProblem
from retrieval.models import Passage, Report
from retrieval.passages import make_passages
from retrieval.record_views import records_cut
from retrieval.stored_columns import cutter, joined


@dataclass(frozen=True, slots=True)
class Corpus:
    """Everything derived from the reports except the scorer (what the cache pickles)."""

    # Tuples when built here; loaded from the index cache, reports are
    # retrieval.records.Records and the other columns but problems and passage_reports
    # retrieval.stored_columns.StoredColumn (see corpus_cache); joined from parts of
    # one, views of those (record_views.RecordsView, stored_columns.ColumnView).
    reports: Sequence[Report]
    passages: Sequence[Passage]
    passage_tokens: Sequence[tuple[str, ...]]
    problems: tuple[LoadProblem, ...]
    # Stage two's inputs: each passage's profile and report (index into reports: an
    # int32 array, 4 bytes a passage where a tuple of ints took 36), and each report's
    # tokens for the report-level BM25 index.
    profiles: Sequence[rerank_profile.PassageProfile] = ()
    passage_reports: Sequence[int] = field(default_factory=lambda: array("i"))
    report_tokens: Sequence[tuple[str, ...]] = ()


# Some reports' share of a corpus, analyzed once: `index_reports` makes one per
# report and `merge_parts` joins them.
CorpusPart = Corpus


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile, back as it was after.

    Analysis makes millions of objects that live as long as the engine (tuples,
    records, strings) and no reference cycles; with the collector on, it walks that
    growing heap again and again, a sixth of a build's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def make_corpus(
    reports: Sequence[Report], analyzer: Analyzer, problems: Sequence[LoadProblem]
) -> Corpus:
    """`reports` analyzed, in order: passages, tokens, profiles and report tokens."""
    with collector_paused():
        return _make_corpus(reports, analyzer, problems)


def _make_corpus(
    reports: Sequence[Report], analyzer: Analyzer, problems: Sequence[LoadProblem]
) -> Corpus:
    reports = [with_language(report, analyzer) for report in reports]
    passages_of = [make_passages(report) for report in reports]
    passages = tuple(chain.from_iterable(passages_of))
    tokens: list[tuple[str, ...]] = []
    profiles: list[rerank_profile.PassageProfile] = []
    report_tokens: list[tuple[str, ...]] = [()] * len(reports)
    # Each language's memo of word -> cue terms (rerank_profile.profile_report).
    word_terms: dict[str, dict[str, list[str]]] = {}
    for group in _report_groups(reports, passages_of):
        language = reports[group[0]].language
        own = analyzer.for_language(language)
        group_passages = [passage for i in group for passage in passages_of[i]]
        sentences = rerank_profile.analyze_sentences(group_passages, own)
        group_tokens = [passage_tokens(p, sentences, own) for p in group_passages]
        pairs = list(zip(group_passages, group_tokens, strict=True))
        memo = word_terms.setdefault(own.language, {})
        profiles.extend(rerank_profile.profile_report(pairs, sentences, own, memo))
        tokens.extend(group_tokens)
        for i in group:
            report_tokens[i] = report_tokens_of(reports[i], passages_of[i], sentences, own)
    for i, report in enumerate(reports):
        if not passages_of[i]:
            own = analyzer.for_language(report.language)
            report_tokens[i] = report_tokens_of(report, (), {}, own)
    report_index = {report.id: i for i, report in enumerate(reports)}
    return Corpus(
        reports=tuple(reports),
        passages=passages,
        passage_tokens=tuple(tokens),
        problems=tuple(problems),
        profiles=tuple(profiles),
        passage_reports=array("i", [report_index[p.report_id] for p in passages]),
        report_tokens=tuple(report_tokens),
    )


def with_language(report: Report, analyzer: Analyzer) -> Report:
    """`report` with its language: its metadata's, else the detected one (None when
    it cannot be told: then it is analyzed as the default language)."""
    if report.language is not None:
        return report
    language = analyzer.detect(language_sample(report))
    return report if language is None else replace(report, language=language)


def is_indexed_as(indexed: Report, report: Report) -> bool:
    """Whether `indexed` (an engine's) is what indexing `report` gives: the same record,
    but for the language indexing detected when `report` named none."""
    if indexed == report:
        return True
    return report.language is None and replace(report, language=indexed.language) == indexed


def language_sample(report: Report) -> str:
    """What the detector reads of a report: its title and first paragraphs."""
    sample = [report.title]
    length = len(report.title)
    for paragraph in report.paragraphs:
        if length >= languages.REPORT_SAMPLE_CHARS:
            break
        sample.append(paragraph)
        length += len(paragraph) + 1
    return "\n".join(sample)[: languages.REPORT_SAMPLE_CHARS]


def _report_groups(
    reports: Sequence[Report], passages_of: Sequence[Sequence[Passage]]
) -> list[list[int]]:
    """The reports whose passages are profiled together: one each, except that reports of
    one id whose passages follow one another are one report to the profile (as they
    are to rerank_profile.profile_passages, which groups the passages by report id)."""
    groups: list[list[int]] = []
    for i, report in enumerate(reports):
        if not passages_of[i]:
            continue
        if groups and reports[groups[-1][-1]].id == report.id:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def passage_tokens(
    passage: Passage, sentence_tokens: Mapping[str, Sequence[str]], analyzer: Analyzer
) -> tuple[str, ...]:
    """`analyzer.tokens` of the passage's indexed text, from its sentences' tokens when
    the text is those sentences with whitespace between (analyzer.space_separated)."""
    text = rerank.indexed_text(passage)
    pieces = space_separated(text, passage.sentences)
    if pieces is None:  # e.g. a sentence cut inside a word
        return tuple(analyzer.tokens(text))
    return tuple(chain.from_iterable(map(sentence_tokens.__getitem__, pieces)))


def report_tokens_of(
    report: Report,
    passages: Sequence[Passage],
    sentence_tokens: Mapping[str, Sequence[str]],
    analyzer: Analyzer,
) -> tuple[str, ...]:
    """`analyzer.tokens` of the report-level index's text: the title's tokens, then its
    passages' sentences' (each once: windows overlap), when that text is made of them."""
    text = rerank.report_text(report)
    title = report.title.strip()
    sentences = chain.from_iterable(passage.sentences for passage in passages)
    pieces = space_separated(text, chain((title,), sentences))
    if pieces is None:
        return tuple(analyzer.tokens(text))
    tokens: list[str] = []
    for piece in pieces:
        known = sentence_tokens.get(piece)
        tokens.extend(known if known is not None else analyzer.tokens(piece))
    return tuple(tokens)


def index_reports(reports: Sequence[Report], analyzer: Analyzer) -> list[CorpusPart]:
    """One analyzed part per report, for `SearchEngine.from_parts`."""
    return [make_corpus((report,), analyzer, ()) for report in reports]


def merge_parts(parts: Sequence[Corpus], problems: Sequence[LoadProblem]) -> Corpus:
    """One corpus from parts, in order; report indices are shifted to the merged list."""
    passage_reports = array("i")
    offset = 0
    for part in parts:
        passage_reports.extend(offset + i for i in part.passage_reports)
        offset += len(part.reports)
    # Columns still in the index cache's file stay there (stored_columns.joined), and so
    # do reports not made yet (record_views).
    return Corpus(
        reports=joined(p.reports for p in parts),
        passages=joined(p.passages for p in parts),
        passage_tokens=joined(p.passage_tokens for p in parts),
        problems=tuple(problems),
        profiles=joined(p.profiles for p in parts),
        passage_reports=passage_reports,
        report_tokens=joined(p.report_tokens for p in parts),
    )


def tokens_of_indexes(corpus: Corpus, passages: Forward | None, reports: Forward | None) -> Corpus:
    """`corpus` with its passages' and reports' tokens read from the forward indexes of
    their BM25 indexes (retrieval.forward_tokens) instead of kept as tuples; an index
    that does not hold one document per passage (report) is not used."""
    changes: dict[str, ForwardTokens] = {}
    for name, forward, items in (
        ("passage_tokens", passages, corpus.passages),
        ("report_tokens", reports, corpus.reports),
    ):
        kept = getattr(corpus, name)
        if forward is None or forward.size != len(items):
            continue
        if not (isinstance(kept, ForwardTokens) and kept.is_whole(forward)):
            changes[name] = ForwardTokens.whole(forward)
    return replace(corpus, **changes) if changes else corpus  # type: ignore[arg-type]


def parts_reading(corpus: Corpus, parts: Sequence[Corpus]) -> list[Corpus]:
    """`parts`, of one report each, as merged into `corpus` (merge_parts), with their
    tokens cut from its columns (views of its indexes, not tuples of their own)."""
    if len(parts) != len(corpus.reports):
        return list(parts)
    cut_parts: list[Corpus] = []
    at, tokens, report_tokens = 0, cutter(corpus.passage_tokens), cutter(corpus.report_tokens)
    for i, part in enumerate(parts):
        end = at + len(part.passages)
        cut_parts.append(
            Corpus(
                reports=part.reports,
                passages=part.passages,
                passage_tokens=tokens(at, end),
                problems=part.problems,
                profiles=part.profiles,
                passage_reports=part.passage_reports,
                report_tokens=report_tokens(i, i + 1),
            )
        )
        at = end
    return cut_parts


def split_parts(corpus: Corpus) -> list[Corpus]:
    """The inverse of merge_parts: one part per report (its passages are contiguous)."""
    starts = [0] * (len(corpus.reports) + 1)
    for report_index in corpus.passage_reports:
        starts[report_index + 1] += 1
    for i in range(len(corpus.reports)):
        starts[i + 1] += starts[i]
    parts: list[Corpus] = []
    reports = cutter(records_cut(corpus.reports, 0, len(corpus.reports)))
    passages, tokens = cutter(corpus.passages), cutter(corpus.passage_tokens)
    profiles, report_tokens = cutter(corpus.profiles), cutter(corpus.report_tokens)
    for i in range(len(corpus.reports)):
        start, end = starts[i], starts[i + 1]
        parts.append(
            Corpus(
                reports=reports(i, i + 1),
                passages=passages(start, end),
                passage_tokens=tokens(start, end),
                problems=(),
                profiles=profiles(start, end),
                passage_reports=array("i", [0]) * (end - start),
                report_tokens=report_tokens(i, i + 1),
            )
        )
    return parts
