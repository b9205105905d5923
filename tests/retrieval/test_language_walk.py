"""The detector's walk (retrieval.language_walk): the Python walk gives the compiled
kernel's floats exactly, and serves short texts while the kernel is held back."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from retrieval import background_compile, language_walk
from retrieval.language_kernel import log_scores as compiled
from retrieval.language_walk import Model
from retrieval.languages import Detector, detector


@pytest.fixture(scope="module")
def arrays() -> Model:
    found = detector()
    assert isinstance(found, Detector), "the pinned py3langid model must load"
    return found._model


def texts() -> Iterator[str]:
    yield from ("", "x", "12345 !!!", "How many refugees have reached camps in Turkey?")
    yield from ("Сколько беженцев?", "中文测试文本，这是一个问题", "مرحبا كيف حالك", "ab" * 400)
    rnd = random.Random(7)
    blocks = [(0x20, 0x7E), (0x400, 0x4FF), (0x600, 0x6FF), (0x4E00, 0x4FFF), (0xE0, 0xFF)]
    for _ in range(120):
        spans = [rnd.choice(blocks) for _ in range(rnd.randint(0, 700))]
        yield "".join(chr(rnd.randint(*span)) for span in spans)


def utf8(text: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8", errors="surrogatepass"), np.uint8)


def test_the_python_walk_gives_the_kernel_s_floats_exactly(arrays: Model) -> None:
    for text in texts():
        want, want_found = compiled(*arrays, utf8(text))
        got, got_found = language_walk.python_log_scores(arrays, utf8(text))
        assert got_found == want_found, text
        assert got.dtype == want.dtype == np.float32
        assert np.array_equal(got, want), text


class _Held:
    """A kernel whose load is counted, under the process's hold."""

    def __init__(self) -> None:
        self.loads = 0

    def load(self) -> language_walk.Walk:
        self.loads += 1
        return compiled


@pytest.fixture()
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Held]:
    counter = _Held()
    kernel = background_compile.BackgroundKernel("test-walk", counter.load, "cannot")
    monkeypatch.setattr(language_walk, "_KERNEL", kernel)
    background_compile.hold()
    try:
        yield counter
    finally:
        background_compile.release()


def test_while_held_a_short_text_walks_in_python_and_the_kernel_waits(
    arrays: Model, held: _Held
) -> None:
    text = utf8("How many refugees have reached camps in Turkey?")
    scores, found = language_walk.log_scores(arrays, text)
    assert found > 0 and held.loads == 0
    assert language_walk._KERNEL.get() is None
    background_compile.release()
    assert language_walk._KERNEL.get(wait=True) is compiled and held.loads == 1
    again, _ = language_walk.log_scores(arrays, text)
    assert np.array_equal(again, scores)


@pytest.mark.parametrize("long_text", [True, False])
def test_a_long_text_or_indexing_loads_the_kernel_even_while_held(
    arrays: Model, held: _Held, long_text: bool
) -> None:
    size = language_walk.PYTHON_WALK_BYTES + 1 if long_text else 10
    text = utf8("a" * size)
    language_walk.log_scores(arrays, text, wait=not long_text)
    assert held.loads == 1
    assert language_walk._KERNEL.get() is compiled
