"""The semantic index of one corpus: a unit vector for every window and every distinct
sentence, lined up with the corpus' passage numbers.

`texts_to_embed` lists what a corpus needs embedded, `embed_missing` embeds what the
`VectorStore` lacks (in chunks, so that it can stop between two), and `assemble` builds
the index once every vector is there.  The index is immutable and pure numpy: dense
candidates for a question vector, and cosines of windows and sentences.

It holds no vectors of its own: for each window and sentence, the row holding its vector
in a `Snapshot` of the store's int8 chunks (memory-mapped), taken when it was assembled.
So assembling costs a lookup per text, not a copy of the archive's vectors, and the
indexes of two corpora (the stage keeps the last two) share the same chunks.  What it
copies is each text's sign bits (an eighth of its int8 row), in its own order: a
question's nearest texts are found by them, and only those, and the texts the ranker
asks about, are read from the int8 rows (`nearest_windows`, `window_cosines`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.corpus import Corpus
from retrieval.record_views import column
from retrieval.semantic import Embedder, Vectors
from retrieval.vector_near import compiled_nearest, nearest_by_signs
from retrieval.vector_quant import Float32s, Snapshot, Words, sign_bits
from retrieval.vector_store import VectorStore, text_key

log = logging.getLogger(__name__)

Ints = NDArray[np.int64]
# What the index keeps: numbers of rows, passages, sentences and reports, all below 2**31
# (half the bytes of int64: about 60 MB less at a million passages).
Int32s = NDArray[np.int32]
Indices = NDArray[np.integer[Any]]
# MiniLM was trained on English: reports in other languages get no dense candidates.
SEMANTIC_LANGUAGES = frozenset({"en"})
# Texts scored exactly for each nearest one asked for, found by their sign bits first
# (and at least _SCORED_AT_LEAST): on the NewsQA dev questions, 99.8% of the nearest 30
# of a pass over every int8 row are then found (docs/quality.md, "Nearest by sign bits").
_SCORED_EACH = 64
_SCORED_AT_LEAST = 2000


@dataclass(frozen=True, slots=True)
class CorpusTexts:
    """What of a corpus is embedded: each window, and each distinct sentence once."""

    window_keys: tuple[bytes, ...]
    sentences: tuple[str, ...]
    sentence_keys: tuple[bytes, ...]
    # Sentences of passage p: members[offsets[p]:offsets[p + 1]] (ids into `sentences`).
    offsets: Ints
    members: Ints

    def all_keys(self) -> list[bytes]:
        return [*self.window_keys, *self.sentence_keys]


def texts_to_embed(corpus: Corpus) -> CorpusTexts:
    sentence_ids: dict[str, int] = {}
    offsets = [0]
    members: list[int] = []
    for passage in corpus.passages:
        for sentence in passage.sentences or (passage.text,):
            members.append(sentence_ids.setdefault(sentence, len(sentence_ids)))
        offsets.append(len(members))
    sentences = tuple(sentence_ids)
    return CorpusTexts(
        window_keys=tuple(text_key(p.text) for p in corpus.passages),
        sentences=sentences,
        sentence_keys=tuple(text_key(s) for s in sentences),
        offsets=np.asarray(offsets, dtype=np.int64),
        members=np.asarray(members, dtype=np.int64),
    )


def embed_missing(
    corpus: Corpus,
    texts: CorpusTexts,
    missing: list[bytes],
    store: VectorStore,
    embedder: Embedder,
    *,
    chunk: int = 256,
    stop: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Embed the texts of `corpus` whose keys are `missing` (`store.missing` of
    `texts.all_keys()`) into `store`; False when `stop()` said to stop first (what was
    embedded is kept).  `progress(done, total)` follows each chunk."""
    if not missing:
        return True
    by_key = {k: p.text for k, p in zip(texts.window_keys, corpus.passages, strict=True)}
    by_key.update(zip(texts.sentence_keys, texts.sentences, strict=True))
    # Short texts first: sentences are cheap, and similar lengths batch well.
    order = sorted(missing, key=lambda k: len(by_key[k]))
    for start in range(0, len(order), chunk):
        if stop():
            return False
        keys = order[start : start + chunk]
        store.add(keys, embedder.embed([by_key[k] for k in keys]))
        if progress is not None:
            progress(start + len(keys), len(order))
    return True


