"""The other BM25 engines `bench_search.py` races FastBM25 against, and the latency rounds.

Each peer is built from the very token lists FastBM25 indexes and answers the same
queries, top 10, in one thread, in the same process.  The peers are optional (the
`bench` extra: `pip install -e '.[bench]'`); one that is not installed is skipped
with a note.  Their scores are not rank-bm25's (other idf and length normalisation,
float32): they are speed peers, not quality ones.

* tantivy (its Python bindings): the tokens joined by spaces and indexed with its
  whitespace tokenizer, so it sees exactly our tokens; term frequencies, no
  positions; searched as a disjunction of term queries, without counting matches.
* bm25s: its eager sparse index of precomputed scores over the same token ids;
  the numba backend (numba is a dependency of ours), one thread.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Search = Callable[[list[str]], object]

# tantivy's indexing memory: the more, the fewer segments to merge (and to search).
TANTIVY_HEAP = 1 << 30


@dataclass(frozen=True, slots=True)
class Peer:
    name: str
    search: Search
    build_s: float
    note: str = ""


def build_peers(corpus: list[list[str]], top_k: int) -> tuple[list[Peer], list[str]]:
    """The peers whose packages are installed, built over `corpus`; notes on the rest."""
    peers, notes = [], []
    for name, module, build in (
        ("bm25s", "bm25s", _bm25s),
        ("tantivy", "tantivy", _tantivy),
    ):
        if importlib.util.find_spec(module) is None:
            notes.append(f"{name} is not installed: skipped (pip install -e '.[bench]')")
            continue
        start = time.perf_counter()
        search, note = build(corpus, top_k)
        peers.append(Peer(name, search, time.perf_counter() - start, note))
    return peers, notes


def _bm25s(corpus: list[list[str]], top_k: int) -> tuple[Search, str]:
    import bm25s

    vocabulary: dict[str, int] = {}
    ids = [[vocabulary.setdefault(token, len(vocabulary)) for token in doc] for doc in corpus]
    backend = "numba" if importlib.util.find_spec("numba") else "numpy"
    retriever = bm25s.BM25(k1=1.5, b=0.75, backend=backend)
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
    del ids
    known = retriever.vocab_dict

    def search(query: list[str]) -> object:
        wanted = [known[token] for token in query if token in known]
        if not wanted:
            return None
        return retriever.retrieve([wanted], k=top_k, show_progress=False, n_threads=1)

    return search, f"{backend} backend"


def _tantivy(corpus: list[list[str]], top_k: int) -> tuple[Search, str]:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer(heap_size=TANTIVY_HEAP, num_threads=1)
    for doc in corpus:
        writer.add_document(tantivy.Document(body=" ".join(doc)))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    term, should = tantivy.Query.term_query, tantivy.Occur.Should

    def search(query: list[str]) -> object:
        disjunction = tantivy.Query.boolean_query(
            [(should, term(schema, "body", t)) for t in query]
        )
        return searcher.search(disjunction, top_k, count=False).hits

    return search, f"{searcher.num_segments} segment(s)"


def latency_rounds(
    backends: dict[str, tuple[Search, Sequence[list[str]]]], rounds: int, warmup: int
) -> dict[str, dict[str, Any]]:
    """Each backend answers its queries `rounds` times, the backends taking turns
    (a different one first each round), so a slow spell of a noisy machine is shared;
    per backend: median and p99 over every answer, and the spread of round medians."""
    for search, queries in backends.values():
        for query in queries[:warmup]:
            search(query)
    names = list(backends)
    latencies: dict[str, list[list[float]]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            search, queries = backends[name]
            times = []
            for query in queries:
                start = time.perf_counter_ns()
                search(query)
                times.append((time.perf_counter_ns() - start) / 1e6)
            latencies[name].append(times)
    summaries = {}
    for name, per_round in latencies.items():
        every = [t for times in per_round for t in times]
        medians = [statistics.median(times) for times in per_round]
        summaries[name] = {
            "median_ms": statistics.median(every),
            "round_medians_ms": medians,
            "spread_ms": [min(medians), max(medians)],
            "p99_ms": float(np.percentile(every, 99)),
            "queries": len(per_round[0]),
            "rounds": rounds,
        }
    return summaries


def table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def speed_table(rows: list[dict[str, Any]], top_k: int) -> list[str]:
    """The latency table of bench_search's rows, and what each size's run noted."""
    lines = [f"Top {top_k} latency, every backend in one process on the same token lists:", ""]
    header = ["passages", "backend", "build s", "queries", "p50 ms", "round p50s ms", "p99 ms"]
    cells, notes = [], []
    for row in rows:
        speed, size = row["speed"], f"{row['size']:,}"
        for name, lat in speed["latency"].items():
            low, high = lat["spread_ms"]
            median, p99, build = lat["median_ms"], lat["p99_ms"], speed["builds"][name]
            first_cells = [size, name, f"{build:.1f}", str(lat["queries"]), f"{median:.3f}"]
            cells.append([*first_cells, f"{low:.3f}–{high:.3f}", f"{p99:.2f}"])
        first = speed["fast_first_top_k_s"]
        notes.append(f"- {size}: FastBM25's first top-k {first:.2f} s (numba, the kernel)")
        if "same_top10" in speed:
            same = "yes" if speed["same_top10"] else "NO"
            notes.append(f"- {size}: its top {top_k} is rank-bm25's on every sampled query: {same}")
        notes += [f"- {size}: {note}" for note in speed["notes"]]
    return [*lines, *table(header, cells), "", *notes]
