"""The language detector's arrays kept uncompressed beside the index cache: mapped on
the next load, and made again from the model whenever they are not what was saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval import language_arrays, languages
from retrieval.languages import Detector

TEXTS = ("How many refugees reached the camps?", "Wie viele Flüchtlinge?", "Obama?", "")


@pytest.fixture(scope="module")
def reference() -> Detector:
    return Detector(languages.default_model_path())


def same_as(detector: Detector, reference: Detector) -> bool:
    return all(detector.probabilities(t) == reference.probabilities(t) for t in TEXTS)


def mapped(array: object) -> bool:
    while array is not None and not isinstance(array, np.memmap):
        array = getattr(array, "base", None)
    return array is not None


def kept(cache: Path) -> Path:
    [folder] = cache.glob("language-model-*")
    return folder


def test_kept_arrays_are_mapped_on_the_next_load(
    tmp_path: Path, reference: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = languages.default_model_path()
    first = Detector(model, tmp_path)
    assert same_as(first, reference)
    assert sorted(p.name for p in kept(tmp_path).iterdir()) == sorted(
        [*(f"{name}.npy" for name in language_arrays.FIELDS), "sha256.json"]
    )

    def no_decompressing(path: Path) -> None:
        raise AssertionError("the model was decompressed again")

    monkeypatch.setattr(language_arrays, "from_model", no_decompressing)
    second = Detector(model, tmp_path)
    assert same_as(second, reference)
    # The file's pages, shared:
    assert mapped(second._model.weights) and not mapped(first._model.weights)


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "no sums", "out of bounds"])
def test_arrays_that_are_not_what_was_saved_are_made_again(
    tmp_path: Path, reference: Detector, damage: str
) -> None:
    model = languages.default_model_path()
    Detector(model, tmp_path)
    folder = kept(tmp_path)
    weights, moves = folder / "weights.npy", folder / "nextmove.npy"
    if damage == "flip a byte":
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0x10
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        moves.write_bytes(moves.read_bytes()[:-4])
    elif damage == "no sums":
        (folder / "sha256.json").unlink()
    else:  # good checksums over a move past the last state: the walk would read astray
        bad = np.load(moves).copy()
        bad[0] = np.iinfo(bad.dtype).max
        np.save(moves, bad)
        sums = json.loads((folder / "sha256.json").read_text())
        sums["nextmove"] = language_arrays._sha256(moves)
        (folder / "sha256.json").write_text(json.dumps(sums))
    again = Detector(model, tmp_path)
    assert same_as(again, reference)
    assert language_arrays.load(kept(tmp_path)) is not None  # and kept whole again


def test_a_folder_that_cannot_be_written_costs_only_the_speed_up(
    tmp_path: Path, reference: Detector
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("in the way")
    assert same_as(Detector(languages.default_model_path(), not_a_folder), reference)