@dataclass(frozen=True, slots=True)
class SemanticIndex:
    vectors: Snapshot  # the store's chunks when this index was assembled
    window_rows: Int32s  # [passages]: the row of each window's vector in `vectors`
    sentence_rows: Int32s  # [distinct sentences]
    offsets: Int32s
    members: Int32s
    # Passages holding sentence s: holders[holder_offsets[s]:holder_offsets[s + 1]].
    holder_offsets: Int32s
    holders: Int32s
    passage_reports: Int32s
    # Passages of report r: report_passages[report_offsets[r]:report_offsets[r + 1]].
    report_offsets: Int32s
    report_passages: Int32s
    # Passages of a report the model reads (English): only they are dense candidates,
    # and only their sentences count for the not-found rule.
    eligible: NDArray[np.bool_]
    sentence_eligible: NDArray[np.bool_]
    # The sign bits of each window's and sentence's vector (sign_bits), in this order.
    window_signs: Words
    sentence_signs: Words

    @property
    def size(self) -> int:
        return len(self.window_rows)

    def cosines(self, question: Vectors) -> tuple[Float32s, Float32s]:
        """The cosine of the unit vector `question` with every window ([passages]) and
        every sentence ([distinct sentences]): one pass over the chunks (rows of texts no
        longer in the corpus included), then the corpus' rows picked out."""
        every = self.vectors.cosines(question)
        return every[self.window_rows], every[self.sentence_rows]

    def nearest_windows(self, question: Vectors, count: int) -> tuple[Ints, Float32s]:
        """The `count` eligible windows nearest `question`, best first, and their cosines."""
        return self._nearest(self.window_signs, self.eligible, self.window_rows, question, count)

    def nearest_sentences(self, question: Vectors, count: int) -> tuple[Ints, Float32s]:
        signs, eligible, rows = self.sentence_signs, self.sentence_eligible, self.sentence_rows
        return self._nearest(signs, eligible, rows, question, count)

    def window_cosines(self, passages: Indices, question: Vectors) -> Float32s:
        """The cosines of these passages' windows with `question`, read from their rows."""
        return self.vectors.dots(self.window_rows[passages], question)

    def sentence_cosines(self, sentences: Indices, question: Vectors) -> Float32s:
        return self.vectors.dots(self.sentence_rows[sentences], question)

    def _nearest(
        self, signs: Words, eligible: NDArray[np.bool_], rows: Int32s, question: Vectors, count: int
    ) -> tuple[Ints, Float32s]:
        scored = max(count * _SCORED_EACH, _SCORED_AT_LEAST)
        picked = nearest_by_signs(signs, eligible, sign_bits(question), scored)
        cosines = self.vectors.dots(rows[picked], question)
        best = np.argsort(-cosines, kind="stable")[:count]
        return picked[best], cosines[best]

    def sentences_of(self, passage: int) -> Int32s:
        return self.members[self.offsets[passage] : self.offsets[passage + 1]]

    def holders_of(self, sentence: int) -> Int32s:
        return self.holders[self.holder_offsets[sentence] : self.holder_offsets[sentence + 1]]

    def passages_of_report(self, report: int) -> Int32s:
        start, end = self.report_offsets[report], self.report_offsets[report + 1]
        return self.report_passages[start:end]

    def nbytes(self) -> int:
        """What this index holds itself; the vectors it reads are `vector_nbytes`."""
        arrays = (
            self.window_rows,
            self.sentence_rows,
            self.offsets,
            self.members,
            self.holder_offsets,
            self.holders,
            self.passage_reports,
            self.report_offsets,
            self.report_passages,
            self.eligible,
            self.sentence_eligible,
            self.window_signs,
            self.sentence_signs,
        )
        return sum(a.nbytes for a in arrays)

    def vector_nbytes(self) -> int:
        """What the chunks it reads take (memory-mapped, shared with other indexes)."""
        return self.vectors.nbytes()


def assemble(corpus: Corpus, texts: CorpusTexts, store: VectorStore) -> SemanticIndex:
    """The index of `corpus`; every one of its texts must be in `store`."""
    members = texts.members
    passage_of_member = np.repeat(np.arange(len(texts.window_keys)), np.diff(texts.offsets))
    order = np.argsort(members, kind="stable")
    counts = np.bincount(members, minlength=len(texts.sentences))
    holder_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    languages = column(corpus.reports, "language")  # making no report record
    readable = np.array([lang is None or lang in SEMANTIC_LANGUAGES for lang in languages])
    reports = np.asarray(corpus.passage_reports, dtype=np.int64)
    eligible = readable[reports] if len(reports) else np.zeros(0, dtype=bool)
    per_report = np.bincount(reports, minlength=len(languages))
    holders = passage_of_member[order].astype(np.int64)
    sentence_eligible = np.zeros(len(texts.sentences), dtype=bool)
    sentence_eligible[members[eligible[passage_of_member]]] = True
    vectors, (window_rows, sentence_rows) = store.locate(texts.window_keys, texts.sentence_keys)
    # The kernel's compile (or its load from numba's cache) starts when an index is built,
    # not at its first question, which would otherwise share the interpreter with it.
    compiled_nearest()

    def compact(numbers: NDArray[np.integer[Any]]) -> Int32s:
        return np.ascontiguousarray(numbers, dtype=np.int32)

    return SemanticIndex(
        vectors=vectors,
        window_rows=compact(window_rows),
        sentence_rows=compact(sentence_rows),
        offsets=compact(texts.offsets),
        members=compact(members),
        holder_offsets=compact(holder_offsets),
        holders=compact(holders),
        passage_reports=compact(reports),
        report_offsets=compact(np.concatenate([[0], np.cumsum(per_report)])),
        report_passages=compact(np.argsort(reports, kind="stable")),
        eligible=eligible,
        sentence_eligible=sentence_eligible,
        window_signs=vectors.signs(window_rows),
        sentence_signs=vectors.signs(sentence_rows),
    )


def top_indices(scores: NDArray[np.floating], k: int, mask: NDArray[np.bool_] | None) -> Ints:
    """The `k` best indices of `scores`, best first, among `mask` (all when None)."""
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[np.isfinite(scores[part])]
    best: Ints = part[np.argsort(-scores[part], kind="stable")].astype(np.int64)
    return best
