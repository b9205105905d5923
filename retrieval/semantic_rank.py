"""The semantic stage: BM25's candidates and the nearest windows and sentences by meaning,
scored together by a linear model fitted on NewsQA tune questions, and a not-found rule
on the question's best cosine with any sentence.

Why these pieces (docs/quality.md, "The semantic stage"):
* BM25's 100 candidates hold an answer for about 0.88 of the dev questions and for 0.40
  of questions asked in other words; adding the 30 nearest windows and the windows of
  the 30 nearest sentences lifts that to about 0.93 for both.
* Which of them holds the answer is decided by a handful of features (stage two's own
  score and rank, BM25, cosines of the window, its best sentence and its report, where
  the window sits in its story, how much of the question's weight it holds), weighed by
  a logistic regression fitted by `benchmarks/fit_semantic.py` and kept as data in
  `retrieval/data/semantic-ranker.json`.
* An off-topic question has no sentence close to it: the best cosine separates them
  better than any lexical evidence rule, and refuses far fewer paraphrases.

Pure numpy over a `SemanticIndex` and a question vector; stage two (`retrieval.rerank`)
scores every candidate, so the bold sentence is still stage two's pick in the window.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retrieval import rerank
from retrieval.rerank import Query, RerankSettings, Scored
from retrieval.semantic_index import Indices, Ints, SemanticIndex

MODEL_FILE = Path(__file__).resolve().parent / "data" / "semantic-ranker.json"

# The features, in the order the model file's weights follow.
FEATURES = (
    "stage_two",  # stage two's score / the best candidate's
    "stage_two_rank",  # 1 / (1 + its rank by stage two)
    "bm25",  # passage BM25 / the best candidate's
    "window_cosine",
    "window_cosine_gap",  # minus the best window's cosine in the whole collection
    "sentence_cosine",  # the window's best sentence
    "sentence_cosine_gap",  # minus the best sentence's in the whole collection
    "report_cosine",  # the best window of the same report
    "report_cosine_gap",  # minus the best such among the candidates
    "report_stage_two",  # the best stage-two share among the report's candidates
    "lead",  # 1 / (1 + ln(1 + ordinal of the window's first sentence))
    "coverage",  # share of the question's weight in the window
    "evidence",  # the best share within two adjacent sentences
    "cosine_rank",  # 1 / (1 + its rank by window cosine among the candidates)
)
Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RankerModel:
    """A fitted linear scorer: (features - mean) / scale · weights + intercept."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    # Refuse when no sentence of the collection has a cosine this high with the question.
    refuse_below: float
    dense_windows: int = 30
    dense_sentences: int = 30
    fitted_on: str = ""

    def score(self, features: Floats) -> Floats:
        standard = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(standard @ np.asarray(self.weights) + self.intercept, dtype=np.float64)

    def as_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "intercept": self.intercept,
            "refuse_below": self.refuse_below,
            "dense_windows": self.dense_windows,
            "dense_sentences": self.dense_sentences,
            "fitted_on": self.fitted_on,
        }


