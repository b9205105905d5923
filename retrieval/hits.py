"""From stage two's ranking to the hits shown: windows that repeat one already shown
are left out, each hit gets its best sentence, and its window is widened for quoting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retrieval.analyzer import Analyzer
from retrieval.models import Hit, Report
from retrieval.passages import widen
from retrieval.records import maker
from retrieval.rerank import Query, RerankSettings, Scored

# Hit's own __init__ costs more than the rest of a hit's making (retrieval.records.maker).
_make_hit = maker(Hit)


def make_hits(
    query: Query,
    ranked: Sequence[Scored],
    top: int,
    reports: Mapping[str, Report],
    analyzer: Analyzer,
    settings: RerankSettings,
) -> list[Hit]:
    """The `top` best distinct windows of `ranked` (best first) as hits ranked from 1;
    `reports` holds every candidate's report by id."""
    hits: list[Hit] = []
    distinct = distinct_windows(ranked, settings.shared_sentences, top)
    for rank, scored in enumerate(distinct, start=1):
        passage = scored.candidate.passage
        report = reports[passage.report_id]
        best = best_sentence(query, scored, analyzer)
        if settings.widen_quotes:
            passage = widen(passage, report)
        hits.append(_make_hit(rank, scored.score, passage, report, best))
    return hits


def distinct_windows(
    ranked: Sequence[Scored], shared: int, limit: int | None = None
) -> list[Scored]:
    """Drop windows that mostly repeat one already shown: the reader should not
    read the same sentences again when pressing "More".  The first `limit` of them
    (all without one): a window is kept or dropped by those before it only, so the
    rest of the ranking need not be looked at.

    A window may share up to `shared` sentences with each window of its report
    shown before it, but may not lie inside one.  Half-overlapping windows often
    differ only in the sentence after the match, which is where the answer tends
    to be, so dropping every overlap (`shared` 0) lost answers (docs/quality.md,
    `RerankSettings.shared_sentences`).
    """
    kept: list[Scored] = []
    seen: dict[str, list[set[str]]] = {}
    for scored in ranked:
        if limit is not None and len(kept) >= limit:
            break
        passage = scored.candidate.passage
        sentences = set(passage.sentences)
        earlier = seen.setdefault(passage.report_id, [])
        if any(len(sentences & other) > shared or sentences <= other for other in earlier):
            continue
        earlier.append(sentences)
        kept.append(scored)
    return kept


def best_sentence(query: Query, scored: Scored, analyzer: Analyzer) -> str:
    """The sentence that scored best; for a passage scored as one block, the
    sentence holding the most of the question's weight (the first on a tie)."""
    passage = scored.candidate.passage
    if 0 <= scored.best_sentence < len(passage.sentences):
        return passage.sentences[scored.best_sentence]
    wanted = set(query.terms)
    best, best_weight = (passage.sentences[0] if passage.sentences else passage.text), -1.0
    for sentence in passage.sentences:
        terms = {term for term, _, _ in analyzer.spans(sentence)} & wanted
        weight = sum(w for t, w in query.weights.items() if t in terms)
        if weight > best_weight:
            best, best_weight = sentence, weight
    return best
