"""The semantic stage, as the bot and the terminal commands open it.

The bot embeds in the background and answers with BM25 alone until the vectors are there
(`open_semantic`, given to the library).  `chat`, `search` and `eval` embed first, in the
foreground, with a progress line on stderr (`prepared`): a one-off command should give
the answer the bot will give (progress shows on a terminal only).  Either way the vectors
are kept in DATA_DIR/vectors, keyed by each text's sha256, so a text is embedded once
(`--no-cache` is about the index cache: these are never stale).  SEMANTIC_SEARCH=off
turns the stage off; a model that cannot be loaded turns it off with one line saying why.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Settings
from retrieval.errors import RetrievalError

if TYPE_CHECKING:
    from retrieval.search import SearchEngine
    from retrieval.semantic_stage import SemanticStage

log = logging.getLogger(__name__)

EMBEDDING = "embedding {total} windows and sentences of the reports (once; kept in {folder})"
EMBEDDED = "embedded {done}/{total}"
STAGE_OFF = "semantic stage off, answers use BM25 alone: {error}"


def vector_dir(settings: Settings) -> Path:
    return settings.data_dir / "vectors"


def _stage(settings: Settings) -> SemanticStage:
    from retrieval.semantic import MODEL_DIR_ENV
    from retrieval.semantic_stage import SemanticStage

    own = settings.semantic_model_dir
    return SemanticStage(vector_dir(settings), environ={MODEL_DIR_ENV: str(own)} if own else {})


def open_semantic(
    settings: Settings, say: Callable[[str], None] = log.error
) -> SemanticStage | None:
    """The stage, its vectors in DATA_DIR/vectors; None when turned off, or when its model
    cannot be loaded (`say` is told why)."""
    if not settings.semantic:
        return None
    from retrieval.semantic import MODEL_DIR_ENV
    from retrieval.semantic_stage import SemanticStage

    own = settings.semantic_model_dir
    try:
        return SemanticStage(vector_dir(settings), environ={MODEL_DIR_ENV: str(own)} if own else {})
    except RetrievalError as error:
        say(STAGE_OFF.format(error=error))
        return None


def prepared(engine: SearchEngine, settings: Settings, out: TextIO | None = None) -> SearchEngine:
    """`engine` with the semantic stage, every vector embedded (saying so on `out`,
    standard error when None: the stream of the moment, not the one at import)."""
    out = out or sys.stderr
    stage = open_semantic(settings, lambda line: print(line, file=out))
    if stage is None:
        return engine
    shown = {"last": -1}

    def progress(done: int, total: int) -> None:
        if not out.isatty():
            return
        if shown["last"] < 0:
            print(EMBEDDING.format(total=total, folder=stage.store.folder), file=out)
        step = max(total // 100, 1)  # the line is rewritten in place each percent
        if done == total or done // step != shown["last"] // step:
            end = "\n" if done == total else "\r"
            print(EMBEDDED.format(done=done, total=total), end=end, file=out, flush=True)
        shown["last"] = done

    stage.prepare(engine.corpus, progress)
    return engine.with_semantic(stage)
