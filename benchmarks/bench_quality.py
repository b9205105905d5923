"""Answer quality: every stage-two variant on the NewsQA dev set, tune and held-out halves.

    .venv/bin/python -m benchmarks.bench_quality             # the table in docs/quality.md
    .venv/bin/python -m benchmarks.bench_quality --fit       # re-fit the weights on tune

The dev questions (../shared/eval, never copied into the repo) are split for
good by a hash of their id: about 70% "tune", on which every weight and the
refusal threshold were chosen, and 30% "held-out", looked at only to report.
The off-topic questions are split by the same rule.  benchmarks/data/
offtopic-extra.jsonl holds 60 more off-topic questions written for this
project (not eval data) as a second check on the refusal rule; it was used
when comparing refusal rules, so it is not held out.

Every variant runs in this one process over the same loaded reports: the
indexes are built once per backend and each variant only swaps
`RerankSettings` (`SearchEngine.with_rerank`).  The whitespace baseline is
built here: plain BM25 over `str.split()` tokens of the same passages.

Prints a Markdown table (tune | held-out | whole dev files) and writes JSON to
benchmarks/results/.  A benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from retrieval.bm25 import BACKENDS, build_scorer
from retrieval.evaluation import Outcome, Question, is_tune, read_questions, summarize
from retrieval.loader import load_reports
from retrieval.models import Hit, Passage, Report
from retrieval.rerank import RerankSettings
from retrieval.search import SearchEngine, SearchSettings
from retrieval.spelling import SpellingLimits

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO.parent / "shared" / "eval"
RESULTS_DIR = REPO / "benchmarks" / "results"
EXTRA_OFFTOPIC = REPO / "benchmarks" / "data" / "offtopic-extra.jsonl"
TOP = 5

# The analyzer's plain BM25: only the first stage's order, never refusing.
PLAIN = RerankSettings(
    passage_weight=1.0,
    report_weight=0.0,
    sentence_weight=0.0,
    cue_weight=0.0,
    next_cue_weight=0.0,
    lead_weight=0.0,
    coverage_weight=0.0,
    evidence_weight=0.0,
    not_found="never",
    shared_sentences=0,
    spelling=None,
    widen_quotes=False,
)
CHOSEN = RerankSettings()


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    what: str
    settings: RerankSettings | None  # None: the whitespace baseline
    candidates: int = SearchSettings().candidates


def _limits(settings: RerankSettings) -> SpellingLimits:
    return settings.spelling or SpellingLimits()


def variants() -> list[Variant]:
    """Baselines, then the chosen features added one at a time, then ablations."""
    c = CHOSEN
    issue2 = replace(PLAIN, not_found="passage", min_evidence=0.5)
    refusal = replace(PLAIN, not_found="sentences")
    fusion = replace(refusal, report_weight=c.report_weight)
    sentence = replace(fusion, sentence_weight=c.sentence_weight)
    cues = replace(sentence, cue_weight=c.cue_weight, next_cue_weight=c.next_cue_weight)
    lead = replace(cues, lead_weight=c.lead_weight)
    shares = replace(lead, coverage_weight=c.coverage_weight, evidence_weight=c.evidence_weight)
    return [
        Variant("whitespace BM25", "BM25Okapi over str.split() tokens; no refusal", None),
        Variant("analyzer BM25", "our analyzer (stems, stopwords); plain BM25; no refusal", PLAIN),
        Variant("issue-2 baseline", "analyzer BM25; refuse if top passage share < 0.5", issue2),
        Variant(
            "+ two-sentence refusal",
            f"refuse unless one of the top {c.evidence_depth} holds {c.min_evidence} in two "
            f"adjacent sentences (words said once in the report x{c.single_mention_weight})",
            refusal,
        ),
        Variant("+ report fusion", f"+ {c.report_weight} x report BM25 / best", fusion),
        Variant("+ best sentence", f"+ {c.sentence_weight} x best sentence's share", sentence),
        Variant(
            "+ answer cues",
            f"sentence share x (1 + {c.cue_weight} cue + {c.next_cue_weight} next cue)",
            cues,
        ),
        Variant("+ lead bonus", f"+ {c.lead_weight} / (1 + ln(1 + sentence ordinal))", lead),
        Variant(
            "+ shares",
            f"+ {c.coverage_weight} passage share + {c.evidence_weight} two-sentence share",
            shares,
        ),
        Variant(
            "+ one shared sentence",
            f"a shown window may share {c.shared_sentences} sentence with an earlier one "
            "of its report (was: none)",
            replace(shares, shared_sentences=c.shared_sentences),
        ),
        Variant(
            "chosen",
            "+ unknown query terms corrected to a known term 1 edit away (2 from 8 letters), "
            "same first and last letter, 4 letters or more",
            c,
        ),
        Variant(
            "chosen, spelling any last letter",
            "same_last_letter False",
            replace(c, spelling=replace(_limits(c), same_last_letter=False)),
        ),
        Variant(
            "chosen, spelling any first or last letter",
            "same_first_letter False, same_last_letter False",
            replace(
                c,
                spelling=replace(_limits(c), same_first_letter=False, same_last_letter=False),
            ),
        ),
        Variant(
            "chosen, spelling 2 edits from 5 letters",
            "two_edits_from 5",
            replace(c, spelling=replace(_limits(c), two_edits_from=5)),
        ),
        Variant(
            "chosen, spelling from 5 letters",
            "min_length 5",
            replace(c, spelling=replace(_limits(c), min_length=5)),
        ),
        Variant(
            "chosen - widened quotes",
            "widen_quotes False: quote the 600-character window as indexed",
            replace(c, widen_quotes=False),
        ),
        Variant("chosen - fusion", "report_weight 0", replace(c, report_weight=0)),
        Variant("chosen - sentence", "sentence_weight 0", replace(c, sentence_weight=0)),
        Variant("chosen - cues", "cue weights 0", replace(c, cue_weight=0, next_cue_weight=0)),
        Variant("chosen - lead", "lead_weight 0", replace(c, lead_weight=0)),
        Variant(
            "chosen - shares",
            "coverage and evidence weights 0",
            replace(c, coverage_weight=0, evidence_weight=0),
        ),
        Variant("chosen - passage BM25", "passage_weight 0", replace(c, passage_weight=0)),
        Variant(
            "chosen, issue-2 refusal",
            "refuse if top passage share < 0.5",
            replace(c, not_found="passage", min_evidence=0.5),
        ),
        Variant("chosen, no refusal", "never refuse", replace(c, not_found="never")),
        Variant("chosen, evidence 0.40", "min_evidence 0.40", replace(c, min_evidence=0.4)),
        Variant("chosen, evidence 0.50", "min_evidence 0.50", replace(c, min_evidence=0.5)),
        Variant("chosen, evidence top 5", "evidence_depth 5", replace(c, evidence_depth=5)),
        Variant("chosen, evidence top 100", "evidence_depth 100", replace(c, evidence_depth=100)),
        Variant(
            "chosen, single mentions whole",
            "single_mention_weight 1, min_evidence 0.45 (the rule before it)",
            replace(c, single_mention_weight=1.0, min_evidence=0.45),
        ),
        Variant(
            "chosen, 2 shared sentences",
            "shared_sentences 2",
            replace(c, shared_sentences=2),
        ),
        Variant("chosen, 50 candidates", "BM25 top 50 to stage two", c, candidates=50),
        Variant("chosen, 200 candidates", "BM25 top 200 to stage two", c, candidates=200),
    ]


# ---- the whitespace baseline ------------------------------------------------------


class WhitespaceBM25:
    """BM25Okapi over `str.split()` tokens of the engine's own passages: the floor."""

    def __init__(self, passages: Sequence[Passage], reports: Sequence[Report]) -> None:
        self._passages = passages
        self._reports = {report.id: report for report in reports}
        self._scorer = build_scorer("fast", [p.text.split() for p in passages])

    def search(self, question: str, top: int = TOP) -> list[Hit]:
        indices, scores = self._scorer.top_k(question.split(), 100)
        hits: list[Hit] = []
        seen: dict[str, list[set[str]]] = {}
        for index, score in zip(indices.tolist(), scores.tolist(), strict=True):
            passage = self._passages[index]
            sentences = set(passage.sentences)
            earlier = seen.setdefault(passage.report_id, [])
            if any(sentences & other for other in earlier):
                continue
            earlier.append(sentences)
            hits.append(
                Hit(
                    rank=len(hits) + 1,
                    score=score,
                    passage=passage,
                    report=self._reports[passage.report_id],
                    best_sentence=passage.sentences[0] if passage.sentences else passage.text,
                )
            )
            if len(hits) == top:
                break
        return hits


