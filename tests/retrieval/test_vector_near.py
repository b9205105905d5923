"""Sign bits and the pass that picks a question's likely nearest texts by them: the
compiled kernel and numpy pick the same rows, ties and all."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import vector_near
from retrieval.vector_near import compiled_nearest, nearest_by_signs, numpy_nearest
from retrieval.vector_quant import quantise, sign_bits


def random_signs(rows: int, dimension: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dimension))
    return sign_bits(vectors)


def reference(
    signs: np.ndarray, eligible: np.ndarray, question: np.ndarray, count: int
) -> list[int]:
    """By the definition: a stable sort of the eligible rows by bits apart."""
    apart = [sum(bin(int(w)).count("1") for w in row ^ question) for row in signs]
    ranked = sorted((d, i) for i, d in enumerate(apart) if eligible[i])
    return sorted(i for _, i in ranked[:count])


def test_sign_bits_hold_one_bit_a_component_set_where_it_is_positive() -> None:
    vector = np.zeros(70)
    vector[[0, 3, 64, 69]] = [1.0, 2.0, 0.5, 3.0]
    vector[[1, 2]] = -1.0
    words = sign_bits(vector)
    assert words.shape == (2,) and words.dtype == np.uint64  # 70 bits take two words
    bits = np.unpackbits(words.view(np.uint8))
    assert np.flatnonzero(bits).tolist() == [0, 3, 64, 69]
    rows = np.random.default_rng(1).standard_normal((5, 384))
    assert sign_bits(rows).shape == (5, 6)
    # A quantised chunk keeps the bits of its int8 rows (what a chunk read back has).
    chunk = quantise(rows.astype(np.float32))
    np.testing.assert_array_equal(chunk.signs, sign_bits(chunk.rows))


@pytest.mark.parametrize("dimension", [8, 100, 384])
@pytest.mark.parametrize("count", [0, 1, 7, 64, 500])
def test_the_kernel_and_numpy_pick_the_rows_the_definition_does(dimension: int, count: int) -> None:
    # Eight dimensions: few distinct distances, so ties decide most picks.
    signs = random_signs(400, dimension, seed=dimension)
    rng = np.random.default_rng(count)
    eligible = rng.random(400) > 0.3
    question = sign_bits(rng.standard_normal(dimension))
    kernel = compiled_nearest(wait=True)
    assert kernel is not None
    expected = reference(signs, eligible, question, count)
    assert numpy_nearest(signs, eligible, question, count).tolist() == expected
    assert nearest_by_signs(signs, eligible, question, count, kernel=kernel).tolist() == expected


def test_nothing_eligible_or_nothing_held_picks_nothing() -> None:
    signs = random_signs(10, 16, seed=3)
    question = signs[0]
    none = np.zeros(10, dtype=bool)
    kernel = compiled_nearest(wait=True)
    assert nearest_by_signs(signs, none, question, 5, kernel=kernel).tolist() == []
    assert numpy_nearest(signs, none, question, 5).tolist() == []
    empty = signs[:0]
    assert nearest_by_signs(empty, none[:0], question, 5).tolist() == []


def test_a_text_with_the_question_s_own_bits_comes_first() -> None:
    signs = random_signs(1000, 384, seed=4)
    eligible = np.ones(1000, dtype=bool)
    picked = nearest_by_signs(signs, eligible, signs[637], 1, kernel=compiled_nearest(wait=True))
    assert picked.tolist() == [637]


def test_read_only_bits_are_what_the_compiled_kernel_is_warmed_for() -> None:
    kernel = compiled_nearest(wait=True)
    assert kernel is not None
    signs = random_signs(10, 384, seed=5)
    eligible = np.ones(10, dtype=bool)
    for array in (signs, eligible):
        array.flags.writeable = False
    signatures = len(kernel.signatures)  # type: ignore[attr-defined]
    nearest_by_signs(signs, eligible, signs[0].copy(), 3, kernel=kernel)
    assert len(kernel.signatures) == signatures  # type: ignore[attr-defined]


def test_a_pass_shared_between_threads_picks_the_rows_of_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signs = random_signs(3001, 16, seed=6)  # 16 bits: ties across the slices' borders
    eligible = np.random.default_rng(7).random(3001) > 0.1
    question = signs[42]
    kernel = compiled_nearest(wait=True)
    whole = nearest_by_signs(signs, eligible, question, 250, kernel=kernel)
    monkeypatch.setattr(vector_near, "_SPLIT_ROWS", 100)
    monkeypatch.setattr(vector_near, "_WORKERS", 3)
    for count in (1, 250, 5000):
        shared = nearest_by_signs(signs, eligible, question, count, kernel=kernel)
        assert shared.tolist() == reference(signs, eligible, question, count)
    assert (
        nearest_by_signs(signs, eligible, question, 250, kernel=kernel).tolist() == whole.tolist()
    )
