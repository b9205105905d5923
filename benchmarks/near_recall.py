"""How often a question's nearest texts found by their sign bits are the exact ones.

    .venv/bin/python -m benchmarks.near_recall --part tune
    .venv/bin/python -m benchmarks.near_recall --part held-out --scored 64,2000 10,300

The semantic stage finds a question's 30 nearest windows and 30 nearest sentences by
reading the sign bits of every text and scoring only the closest few hundred exactly
(`SemanticIndex.nearest_windows`).  For the NewsQA dev questions of one part, this
compares those lists with the exact ones of a pass over every int8 row: the share of
the exact top k found, the share of questions whose lists are identical, and whose best
sentence cosine (the not-found rule's) is the same.  `--scored EACH,AT_LEAST` sets how
many are scored exactly (EACH per text asked for, at least AT_LEAST); several pairs
may be given, separated by spaces.

Reads ../shared/eval/newsqa-dev-reports.jsonl and newsqa-dev-questions.jsonl in place
(never copied here); vectors are cached under --cache (embedding them the first time
takes about 11 minutes on two cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval import semantic_index
from retrieval.evaluation import is_tune, read_questions
from retrieval.search import SearchEngine, SearchSettings
from retrieval.semantic_index import SemanticIndex, top_indices
from retrieval.semantic_stage import SemanticStage

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO.parent / "shared" / "eval"
K = 30


def exact(index: SemanticIndex, question: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    windows, sentences = index.cosines(question)
    best_windows = top_indices(windows, K, index.eligible)
    best_sentences = top_indices(sentences, K, index.sentence_eligible)
    best = float(sentences[best_sentences[0]]) if len(best_sentences) else -1.0
    return best_windows, best_sentences, best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("tune", "held-out"), default="tune")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/reports-bot-fit"))
    parser.add_argument("--scored", nargs="+", default=["64,2000"])
    args = parser.parse_args(argv)
    reports = EVAL_DIR / "newsqa-dev-reports.jsonl"
    questions_file = EVAL_DIR / "newsqa-dev-questions.jsonl"
    if not reports.is_file() or not questions_file.is_file():
        print(f"near_recall needs {reports} and {questions_file} (read in place): missing")
        return 2
    engine = SearchEngine.from_path(reports, SearchSettings())
    stage = SemanticStage(args.cache)
    index = stage.prepare(engine.corpus)
    wanted = args.part == "tune"
    questions = [q for q in read_questions(questions_file) if is_tune(q.id) == wanted]
    vectors = [stage.question_vector(q.question) for q in questions]
    truth = [exact(index, v) for v in vectors]
    print(
        f"{args.part}: {len(questions)} questions, {index.size} windows, "
        f"{len(index.sentence_rows)} sentences, top {K}"
    )
    for pair in args.scored:
        each, at_least = (int(x) for x in pair.split(","))
        semantic_index._SCORED_EACH, semantic_index._SCORED_AT_LEAST = each, at_least
        found_w = found_s = same_lists = same_best = 0
        started = time.perf_counter()
        for vector, (windows, sentences, best) in zip(vectors, truth, strict=True):
            near_w, _ = index.nearest_windows(vector, K)
            near_s, cos_s = index.nearest_sentences(vector, K)
            found_w += len(set(near_w.tolist()) & set(windows.tolist()))
            found_s += len(set(near_s.tolist()) & set(sentences.tolist()))
            same_lists += set(near_w.tolist()) == set(windows.tolist()) and set(
                near_s.tolist()
            ) == set(sentences.tolist())
            same_best += abs(float(cos_s[0]) - best) < 1e-5
        took = (time.perf_counter() - started) / len(vectors) * 1000
        n = len(vectors)
        print(
            f"scored {each} each, at least {at_least}: exact top {K} found "
            f"windows {found_w / (n * K):.4f} sentences {found_s / (n * K):.4f}; "
            f"identical lists {same_lists / n:.3f}; same best sentence {same_best / n:.3f}; "
            f"{took:.2f} ms a question",
            file=sys.stdout,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
