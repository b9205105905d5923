"""The index cache's key covers the code that decides what a cached corpus holds."""

from __future__ import annotations

from retrieval.corpus_cache import _CORPUS_MODULES
from tests.test_imports import graph

# Reached from the loader or the corpus, yet shaping nothing the cache stores: exception
# classes, the package itself, the spelling corrector (read at question time; rerank
# imports only its limits) and stage two's matching (rerank.rank's, at question time,
# compiled in the background), and BM25's top-k kernels and its reference backend.
NOT_SHAPING = {
    "retrieval",
    "retrieval.errors",
    "retrieval.spelling",
    "retrieval.rerank_match",
    "retrieval.rerank_compiled",
    "retrieval.rerank_kernel",
    "retrieval.background_compile",
    "retrieval.bm25_compiled",
    "retrieval.bm25_kernel",
    "retrieval.bm25_reference",
}


def test_every_module_that_builds_a_corpus_is_in_the_cache_key() -> None:
    edges = graph()
    reached: set[str] = set()
    todo = ["retrieval.loader", "retrieval.corpus"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(m for m in edges.get(module, ()) if m.startswith("retrieval"))
    listed = {f"retrieval.{name.removesuffix('.py')}" for name in _CORPUS_MODULES}
    missing = sorted(reached - NOT_SHAPING - listed)
    assert not missing, f"add to corpus_cache._CORPUS_MODULES (or say why not): {missing}"
