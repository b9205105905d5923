"""Fit the semantic stage's ranker and not-found threshold on the NewsQA tune questions.

    .venv/bin/python -m benchmarks.fit_semantic                # fit, print, write the model
    .venv/bin/python -m benchmarks.fit_semantic --dry-run      # fit and print only

Reads ../shared/eval/newsqa-dev-reports.jsonl, newsqa-dev-questions.jsonl and
offtopic-dev-questions.jsonl in place (never copied here) and uses only their *tune*
part (`retrieval.evaluation.is_tune`); held-out questions are never read.  Needs the
`bench` extra (scikit-learn) and the model of the `semantic` stage.

For every tune question the engine's own semantic path builds its pool (BM25's
candidates and the dense ones, scored by stage two, with `retrieval.semantic_rank`'s
features); a candidate is a positive when its widened quote holds an answer string, as
`reports-bot eval` counts it.  A logistic regression on the standardised features is the
ranker (its C chosen by 5-fold cross-validation on tune, folds by question); the
threshold is the highest best-sentence cosine that refuses at most 3% of the answerable
tune questions.  Writes retrieval/data/semantic-ranker.json.  Vectors are cached under
--cache (default /tmp/reports-bot-fit), so a second run takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.evaluation import Question, is_tune, read_questions
from retrieval.models import Passage
from retrieval.passages import widen
from retrieval.rerank import Query
from retrieval.search import SearchEngine, SearchSettings
from retrieval.semantic_rank import FEATURES, MODEL_FILE, Pool, RankerModel
from retrieval.semantic_stage import SemanticStage

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO.parent / "shared" / "eval"
MAX_REFUSED = 0.03
C_GRID = (0.01, 0.1, 1.0)
FOLDS = 5

# Stage two's order, nothing refused: the pools are the same whatever the weights.
_COLLECTING = RankerModel(
    mean=(0.0,) * len(FEATURES),
    scale=(1.0,) * len(FEATURES),
    weights=(1.0,) + (0.0,) * (len(FEATURES) - 1),
    intercept=0.0,
    refuse_below=-math.inf,
)


@dataclass(slots=True)
class Sample:
    question: Question
    features: np.ndarray
    labels: np.ndarray
    best_cosine: float


def collect(
    engine: SearchEngine, stage: SemanticStage, questions: Sequence[Question]
) -> list[Sample]:
    samples: list[Sample] = []
    seen: list[tuple[Query, Pool]] = []
    stage.observer = lambda query, found: seen.append((query, found))
    for question in questions:
        seen.clear()
        engine.search(question.question, top=5)
        if not seen:  # no term the index knows and nothing near: nothing to learn
            continue
        _, found = seen[0]
        labels = np.array([_holds(engine, s.candidate.passage, question) for s in found.ranked])
        samples.append(Sample(question, found.features, labels.astype(np.int64), found.best_cosine))
    stage.observer = None
    return samples


def _holds(engine: SearchEngine, passage: Passage, question: Question) -> bool:
    report = engine.report(passage.report_id)
    assert report is not None
    quote = widen(passage, report).text[:700].casefold()
    return any(a.casefold() in quote for a in question.answers if a.strip())


def fit(samples: Sequence[Sample], c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([s.features for s in samples])
    y = np.concatenate([s.labels for s in samples])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def top_holds(samples: Sequence[Sample], model: RankerModel) -> tuple[float, float]:
    """Share of samples whose best-scored candidate, and any of the best five, holds an
    answer (no distinct-window rule: a quick proxy for R@1 and R@5)."""
    at1 = at5 = 0
    for s in samples:
        order = np.argsort(-model.score(s.features), kind="stable")
        at1 += int(s.labels[order[0]]) if len(order) else 0
        at5 += int(s.labels[order[:5]].any()) if len(order) else 0
    return at1 / max(len(samples), 1), at5 / max(len(samples), 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="do not write the model file")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/reports-bot-fit"))
    parser.add_argument("--output", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    reports = EVAL_DIR / "newsqa-dev-reports.jsonl"
    if not reports.is_file():
        print(f"fit_semantic needs {reports} (the evaluation data, read in place): missing")
        return 2
    started = time.perf_counter()
    engine = SearchEngine.from_path(reports, SearchSettings())
    stage = SemanticStage(args.cache, model=_COLLECTING)
    stage.prepare(
        engine.corpus,
        lambda done, total: print(f"\r  embedded {done}/{total}", end="", file=sys.stderr),
    )
    print(f"\nindexed and embedded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    engine = engine.with_semantic(stage)
    answerable = [
        q for q in read_questions(EVAL_DIR / "newsqa-dev-questions.jsonl") if is_tune(q.id)
    ]
    offtopic = [
        q for q in read_questions(EVAL_DIR / "offtopic-dev-questions.jsonl") if is_tune(q.id)
    ]
    samples = collect(engine, stage, answerable)
    print(f"{len(samples)} tune questions pooled, {sum(len(s.labels) for s in samples)} candidates")

    best_c, best = C_GRID[0], (-1.0, -1.0)
    for c in C_GRID:
        at1 = at5 = 0.0
        for fold in range(FOLDS):
            train = [s for i, s in enumerate(samples) if i % FOLDS != fold]
            test = [s for i, s in enumerate(samples) if i % FOLDS == fold]
            mean, scale, w, b = fit(train, c)
            m = RankerModel(tuple(mean), tuple(scale), tuple(w), b, refuse_below=-math.inf)
            a1, a5 = top_holds(test, m)
            at1 += a1 * len(test) / len(samples)
            at5 += a5 * len(test) / len(samples)
        print(f"C={c}: cross-validated on tune, top 1 holds {at1:.3f}, top 5 {at5:.3f}")
        if (at1 + at5) > sum(best):
            best_c, best = c, (at1, at5)
    mean, scale, w, b = fit(samples, best_c)

    cosines = sorted(s.best_cosine for s in samples)
    cosines += [-1.0] * (len(answerable) - len(samples))  # never pooled: refused anyway
    cosines.sort()
    allowed = math.floor(MAX_REFUSED * len(answerable))
    threshold = cosines[allowed]  # refusing below it refuses at most `allowed` of them
    off = collect(engine, stage, offtopic)
    refused_off = sum(1 for s in off if s.best_cosine < threshold) + (len(offtopic) - len(off))
    model = RankerModel(
        tuple(float(x) for x in mean),
        tuple(float(x) for x in scale),
        tuple(float(x) for x in w),
        b,
        refuse_below=round(float(threshold), 4),
        fitted_on=f"NewsQA dev tune part ({len(samples)} questions), C={best_c}",
    )
    print(
        f"chosen C={best_c}; not-found threshold {threshold:.4f}: tune off-topic refused "
        f"{refused_off}/{len(offtopic)}"
    )
    for name, weight in zip(FEATURES, model.weights, strict=True):
        print(f"  {name:22s} {weight:+.3f}")
    if not args.dry_run:
        args.output.write_text(json.dumps(model.as_json(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    stage.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