# ---- running -----------------------------------------------------------------------

Search = Callable[[str, int], list[Hit]]


def run(search: Search, questions: Sequence[Question]) -> list[Outcome]:
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        hits = search(question.question, TOP)
        outcomes.append(Outcome(question, tuple(hits), time.perf_counter() - started))
    return outcomes


@dataclass(frozen=True, slots=True)
class Measured:
    tune: dict[str, object]
    held_out: dict[str, object]
    whole: dict[str, object]
    extra_refused: float | None  # share of benchmarks/data/offtopic-extra refused


def measure(
    search: Search,
    newsqa: Sequence[Question],
    offtopic: Sequence[Question],
    extra: Sequence[Question],
    passages: int,
) -> Measured:
    answerable = run(search, newsqa)
    unanswerable = run(search, offtopic)

    def part(keep: Callable[[str], bool]) -> dict[str, object]:
        chosen = [o for o in [*answerable, *unanswerable] if keep(o.question.id)]
        return summarize(chosen, passages, 0.0)

    extra_outcomes = run(search, extra)
    return Measured(
        tune=part(is_tune),
        held_out=part(lambda qid: not is_tune(qid)),
        whole=part(lambda qid: True),
        extra_refused=(
            round(sum(not o.hits for o in extra_outcomes) / len(extra_outcomes), 4)
            if extra_outcomes
            else None
        ),
    )


