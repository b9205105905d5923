"""Stage two's fast ranking (retrieval.rerank.rank over retrieval.rerank_match, and over
the compiled retrieval.rerank_kernel) gives
exactly what the straightforward code it replaced gives (tests/retrieval/rerank_reference.py):
the same order, the same float scores (==, and the same bits), the same best sentence
and evidence, for every question's real candidates and under settings that switch each
feature off or change it."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest

from benchmarks.corpus import CorpusSpec, generate
from retrieval import rerank, rerank_compiled
from retrieval.answer_types import AnswerKind
from retrieval.rerank import Candidate, Query, RerankSettings, Scored
from retrieval.search import SearchEngine
from tests.retrieval import rerank_reference

# The fast rank itself: the tests put a recorder in its place while search runs.
FAST = rerank.rank
DEFAULT = RerankSettings()
VARIANTS = (
    DEFAULT,
    replace(DEFAULT, single_mention_weight=1.0),
    replace(DEFAULT, single_mention_weight=0.0),
    replace(DEFAULT, cue_weight=0.0, next_cue_weight=0.0),
    replace(DEFAULT, cue_weight=-0.3, next_cue_weight=2.0),
    replace(DEFAULT, lead_weight=0.0, sentence_weight=0.0),
    replace(DEFAULT, lead_weight=-1.0, sentence_weight=-0.5),
    replace(DEFAULT, passage_weight=0.0, report_weight=0.0, coverage_weight=2.0),
    replace(DEFAULT, evidence_weight=0.0, coverage_weight=0.0),
)


def same(fast: Sequence[Scored], slow: Sequence[Scored]) -> None:
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert a.candidate is b.candidate
        assert a.score == b.score and a.score.hex() == b.score.hex()
        assert a.evidence == b.evidence and a.evidence.hex() == b.evidence.hex()
        assert a.best_sentence == b.best_sentence


def variants_of(query: Query) -> Iterator[Query]:
    """The question as asked, and as asking for each kind of answer (or none)."""
    yield query
    for kind in (None, *AnswerKind):
        if kind != query.kind:
            yield replace(query, kind=kind)


def check(query: Query, candidates: Sequence[Candidate]) -> None:
    # With the forward index (the compiled match) and without it (Matcher, in Python).
    for asked in (q for v in variants_of(query) for q in (v, replace(v, forward=None))):
        for settings in VARIANTS:
            same(
                FAST(asked, candidates, settings),
                rerank_reference.rank(asked, candidates, settings),
            )
    # Without profiles every passage is one block; equal BM25 scores make ties.
    bare = [replace(c, profile=None, bm25=round(c.bm25)) for c in candidates]
    same(FAST(query, bare), rerank_reference.rank(query, bare))
    same(FAST(replace(query, forward=None), bare), rerank_reference.rank(query, bare))


def compiled_at_all(query: Query, candidates: Sequence[Candidate]) -> bool:
    """Whether the compiled match takes these candidates (not the Python fallback)."""
    assert query.forward is not None
    found = rerank_compiled.match_compiled(
        query.forward,
        query.weights,
        query.total_weight,
        frozenset(query.terms),
        query.kind,
        candidates,
        sentence_weight=DEFAULT.sentence_weight,
        cue_weight=DEFAULT.cue_weight,
        next_cue_weight=DEFAULT.next_cue_weight,
        lead_weight=DEFAULT.lead_weight,
        single_mention_weight=DEFAULT.single_mention_weight,
    )
    return found is not None


@pytest.fixture(scope="module", autouse=True)
def compiled_kernel() -> None:
    """The compiled match ready before any question, so that `check` compares it."""
    assert rerank_compiled.compiled_match(wait=True) is not None


class Recorder:
    """rerank.rank as search calls it, each call checked against the reference."""

    def __init__(self) -> None:
        self.calls = 0
        self.candidates = 0
        self.compiled = 0

    def __call__(
        self, query: Query, candidates: Sequence[Candidate], settings: RerankSettings | None = None
    ) -> Sequence[Scored]:
        assert query.forward is not None  # the engines here keep a forward index
        ranked = FAST(query, candidates, settings)
        same(ranked, rerank_reference.rank(query, candidates, settings))
        check(query, candidates)
        self.calls += 1
        self.candidates += len(candidates)
        self.compiled += compiled_at_all(query, candidates)
        return ranked


def questions_about(engine: SearchEngine, rng: random.Random, count: int) -> list[str]:
    """Questions made of the reports' own words, titles and speakers, and words they lack."""
    passages = list(engine.passages)
    questions = ["What about zzyzx qwertyuiop?", "the", "How many?"]
    for _ in range(count):
        passage = rng.choice(passages)
        words = passage.text.split()
        picked = rng.sample(words, min(len(words), rng.randint(1, 6)))
        form = rng.choice(("What did {} say?", "How many {}?", "When did {}?", "Where {}?", "{}"))
        questions.append(form.format(" ".join(picked)))
        if passage.speaker:
            questions.append(f"What did {passage.speaker} say about {picked[0]}?")
    questions += [f"What about {report.title}?" for report in list(engine.reports)[:50]]
    return questions


def run(engine: SearchEngine, questions: Sequence[str], monkeypatch: pytest.MonkeyPatch) -> int:
    recorder = Recorder()
    monkeypatch.setattr(rerank, "rank", recorder)
    for question in questions:
        engine.search(question, top=5)
    monkeypatch.undo()
    assert recorder.calls > len(questions) // 2
    # The compiled match is what was compared, not only the Python one.
    assert recorder.compiled >= 0.9 * recorder.calls
    return recorder.candidates


@pytest.fixture(scope="module")
def generated_engine(tmp_path_factory: pytest.TempPathFactory) -> tuple[SearchEngine, list[str]]:
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    corpus = generate(CorpusSpec(passages=1500, questions=150), out)
    questions = [str(q["question"]) for q in corpus.questions()]
    return SearchEngine.from_path(corpus.reports_dir), questions


def test_the_generated_corpus_ranks_exactly_as_before(
    generated_engine: tuple[SearchEngine, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, questions = generated_engine
    questions += questions_about(engine, random.Random(14), 150)
    assert run(engine, questions, monkeypatch) > 10_000


def test_the_seed_reports_rank_exactly_as_before(
    seeds_engine: SearchEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = questions_about(seeds_engine, random.Random(7), 200)
    assert run(seeds_engine, questions, monkeypatch) > 200


def test_tiny_collections(
    generated_engine: tuple[SearchEngine, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One or two reports: idf at or below 0, every term weighed alike."""
    reports = list(generated_engine[0].reports)
    for chosen in (reports[:1], reports[5:7]):
        engine = SearchEngine.build(chosen)
        run(engine, questions_about(engine, random.Random(3), 40), monkeypatch)
