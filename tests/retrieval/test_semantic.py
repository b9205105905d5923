"""The semantic stage's embedder, with the real pinned model (no mocks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval import semantic
from retrieval.semantic import (
    MODEL_DIR_ENV,
    PINNED_SHA256,
    Embedder,
    SemanticModelError,
    cosine,
    cosines,
    default_files,
    min_max,
    normalise,
    verify,
)

QUESTION = "How many people fled to Turkey?"
ANSWER = "Over 40,000 refugees have already entered camps in Turkey."
UNRELATED = "The stock market closed higher on Tuesday after strong earnings reports."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load(environ={})


def flip_a_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_default_model_is_the_pinned_one_and_verified(embedder: Embedder) -> None:
    assert embedder.files.verified
    assert embedder.files.model.name == "model.onnx"
    assert embedder.dimension == 384
    assert embedder.max_tokens == 256


def test_vectors_are_float32_unit_rows_in_order(embedder: Embedder) -> None:
    texts = [QUESTION, ANSWER, UNRELATED, "", "x"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (5, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    # Row i is text i, whatever order the batches ran in.
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(vectors, alone, atol=1e-5)


def test_embedding_is_deterministic(embedder: Embedder) -> None:
    texts = [ANSWER, QUESTION, UNRELATED] * 4
    first = embedder.embed(texts)
    assert np.array_equal(first, embedder.embed(texts))
    assert np.array_equal(first[0], first[3])


def test_a_paraphrase_scores_well_above_an_unrelated_sentence(embedder: Embedder) -> None:
    question, answer, unrelated = embedder.embed([QUESTION, ANSWER, UNRELATED])
    scores = cosine(question, np.stack([answer, unrelated]))
    assert scores[0] > 0.5
    assert scores[0] > scores[1] + 0.3


def test_a_long_text_is_cut_to_the_model_limit(embedder: Embedder) -> None:
    words = " ".join(f"word{i}" for i in range(3000))
    long = embedder.embed([words, words + " and a different ending entirely"])
    # Both are cut long before their ends differ.
    np.testing.assert_allclose(long[0], long[1], atol=1e-6)


def test_a_changed_vendored_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "minilm"
    shutil.copytree(semantic.VENDORED_DIR, copy)
    flip_a_byte(copy / "tokenizer.json", 1000)
    monkeypatch.setattr(semantic, "VENDORED_DIR", copy)
    with pytest.raises(SemanticModelError, match=r"tokenizer\.json is not the pinned file") as err:
        default_files()
    assert "git checkout retrieval/data/minilm" in str(err.value)
    assert MODEL_DIR_ENV in str(err.value)


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    shutil.copyfile(default_files().model, model)
    verify(model, PINNED_SHA256["model.onnx"], "reinstall it")
    flip_a_byte(model, model.stat().st_size // 2)
    with pytest.raises(SemanticModelError, match=r"not the pinned file.*reinstall it"):
        verify(model, PINNED_SHA256["model.onnx"], "reinstall it")


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SemanticModelError, match=r"cannot read .*restore it"):
        verify(tmp_path / "gone.json", "0" * 64, "restore it")


def test_a_model_directory_in_hugging_face_layout_loads_unverified(
    tmp_path: Path, embedder: Embedder
) -> None:
    (tmp_path / "onnx").mkdir()
    shutil.copyfile(embedder.files.model, tmp_path / "onnx" / "model.onnx")
    shutil.copyfile(semantic.VENDORED_DIR / "tokenizer.json", tmp_path / "tokenizer.json")
    own = Embedder.load(environ={MODEL_DIR_ENV: str(tmp_path)})
    assert not own.files.verified
    assert own.files.model == tmp_path / "onnx" / "model.onnx"
    assert own.max_tokens == 256  # no sentence_bert_config.json: the default limit
    np.testing.assert_allclose(own.embed([ANSWER]), embedder.embed([ANSWER]), atol=1e-6)


def test_a_bad_model_directory_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SemanticModelError, match="is not a directory"):
        Embedder.load(environ={MODEL_DIR_ENV: str(tmp_path / "nowhere")})
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(SemanticModelError, match=r"has no model\.onnx .*huggingface-cli"):
        Embedder.load(environ={MODEL_DIR_ENV: str(tmp_path)})


def test_the_numpy_helpers() -> None:
    rows = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert rows.dtype == np.float32
    np.testing.assert_allclose(cosine(rows[0], rows), [1.0, 0.0])
    assert cosine(rows[0], rows[:0]).shape == (0,)
    np.testing.assert_allclose(cosines(rows, rows), [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(min_max(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(min_max(np.array([5.0, 5.0])), [1.0, 1.0])
