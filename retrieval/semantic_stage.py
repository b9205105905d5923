"""The semantic stage's life: the model, the vectors on disk, and a background thread that
embeds what a new corpus adds.

A `SearchEngine` given a stage (`with_semantic`) asks it for the index of its own corpus
on every question: until every window and sentence of that corpus is embedded, there is
none, and the engine answers with BM25 and stage two alone.  `request` (the live library
calls it after each build) wakes the thread; `prepare` embeds in the caller's thread
(`reports-bot eval` and the terminal commands, which want the semantic answers at once).

The thread lowers its own priority before it loads its model, so onnxruntime's worker
threads (which inherit it) give way to the bot; questions are embedded in the caller's
thread on a one-thread model of their own.  A model that cannot be loaded turns the stage
off with one log line: the bot goes on with BM25.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from retrieval.answering import Dense
from retrieval.corpus import Corpus
from retrieval.errors import RetrievalError
from retrieval.rerank import Query
from retrieval.semantic import Embedder, ModelFiles, Vectors, model_files
from retrieval.semantic_index import (
    SEMANTIC_LANGUAGES,
    SemanticIndex,
    assemble,
    embed_missing,
    texts_to_embed,
)
from retrieval.semantic_rank import Pool, RankerModel, default_model
from retrieval.vector_store import VectorStore

log = logging.getLogger(__name__)

_QUESTION_MEMO = 512
_KEEP_INDEXES = 2
_MANY_TEXTS = 1000
Progress = Callable[[int, int], None]


def model_id(files: ModelFiles, max_tokens: int) -> str:
    """What the stored vectors depend on: the model file and the input limit."""
    if files.verified:
        return f"minilm-int8-{max_tokens}"
    stat = files.model.stat()
    return f"{files.model.parent.name}-{stat.st_size}-{int(stat.st_mtime)}-{max_tokens}"


class SemanticStage:
    def __init__(
        self,
        vector_dir: Path | None,
        *,
        environ: Mapping[str, str] | None = None,
        model: RankerModel | None = None,
        nice: int = 10,
    ) -> None:
        self.model = model or default_model()
        self._files = model_files(environ)  # raises SemanticModelError, saying how to fix
        self._query_embedder = Embedder(self._files, threads=1)
        self.dimension = self._query_embedder.dimension
        folder = vector_dir
        ident = model_id(self._files, self._query_embedder.max_tokens)
        self.store = VectorStore(folder, ident, self.dimension)
        self._nice = nice
        self._lock = threading.Condition()
        # The newest indexes, newest last: an engine swapped out may still be answering.
        self._ready: list[tuple[Corpus, SemanticIndex]] = []
        self._wanted: Corpus | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._questions: OrderedDict[str, Vectors] = OrderedDict()
        # Called with each question's pool (benchmarks/fit_semantic.py fits on them).
        self.observer: Callable[[Query, Pool], None] | None = None
        self.embedded = 0  # texts embedded by this process

    # -- what searches use ---------------------------------------------------

    def index_for(self, corpus: Corpus) -> SemanticIndex | None:
        for known, index in reversed(self._ready):
            if known is corpus:
                return index
        return None

    def dense(self, corpus: Corpus, language: str, question: str) -> Dense | None:
        """What the semantic stage brings to `question` over `corpus`: None until its
        vectors are ready, or for a language the model was not trained on (MiniLM:
        English)."""
        index = self.index_for(corpus) if language in SEMANTIC_LANGUAGES else None
        if index is None:
            return None
        return Dense(index, self.question_vector(question), self.model, self.observer)

    @property
    def ready(self) -> bool:
        """The newest corpus asked for has its index."""
        wanted = self._wanted
        return wanted is not None and self.index_for(wanted) is not None

    def question_vector(self, question: str) -> Vectors:
        with self._lock:
            vector = self._questions.get(question)
            if vector is not None:
                self._questions.move_to_end(question)
                return vector
        embedded: Vectors = self._query_embedder.embed([question])[0]
        with self._lock:
            self._questions[question] = embedded
            while len(self._questions) > _QUESTION_MEMO:
                self._questions.popitem(last=False)
        return embedded

    def forget_questions(self) -> None:
        """Drop the memo of recent question vectors (benchmarks time a new question)."""
        with self._lock:
            self._questions.clear()

    # -- building ------------------------------------------------------------

    def prepare(self, corpus: Corpus, progress: Progress | None = None) -> SemanticIndex:
        """Embed what `corpus` lacks in this thread, and make its index the current one."""
        with self._lock:
            self._wanted = corpus
        index = self._build(corpus, None, progress)
        assert index is not None
        return index

    def request(self, corpus: Corpus) -> None:
        """Have the background thread embed `corpus` (the newest request wins)."""
        with self._lock:
            if self._closed:
                return
            self._wanted = corpus
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="semantic-embedder", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        # Not allowed, or not Linux: run at the bot's own priority.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        try:
            embedder = Embedder(self._files)
        except RetrievalError as error:
            log.error("semantic stage off, answers use BM25 alone: %s", error)
            return
        done: Corpus | None = None
        while True:
            with self._lock:
                while not self._closed and (self._wanted is None or self._wanted is done):
                    self._lock.wait()
                if self._closed:
                    return
                corpus = self._wanted
            assert corpus is not None
            try:
                if self._build(corpus, embedder, None) is not None:
                    done = corpus
            except Exception:  # one bad batch must not end the stage for good
                log.exception("embedding the reports failed; trying again in 60 s")
                with self._lock:
                    self._lock.wait(timeout=60)

    def _build(
        self, corpus: Corpus, embedder: Embedder | None, progress: Progress | None
    ) -> SemanticIndex | None:
        """Embed what `corpus` lacks with `embedder` (None: the question model, or for many
        texts a model on every core), then make its index current; None when a newer
        corpus was asked for (or the stage closed) first."""
        started = time.perf_counter()
        texts = texts_to_embed(corpus)
        missing = self.store.missing(texts.all_keys())
        if missing:
            log.info("embedding %d new windows and sentences for the semantic stage", len(missing))
        if embedder is None:  # the question model has one thread
            many = len(missing) > _MANY_TEXTS
            embedder = Embedder(self._files) if many else self._query_embedder

        def stop() -> bool:
            return self._closed or self._wanted is not corpus

        before = len(self.store)
        finished = embed_missing(
            corpus, texts, missing, self.store, embedder, stop=stop, progress=progress
        )
        self.embedded += len(self.store) - before
        if not finished:
            return None
        index = assemble(corpus, texts, self.store)
        with self._lock:
            self._ready = [*self._ready, (corpus, index)][-_KEEP_INDEXES:]
        seconds = time.perf_counter() - started
        log.info(
            "semantic stage ready: %d passages, %d texts embedded now, in %.1f s",
            index.size,
            len(missing),
            seconds,
        )
        return index