def read_model(path: Path) -> RankerModel:
    """The model in `path`; raises ValueError naming what is wrong with it."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data.get("features", ())) != FEATURES:
        raise ValueError(
            f"{path} was fitted on other features than this code computes: "
            "refit it with python -m benchmarks.fit_semantic"
        )
    sizes = {len(data[key]) for key in ("mean", "scale", "weights")}
    if sizes != {len(FEATURES)}:
        raise ValueError(f"{path}: mean, scale and weights must each have {len(FEATURES)} values")
    return RankerModel(
        mean=tuple(float(x) for x in data["mean"]),
        scale=tuple(float(x) or 1.0 for x in data["scale"]),
        weights=tuple(float(x) for x in data["weights"]),
        intercept=float(data["intercept"]),
        refuse_below=float(data["refuse_below"]),
        dense_windows=int(data.get("dense_windows", 30)),
        dense_sentences=int(data.get("dense_sentences", 30)),
        fitted_on=str(data.get("fitted_on", "")),
    )


@lru_cache(maxsize=1)
def default_model() -> RankerModel:
    return read_model(MODEL_FILE)


@dataclass(frozen=True, slots=True)
class Pool:
    """The candidates of one question, scored by stage two, with their features."""

    ranked: list[Scored]  # stage two's order
    features: Floats  # [len(ranked), len(FEATURES)]
    best_cosine: float  # the best sentence cosine in the collection


@dataclass(frozen=True, slots=True)
class Cosines:
    """The question's nearest windows and sentences among the readable ones, and its
    cosine with any other the stage asks about, read from their rows when asked: no
    question reads the vectors of the whole collection."""

    index: SemanticIndex
    question: NDArray[np.float32]
    nearest_windows: Ints  # best first
    nearest_sentences: Ints
    best_window: float  # the nearest one's cosine (-1 when there is none)
    best_sentence: float

    @classmethod
    def of(cls, index: SemanticIndex, question: NDArray[np.float32], model: RankerModel) -> Cosines:
        # At least the best one: the features and the not-found rule read it.
        windows, window_cos = index.nearest_windows(question, max(model.dense_windows, 1))
        sentences, sentence_cos = index.nearest_sentences(question, max(model.dense_sentences, 1))
        return cls(
            index,
            question,
            windows,
            sentences,
            float(window_cos[0]) if len(windows) else -1.0,
            float(sentence_cos[0]) if len(sentences) else -1.0,
        )

    def windows(self, passages: Indices) -> NDArray[np.float32]:
        return self.index.window_cosines(passages, self.question)

    def best_of_groups(self, groups: Sequence[Indices], *, sentences: bool = False) -> Floats:
        """The best cosine in each of `groups` (passages' windows, or sentences), each
        non-empty, read in one go."""
        flat = np.concatenate(groups).astype(np.int64) if groups else np.zeros(0, np.int64)
        read = self.index.sentence_cosines if sentences else self.index.window_cosines
        values = read(flat, self.question).astype(np.float64)
        if not len(values):
            return values
        starts = np.cumsum([0, *(len(g) for g in groups[:-1])])
        best: Floats = np.maximum.reduceat(values, starts)
        return best


def dense_ids(index: SemanticIndex, cos: Cosines, model: RankerModel) -> Ints:
    """The nearest windows, then the nearest window of each of the nearest sentences."""
    ids = cos.nearest_windows[: model.dense_windows].tolist()
    groups = [index.holders_of(s) for s in cos.nearest_sentences[: model.dense_sentences].tolist()]
    groups = [g[index.eligible[g]] for g in groups]
    groups = [g for g in groups if len(g)]
    flat = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
    values = cos.windows(flat)
    at = 0
    for group in groups:
        ids.append(int(group[np.argmax(values[at : at + len(group)])]))
        at += len(group)
    return np.asarray(list(dict.fromkeys(ids)), dtype=np.int64)


def pool(
    query: Query,
    candidates: Sequence[rerank.Candidate],
    index: SemanticIndex,
    cos: Cosines,
    settings: RerankSettings,
) -> Pool:
    """Stage two over `candidates` (BM25's and the dense ones together), and the
    features of each."""
    best_sentence, best_window = cos.best_sentence, cos.best_window
    # Every record is read below: made all at once.
    ranked = list(rerank.rank(query, candidates, settings))
    n = len(ranked)
    features = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return Pool(ranked, features, best_sentence)
    ids = np.array([s.candidate.index for s in ranked], dtype=np.int64)
    top_score = ranked[0].score or 1.0
    stage_two = np.array([s.score for s in ranked]) / top_score
    bm25 = np.array([s.candidate.bm25 for s in ranked])
    windows = cos.windows(ids).astype(np.float64)
    sentences = cos.best_of_groups([index.sentences_of(i) for i in ids], sentences=True)
    reports = index.passage_reports[ids]
    report_two: dict[int, float] = {}
    for report, share in zip(reports.tolist(), stage_two.tolist(), strict=True):
        report_two[report] = max(report_two.get(report, -math.inf), share)
    distinct = list(report_two)
    best_in_report = cos.best_of_groups([index.passages_of_report(r) for r in distinct])
    report_cos = dict(zip(distinct, best_in_report.tolist(), strict=True))
    of_report = np.array([report_cos[r] for r in reports.tolist()])
    cosine_order = np.argsort(-windows, kind="stable")
    cosine_rank = np.empty(n)
    cosine_rank[cosine_order] = np.arange(n)
    features[:, 0] = stage_two
    features[:, 1] = 1.0 / (1.0 + np.arange(n))
    features[:, 2] = bm25 / (bm25.max() or 1.0)
    features[:, 3] = windows
    features[:, 4] = windows - best_window
    features[:, 5] = sentences
    features[:, 6] = sentences - best_sentence
    features[:, 7] = of_report
    features[:, 8] = of_report - of_report.max()
    features[:, 9] = [report_two[r] for r in reports.tolist()]
    features[:, 10] = [_lead(s.candidate) for s in ranked]
    features[:, 11] = [rerank.coverage(query, s.candidate.tokens) for s in ranked]
    features[:, 12] = [s.evidence for s in ranked]
    features[:, 13] = 1.0 / (1.0 + cosine_rank)
    return Pool(ranked, features, best_sentence)


def _lead(candidate: rerank.Candidate) -> float:
    first = candidate.profile.first_sentence if candidate.profile is not None else 0
    return 1.0 / (1.0 + math.log1p(first))


def reorder(found: Pool, model: RankerModel) -> list[Scored]:
    """The pool best first by the model; each keeps stage two's best sentence."""
    if not found.ranked:
        return []
    scores = model.score(found.features)
    order = np.argsort(-scores, kind="stable")
    return [_rescored(found.ranked[i], float(scores[i])) for i in order.tolist()]


def _rescored(scored: Scored, score: float) -> Scored:
    return Scored(scored.candidate, score, scored.best_sentence, scored.evidence)


def is_off_topic(query: Query, found: Pool, model: RankerModel, settings: RerankSettings) -> bool:
    """No sentence of the collection comes near the question.  A bare word ("Aleppo",
    "ferries") is no sentence to compare: it is judged by stage two's evidence rule."""
    if len(set(query.terms)) <= 1:
        return rerank.is_not_found(query, found.ranked, settings)
    return found.best_cosine < model.refuse_below


def merge_ids(
    first: Ints, first_scores: Floats, dense: Ints, bm25_of: Callable[[Ints], Floats]
) -> tuple[Ints, Floats]:
    """BM25's candidates, then the dense ones it lacks (with their BM25 scores)."""
    extra = np.setdiff1d(dense, first, assume_unique=False)
    if len(extra) == 0:
        return first, first_scores
    return np.concatenate([first, extra]), np.concatenate([first_scores, bm25_of(extra)])