FIELDS = (
    "bold_sentence_at_1",
    "recall_at_1",
    "recall_at_5",
    "mrr",
    "refused_answerable",
    "refused_unanswerable",
)
SHORT = ("bold", "R@1", "R@5", "MRR", "refA", "refU")


def table(rows: Sequence[tuple[Variant, Measured]]) -> str:
    head = ["variant"]
    for part in ("tune", "held-out", "all"):
        head += [f"{part} {s}" for s in SHORT]
    head += ["extra refU", "ms median", "what changed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant, measured in rows:
        cells = [variant.name]
        for summary in (measured.tune, measured.held_out, measured.whole):
            cells += [_cell(summary[f]) for f in FIELDS]
        cells += [
            _cell(measured.extra_refused),
            _cell(measured.whole["query_ms_median"]),
            variant.what,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "–" if value is None else str(value)


# ---- fitting ----------------------------------------------------------------------

WEIGHTS = (
    "report_weight",
    "sentence_weight",
    "cue_weight",
    "next_cue_weight",
    "lead_weight",
    "coverage_weight",
    "evidence_weight",
)
STEPS = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)


def objective(summary: dict[str, object], r5_weight: float = 1.0) -> float:
    """What the fit maximises on tune: R@1 + MRR + r5_weight * R@5."""
    r1, r5, mrr = (_number(summary[f]) for f in ("recall_at_1", "recall_at_5", "mrr"))
    return r1 + mrr + r5_weight * r5


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def fit(
    engine: SearchEngine,
    newsqa: Sequence[Question],
    rounds: int,
    start: RerankSettings,
    r5_weight: float,
) -> RerankSettings:
    """Coordinate search over the weights, on the tune questions only.

    The passage BM25 weight stays 1 (it sets the scale); the refusal rule is
    not fitted here (see docs/quality.md for how its threshold was chosen).
    """
    tune = [q for q in newsqa if is_tune(q.id)]
    best = start

    def score(settings: RerankSettings) -> float:
        engine_variant = engine.with_rerank(settings)
        outcomes = run(engine_variant.search, tune)
        return objective(summarize(outcomes, 0, 0.0), r5_weight)

    best_score = score(best)
    print(f"start {best_score:.4f} {asdict(best)}", file=sys.stderr)
    for _ in range(rounds):
        improved = False
        for name, step in itertools.product(WEIGHTS, STEPS):
            value = round(getattr(best, name) + step, 3)
            if value < 0:
                continue
            candidate = replace(best, **{name: value})
            candidate_score = score(candidate)
            if candidate_score > best_score + 1e-9:
                best, best_score, improved = candidate, candidate_score, True
                print(f"{name}={value}: {best_score:.4f}", file=sys.stderr)
        if not improved:
            break
    return best


# ---- backends ---------------------------------------------------------------------


def backends_write_identical_outputs(eval_dir: Path) -> bool:
    """`reports-bot eval --output` with each backend, each in its own process (so
    string hashing differs too), compared byte for byte."""
    reports = eval_dir / "newsqa-dev-reports.jsonl"
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        for questions in ("newsqa-dev-questions.jsonl", "offtopic-dev-questions.jsonl"):
            outputs = []
            for seed, backend in enumerate(BACKENDS, start=1):
                out = Path(tmp) / f"{backend}-{questions}"
                argv = ["eval", "--backend", backend, "--reports", str(reports)]
                argv += ["--questions", str(eval_dir / questions), "--output", str(out)]
                subprocess.run(
                    [sys.executable, "-m", "bot.cli", *argv],
                    env={**os.environ, "PYTHONHASHSEED": str(seed)},
                    check=True,
                    capture_output=True,
                )
                outputs.append(out.read_bytes())
            same = same and all(output == outputs[0] for output in outputs)
    return same


# ---- main -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--fit", action="store_true", help="re-fit the weights on tune")
    parser.add_argument("--rounds", type=int, default=10, help="coordinate-search rounds (--fit)")
    parser.add_argument("--r5-weight", type=float, default=1.0, help="R@5 in the fit's objective")
    parser.add_argument(
        "--start", type=json.loads, default={}, help="JSON RerankSettings fields to start from"
    )
    args = parser.parse_args(argv)

    eval_dir: Path = args.eval_dir
    loaded = load_reports(eval_dir / "newsqa-dev-reports.jsonl")
    newsqa = read_questions(eval_dir / "newsqa-dev-questions.jsonl")
    offtopic = read_questions(eval_dir / "offtopic-dev-questions.jsonl")
    extra = read_questions(EXTRA_OFFTOPIC)
    started = time.perf_counter()
    engine = SearchEngine.build(loaded.reports, SearchSettings(), loaded.problems)
    build_seconds = time.perf_counter() - started
    print(
        f"{len(loaded.reports)} reports, {len(engine.passages)} passages, built in "
        f"{build_seconds:.2f}s; newsqa {len(newsqa)} questions "
        f"({sum(is_tune(q.id) for q in newsqa)} tune), offtopic {len(offtopic)} "
        f"({sum(is_tune(q.id) for q in offtopic)} tune)",
        file=sys.stderr,
    )

    if args.fit:
        start = replace(CHOSEN, **args.start)
        fitted = fit(engine, newsqa, args.rounds, start, args.r5_weight)
        print(json.dumps(asdict(fitted), indent=2))
        return 0

    whitespace = WhitespaceBM25(engine.passages, engine.reports)
    engines = {engine.settings.candidates: engine}
    rows: list[tuple[Variant, Measured]] = []
    for variant in variants():
        if variant.settings is None:
            search: Search = whitespace.search
        else:
            if variant.candidates not in engines:
                settings = SearchSettings(candidates=variant.candidates)
                engines[variant.candidates] = SearchEngine.build(loaded.reports, settings)
            search = engines[variant.candidates].with_rerank(variant.settings).search
        measured = measure(search, newsqa, offtopic, extra, len(engine.passages))
        rows.append((variant, measured))
        print(f"measured {variant.name}", file=sys.stderr)

    same = backends_write_identical_outputs(eval_dir)
    print(table(rows))
    print(f"\nbackends write byte-identical eval --output: {same}; build {build_seconds:.2f}s")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench-quality-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "build_seconds": round(build_seconds, 3),
                "backends_agree": same,
                "variants": [
                    {
                        "name": v.name,
                        "what": v.what,
                        "settings": asdict(v.settings) if v.settings else None,
                        "tune": m.tune,
                        "held_out": m.held_out,
                        "all": m.whole,
                        "extra_offtopic_refused": m.extra_refused,
                    }
                    for v, m in rows
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
