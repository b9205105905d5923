"""The semantic stage with the real bundled model: the engine's semantic path, the model
file, the background thread, and the rules of retrieval/semantic_rank.py."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from retrieval import semantic_rank
from retrieval.rerank import Query, RerankSettings
from retrieval.search import SearchEngine
from retrieval.semantic_rank import FEATURES, MODEL_FILE, RankerModel, read_model
from retrieval.semantic_stage import SemanticStage
from tests.conftest import make_report

PARAPHRASE = "How many people fled to Turkey?"
REFUGEES = "Over 40,000 refugees have already entered camps in Turkey."
OTHER = make_report(
    "Harvest report",
    paragraphs=("The wheat harvest reached 12 million tonnes this year, the ministry said.",),
    report_id="farm",
)


@pytest.fixture(scope="module")
def stage() -> SemanticStage:
    return SemanticStage(None)


def engine_of(*reports: object) -> SearchEngine:
    return SearchEngine.build(list(reports))  # type: ignore[arg-type]


def test_the_shipped_model_is_read_and_fits_the_features() -> None:
    model = read_model(MODEL_FILE)
    assert len(model.weights) == len(FEATURES)
    assert 0 < model.refuse_below < 1
    assert "tune" in model.fitted_on


def test_a_model_fitted_on_other_features_is_refused_with_the_fix(tmp_path: Path) -> None:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"benchmarks\.fit_semantic"):
        read_model(path)


def test_an_engine_answers_by_meaning_once_its_corpus_is_embedded(stage: SemanticStage) -> None:
    engine = engine_of(make_report(), OTHER)
    assert engine.search(PARAPHRASE) == []  # BM25 and stage two alone: refused
    semantic = engine.with_semantic(stage)
    assert not semantic.semantic_ready
    assert semantic.search(PARAPHRASE) == []  # not embedded yet: BM25 alone still
    stage.prepare(engine.corpus)
    assert semantic.semantic_ready
    hits = semantic.search(PARAPHRASE)
    assert hits and hits[0].best_sentence == REFUGEES
    assert semantic.search("how do I bake sourdough bread") == []


def test_the_background_thread_embeds_the_newest_corpus(tmp_path: Path) -> None:
    stage = SemanticStage(tmp_path)
    try:
        first = engine_of(make_report())
        second = engine_of(make_report(), OTHER)
        stage.request(first.corpus)
        stage.request(second.corpus)  # the newest request wins
        deadline = time.monotonic() + 60
        while not stage.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stage.ready
        assert second.with_semantic(stage).semantic_ready
        assert list(tmp_path.glob("*/int8-*.keys"))  # kept on disk
    finally:
        stage.close()
    # A new stage over the same folder has every vector already.
    again = SemanticStage(tmp_path)
    index = again.prepare(second.corpus)
    assert index.size == len(second.passages)
    assert again.embedded == 0


def test_a_question_in_another_language_stays_lexical(stage: SemanticStage) -> None:
    engine = engine_of(make_report())
    stage.prepare(engine.corpus)
    assert stage.dense(engine.corpus, "de", "Wie viele Flüchtlinge?") is None
    assert stage.dense(engine.corpus, "en", PARAPHRASE) is not None


def pool_of(
    stage: SemanticStage, engine: SearchEngine, question: str
) -> tuple[Query, semantic_rank.Pool]:
    seen: list[tuple[Query, semantic_rank.Pool]] = []
    stage.observer = lambda query, pool: seen.append((query, pool))
    try:
        engine.with_semantic(stage).search(question)
    finally:
        stage.observer = None
    (found,) = seen
    return found


def test_a_bare_word_is_judged_by_the_evidence_rule_not_the_cosine(stage: SemanticStage) -> None:
    engine = engine_of(make_report(), OTHER)
    stage.prepare(engine.corpus)
    strict = replace(stage.model, refuse_below=0.99)  # no sentence is that close
    settings = RerankSettings()
    query, found = pool_of(stage, engine, "refugees")
    assert found.best_cosine < 0.99
    assert not semantic_rank.is_off_topic(query, found, strict, settings)
    query, found = pool_of(stage, engine, "refugees in camps")
    assert semantic_rank.is_off_topic(query, found, strict, settings)
    assert not semantic_rank.is_off_topic(query, found, stage.model, settings)


def test_reorder_follows_the_model_and_keeps_stage_twos_sentence() -> None:
    engine = engine_of(make_report(), OTHER)
    stage = SemanticStage(None)
    stage.prepare(engine.corpus)
    _, pool = pool_of(stage, engine, PARAPHRASE)
    assert pool.features.shape == (len(pool.ranked), len(FEATURES))
    # A model that only counts the window's cosine puts the nearest window first.
    cosine_only = RankerModel(
        mean=(0.0,) * len(FEATURES),
        scale=(1.0,) * len(FEATURES),
        weights=tuple(1.0 if f == "window_cosine" else 0.0 for f in FEATURES),
        intercept=0.0,
        refuse_below=-math.inf,
    )
    ordered = semantic_rank.reorder(pool, cosine_only)
    cosines = pool.features[:, FEATURES.index("window_cosine")]
    assert ordered[0].candidate.index == pool.ranked[int(np.argmax(cosines))].candidate.index
    by_index = {s.candidate.index: s for s in pool.ranked}
    for scored in ordered:
        assert scored.best_sentence == by_index[scored.candidate.index].best_sentence


def test_merge_ids_adds_only_the_dense_ids_bm25_lacks() -> None:
    first, scores = np.array([3, 1]), np.array([2.0, 1.0])
    ids, merged = semantic_rank.merge_ids(
        first, scores, np.array([1, 7, 5]), lambda extra: extra.astype(float) / 10
    )
    assert ids.tolist() == [3, 1, 5, 7]
    assert merged.tolist() == [2.0, 1.0, 0.5, 0.7]
