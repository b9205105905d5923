"""Semantic stage probe: does MiniLM help BM25 + rerank rank, bold and refuse?

    nice -n 10 .venv/bin/python -m benchmarks.semantic_probe          # tune grid, choice, held-out
    nice -n 10 .venv/bin/python -m benchmarks.semantic_probe --timing 0   # skip the timing part

Reads ../shared/eval/newsqa-dev-reports.jsonl, newsqa-dev-questions.jsonl and
offtopic-dev-questions.jsonl in place (never copied here), and the project's own 60
off-topic questions (benchmarks/data/offtopic-extra.jsonl, a second check on refusal,
not held out).  Questions are split by id with `retrieval.evaluation.is_tune`
(tune when int(sha256(id), 16) % 10 < 7, held-out otherwise), as `eval --part` does.

The engine is the one `reports-bot eval --no-cache` builds (`SearchEngine.from_path`,
default `SearchSettings`); its candidates are what it returns with two public knobs
changed (`with_rerank`): `not_found="never"`, so that refused questions still have
candidates, and `widen_quotes=False`, so the indexed windows come back; each is then
widened with `retrieval.passages.widen`, as the engine does.  The first five of those
candidates, widened, are exactly the engine's hits.  The engine's own refusal is read
from a normal `search`.  Scoring reuses `retrieval.evaluation` (`Outcome`, `summarize`):
an answer string, case-folded, inside the quote / the bold sentence.

Embedded: the question, each candidate's widened window and each of its sentences.
Vectors are cached under /tmp (`--cache`), keyed by the model's sha256 and each text's.

Every variant is scored on tune; the settings are then chosen on tune by rules fixed
before looking (see `choose`), and held-out is scored once, for those only.  Prints
Markdown; a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retrieval.evaluation import Outcome, Question, is_tune, read_questions, summarize
from retrieval.models import Hit
from retrieval.passages import widen
from retrieval.search import SearchEngine, SearchSettings
from retrieval.semantic import Embedder, Vectors

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO.parent / "shared" / "eval"
EXTRA_OFFTOPIC = REPO / "benchmarks" / "data" / "offtopic-extra.jsonl"
CACHE_DIR = Path("/tmp/reports-bot-semantic-probe")
TOP = 5
CANDIDATES = 50


# -- the engine's candidates -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    hit: Hit  # widened, with the engine's bold sentence
    sentences: tuple[str, ...]  # of the widened window
    engine_bold: int  # index of the engine's bold sentence in `sentences` (-1: none)


@dataclass(slots=True)
class Probe:
    question: Question
    part: str  # "tune", "held-out" or "extra"
    engine_refused: bool
    candidates: list[Candidate]
    passage_cos: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    sentence_cos: tuple[NDArray[np.float64], ...] = ()


def collect(engine: SearchEngine, questions: Iterable[tuple[Question, str]], n: int) -> list[Probe]:
    open_engine = engine.with_rerank(
        replace(engine.settings.rerank, not_found="never", widen_quotes=False)
    )
    probes = []
    for question, part in questions:
        shown = engine.search(question.question, top=TOP)
        refused = not shown
        candidates = []
        for hit in open_engine.search(question.question, top=n):
            wide = widen(hit.passage, hit.report)
            sentences = wide.sentences or (wide.text,)
            bold = sentences.index(hit.best_sentence) if hit.best_sentence in sentences else -1
            candidates.append(Candidate(replace(hit, passage=wide), sentences, bold))
        # The emulation is only fair if its first hits are the engine's own.
        if shown and [h.quote for h in shown] != [c.hit.quote for c in candidates[:TOP]]:
            print(f"  note: {question.id}: the candidates' first {TOP} are not the engine's hits")
        probes.append(Probe(question, part, refused, candidates))
    return probes


# -- embeddings, cached ------------------------------------------------------------------


class VectorCache:
    """Text → unit vector, kept in one .npy and one .json under `folder`."""

    def __init__(self, folder: Path, embedder: Embedder) -> None:
        digest = hashlib.sha256(embedder.files.model.read_bytes()).hexdigest()[:16]
        self.folder = folder / f"{digest}-{embedder.max_tokens}"
        self.embedder = embedder
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, embedder.dimension), dtype=np.float32)
        keys, array = self.folder / "keys.json", self.folder / "vectors.npy"
        if keys.is_file() and array.is_file():
            self.index = {k: i for i, k in enumerate(json.loads(keys.read_text()))}
            self.vectors = np.load(array)
            if len(self.vectors) != len(self.index):
                self.index, self.vectors = {}, self.vectors[:0]

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def fill(self, texts: Iterable[str], label: str, chunk: int = 1000) -> None:
        missing = list(dict.fromkeys(t for t in texts if self.key(t) not in self.index))
        started = time.perf_counter()
        for start in range(0, len(missing), chunk):
            part = missing[start : start + chunk]
            vectors = self.embedder.embed(part)
            base = len(self.vectors)
            self.vectors = np.concatenate([self.vectors, vectors])
            self.index.update((self.key(t), base + i) for i, t in enumerate(part))
            self._save()
            done = start + len(part)
            rate = (time.perf_counter() - started) / done * 1000
            print(f"  {label}: {done}/{len(missing)} embedded, {rate:.1f} s per 1000", flush=True)

    def get(self, texts: Sequence[str]) -> Vectors:
        return self.vectors[[self.index[self.key(t)] for t in texts]]

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        np.save(self.folder / "vectors.npy", self.vectors)
        keys = sorted(self.index, key=self.index.__getitem__)
        (self.folder / "keys.json").write_text(json.dumps(keys))


def embed_probes(probes: list[Probe], cache: VectorCache) -> None:
    cache.fill((p.question.question for p in probes), "questions")
    cache.fill((c.hit.passage.text for p in probes for c in p.candidates), "passages")
    cache.fill((s for p in probes for c in p.candidates for s in c.sentences), "sentences")
    for probe in probes:
        q = cache.get([probe.question.question])[0].astype(np.float64)
        windows = [c.hit.passage.text for c in probe.candidates]
        probe.passage_cos = cache.get(windows) @ q if windows else np.zeros(0)
        probe.sentence_cos = tuple(cache.get(list(c.sentences)) @ q for c in probe.candidates)


# -- variants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    # Ranking: fused = w · engine score / best + (1 − w) · cosine, over the first `n`.
    signal: str = "engine"  # "engine", "passage", "sentence" (best sentence), "mean" of both
    w: float = 1.0
    n: int = CANDIDATES
    # Bold: argmax over the top hit's sentences of cosine + beta · [the engine's choice].
    bold: str = "engine"  # "engine" or "cosine"
    beta: float = 0.0
    # Refusal: "engine"; "semantic" (best sentence cosine among the first `depth`
    # candidates below t); "and" / "or" of the two.
    refuse: str = "engine"
    t: float = 0.0
    depth: int = CANDIDATES

    def label(self) -> str:
        parts = []
        if self.signal != "engine" and self.w < 1:
            parts.append(f"rank {self.signal} w={self.w:g} n={self.n}")
        if self.bold != "engine":
            parts.append(f"bold cosine β={self.beta:g}")
        if self.refuse != "engine":
            parts.append(f"refuse {self.refuse} t={self.t:.2f} depth={self.depth}")
        return "; ".join(parts) or "engine (BM25 + rerank)"


def semantic_of(probe: Probe, signal: str) -> NDArray[np.float64]:
    best = np.array([s.max() for s in probe.sentence_cos]) if probe.candidates else np.zeros(0)
    return {
        "passage": probe.passage_cos,
        "sentence": best,
        "mean": (probe.passage_cos + best) / 2 if probe.candidates else best,
    }.get(signal, np.zeros(len(probe.candidates)))


def outcome(probe: Probe, v: Variant) -> Outcome:
    cands = probe.candidates[: v.n] if v.signal != "engine" else probe.candidates
    if not cands or _refused(probe, v):
        return Outcome(probe.question, (), 0.0)
    order = list(range(len(cands)))
    if v.signal != "engine" and v.w < 1:
        engine = np.array([c.hit.score for c in cands])
        fused = (
            v.w * engine / (engine.max() or 1.0)
            + (1 - v.w) * semantic_of(probe, v.signal)[: len(cands)]
        )
        order = sorted(order, key=lambda i: (-fused[i], i))
    hits = []
    for rank, i in enumerate(order[:TOP], start=1):
        c = cands[i]
        bold = c.hit.best_sentence
        if rank == 1 and v.bold == "cosine":
            scores = probe.sentence_cos[i] + v.beta * (np.arange(len(c.sentences)) == c.engine_bold)
            bold = c.sentences[int(np.argmax(scores))]
        hits.append(replace(c.hit, rank=rank, best_sentence=bold))
    return Outcome(probe.question, tuple(hits), 0.0)


def _refused(probe: Probe, v: Variant) -> bool:
    if v.refuse == "engine":
        return probe.engine_refused
    best = max(float(s.max()) for s in probe.sentence_cos[: v.depth])
    semantic = best < v.t
    return {
        "semantic": semantic,
        "and": semantic and probe.engine_refused,
        "or": semantic or probe.engine_refused,
    }[v.refuse]


Row = dict[str, float | None]


def score(probes: Sequence[Probe], v: Variant) -> Row:
    answerable = [outcome(p, v) for p in probes if p.question.answers]
    offtopic = [outcome(p, v) for p in probes if not p.question.answers and p.part != "extra"]
    extra = [outcome(p, v) for p in probes if p.part == "extra"]
    s = summarize(answerable + offtopic, passages=0, build_seconds=0.0)
    refused_extra = sum(1 for o in extra if not o.hits) / len(extra) if extra else None
    keys = (
        "recall_at_1",
        "recall_at_5",
        "bold_sentence_at_1",
        "refused_answerable",
        "refused_unanswerable",
    )
    row: Row = {k: (x if isinstance(x := s[k], float) else None) for k in keys}
    row["refused_extra"] = refused_extra
    return row


COLUMNS = ("R@1", "R@5", "bold", "refA", "refU", "extra refU")


def table(title: str, rows: Sequence[tuple[str, Row]]) -> str:
    lines = [f"### {title}", "", "| variant | " + " | ".join(COLUMNS) + " |"]
    lines.append("|---" * (len(COLUMNS) + 1) + "|")
    for name, row in rows:
        cells = [("–" if x is None else f"{x:.3f}") for x in row.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- the grid on tune, the rules that choose --------------------------------------------

WEIGHTS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.0)
BETAS = (0.0, 0.02, 0.05, 0.1, 0.2)
THRESHOLDS = tuple(round(0.10 + 0.02 * i, 2) for i in range(21))
REFUSAL_LIMIT = 0.03  # answerable refused, at most (the limit)


def ranking_grid() -> list[Variant]:
    return [
        Variant(signal=s, w=w, n=n)
        for s in ("passage", "sentence", "mean")
        for n in (20, 30, 50)
        for w in WEIGHTS
    ]


def bold_grid(rank: Variant) -> list[Variant]:
    return [replace(rank, bold="cosine", beta=b) for b in BETAS]


def refusal_grid(base: Variant) -> list[Variant]:
    return [
        replace(base, refuse=mode, t=t, depth=d)
        for mode in ("semantic", "and", "or")
        for d in (10, CANDIDATES)
        for t in THRESHOLDS
    ]


def best(rows: Sequence[tuple[Variant, Row]], key: Callable[[Row], tuple[float, ...]]) -> Variant:
    return max(rows, key=lambda vr: key(vr[1]))[0]


def choose(tune: Sequence[Probe], out: list[str]) -> Variant:
    """Rules fixed before looking: ranking maximises R@1 + R@5 (then R@1); bold maximises
    the bold rate under the chosen ranking; refusal maximises off-topic refused with at
    most 3% of answerable refused (then fewer answerable refused, then R@1)."""
    base = Variant()
    ranking = [(v, score(tune, v)) for v in ranking_grid()]
    out.append(
        table(
            "Tune: ranking (a)",
            [(v.label(), r) for v, r in [(base, score(tune, base))]]
            + [(v.label(), r) for v, r in ranking],
        )
    )
    rank = best(
        ranking, lambda r: (_f(r["recall_at_1"]) + _f(r["recall_at_5"]), _f(r["recall_at_1"]))
    )
    bolds = [(v, score(tune, v)) for v in bold_grid(rank) + bold_grid(base)]
    out.append(table("Tune: bold sentence (b)", [(v.label(), r) for v, r in bolds]))
    bold = best(
        [vr for vr in bolds if vr[0].signal == rank.signal and vr[0].w == rank.w],
        lambda r: (_f(r["bold_sentence_at_1"]),),
    )
    refusals = [(v, score(tune, v)) for v in refusal_grid(bold)]
    out.append(
        table(
            "Tune: not-found rule (c), with the chosen ranking and bold",
            [(v.label(), r) for v, r in refusals],
        )
    )
    allowed = [vr for vr in refusals if _f(vr[1]["refused_answerable"]) <= REFUSAL_LIMIT]
    refuse = best(
        allowed or refusals,
        lambda r: (
            _f(r["refused_unanswerable"]),
            -_f(r["refused_answerable"]),
            _f(r["recall_at_1"]),
        ),
    )
    return refuse


def _f(x: float | None) -> float:
    return 0.0 if x is None else x


# -- timing ----------------------------------------------------------------------------------


def timing(probes: Sequence[Probe], embedder: Embedder, sample: int) -> str:
    """The semantic part of one question with nothing cached: embed the question, its
    candidates' windows and their sentences, fuse.  And the question alone (what is left
    when windows and sentences are embedded at index time)."""
    chosen = [p for p in probes if p.candidates][:: max(1, len(probes) // sample)][:sample]
    per_question, question_only = [], []
    passages: list[str] = []
    sentences: list[str] = []
    for probe in chosen:
        windows = [c.hit.passage.text for c in probe.candidates]
        parts = list(dict.fromkeys(s for c in probe.candidates for s in c.sentences))
        started = time.perf_counter()
        q = embedder.embed([probe.question.question])[0]
        middle = time.perf_counter()
        w = embedder.embed(windows) @ q
        s = embedder.embed(parts) @ q
        float(w.max() + s.max())
        per_question.append(time.perf_counter() - started)
        question_only.append(middle - started)
        passages.extend(windows)
        sentences.extend(parts)
    lines = ["### Timing (2 cores, nice 10, shared machine)", ""]
    for name, xs in (
        ("whole semantic part, nothing cached", per_question),
        ("question only (windows and sentences embedded at index time)", question_only),
    ):
        xs = sorted(x * 1000 for x in xs)
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        lines.append(
            f"* {name}: median {statistics.median(xs):.0f} ms, p95 {p95:.0f} ms "
            f"({len(xs)} questions)"
        )
    for name, texts in (("windows", passages[:1000]), ("sentences", sentences[:1000])):
        texts = list(dict.fromkeys(texts))
        started = time.perf_counter()
        embedder.embed(texts)
        per = (time.perf_counter() - started) / len(texts) * 1000
        lines.append(f"* embedding {name}: {per * 1000:.0f} ms per 1,000 ({len(texts)} timed)")
    cands = statistics.mean(len(p.candidates) for p in chosen)
    sents = statistics.mean(len({s for c in p.candidates for s in c.sentences}) for p in chosen)
    lines.append(f"* per question: {cands:.1f} windows, {sents:.0f} distinct sentences")
    return "\n".join(lines) + "\n"


# -- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--timing", type=int, default=30, help="questions timed (0: none)")
    args = parser.parse_args(argv)
    files = [
        args.eval_dir / name
        for name in (
            "newsqa-dev-reports.jsonl",
            "newsqa-dev-questions.jsonl",
            "offtopic-dev-questions.jsonl",
        )
    ]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(
            "semantic_probe: the eval data is missing: " + ", ".join(missing) + ". It is read "
            "in place from ../shared/eval (pass --eval-dir); nothing was measured.",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    engine = SearchEngine.from_path(files[0], SearchSettings())
    questions = [
        (q, "tune" if is_tune(q.id) else "held-out") for f in files[1:] for q in read_questions(f)
    ]
    questions += [(q, "extra") for q in read_questions(EXTRA_OFFTOPIC)]
    probes = collect(engine, questions, CANDIDATES)
    print(
        f"engine and candidates: {time.perf_counter() - started:.1f} s, "
        f"{len(engine.passages)} passages, {len(probes)} questions",
        flush=True,
    )
    embedder = Embedder.load()
    print(f"model: {embedder.files.description}, max {embedder.max_tokens} tokens", flush=True)
    embed_probes(probes, VectorCache(args.cache, embedder))
    tune = [p for p in probes if p.part in ("tune", "extra")]
    held = [p for p in probes if p.part in ("held-out", "extra")]
    out: list[str] = []
    chosen = choose(tune, out)
    parts = {
        "engine (BM25 + rerank)": Variant(),
        "(a) ranking only": Variant(signal=chosen.signal, w=chosen.w, n=chosen.n),
        "(b) bold only": Variant(bold=chosen.bold, beta=chosen.beta),
        "(c) refusal only": Variant(refuse=chosen.refuse, t=chosen.t, depth=chosen.depth),
        "(a)+(b)+(c) chosen": chosen,
    }
    out.append(f"Chosen on tune: {chosen.label()}\n")
    for title, group in (("Tune", tune), ("Held-out (once, chosen settings only)", held)):
        out.append(table(title, [(f"{k}: {v.label()}", score(group, v)) for k, v in parts.items()]))
    if args.timing:
        out.append(timing(probes, embedder, args.timing))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
