"""The language detector's arrays, kept uncompressed beside the index cache.

py3langid ships its model compressed with xz.  Decompressing it and widening its
weights to float32 took 0.4 s, and the first question after a restart waited for
it.  Saved once as plain `.npy` files with their sha256, under the index cache's
folder, the arrays map in a few tens of milliseconds on later starts, and every
replica on the machine shares their pages.  Files that fail their hash or do not
fit together are made again from the model, which is checked by its own sha256
(retrieval.languages).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from retrieval.cache_stamps import hashed

log = logging.getLogger(__name__)

Arrays = dict[str, npt.NDArray[np.generic]]

# What language_kernel.log_scores walks and sums, and the classes' labels.
FIELDS: Final = ("nextmove", "rowbase", "output", "weights", "priors", "classes")
_LAYOUT: Final = 1  # bump when what the files hold changes
_SUMS: Final = "sha256.json"


def folder_for(cache_dir: Path, model_sha256: str) -> Path:
    return cache_dir / f"language-model-{model_sha256[:32]}-v{_LAYOUT}"


def from_model(path: Path) -> Arrays:
    """The arrays of the py3langid model file at `path` (raises what py3langid raises)."""
    from py3langid.langid import LanguageIdentifier

    model = LanguageIdentifier.from_modelpath(path, norm_probs=True)
    arrays: Arrays = {
        "nextmove": np.asarray(model.tk_nextmove),
        "rowbase": np.asarray(model.tk_row, dtype=np.int64) << 8,
        "output": np.asarray(model.tk_output, dtype=np.int32),
        # Widened from float16 once (57 MB), as each use would widen them anyway.
        "weights": np.asarray(model.nb_ptc, dtype=np.float32),
        "priors": np.asarray(model.nb_pc, dtype=np.float32),
        "classes": np.asarray(model.nb_classes, dtype=np.str_),
    }
    check(arrays)
    return arrays


def check(arrays: Arrays) -> None:
    """Raise ValueError unless every index the compiled walk follows stays in bounds."""
    nextmove, rowbase, output = arrays["nextmove"], arrays["rowbase"], arrays["output"]
    weights, priors, classes = arrays["weights"], arrays["priors"], arrays["classes"]
    states = len(rowbase)
    types = {"rowbase": np.int64, "output": np.int32, "weights": np.float32, "priors": np.float32}
    if nextmove.dtype.kind not in "iu" or any(arrays[k].dtype != t for k, t in types.items()):
        raise ValueError("arrays of other types")
    problems = [
        (weights.ndim != 2 or priors.shape != (weights.shape[1],), "weights and priors differ"),
        (classes.shape != priors.shape, "classes and priors differ"),
        (len(output) != states or states == 0, "states and outputs differ"),
        (int(rowbase.min()) < 0 or int(rowbase.max()) + 256 > len(nextmove), "bad row"),
        (int(nextmove.min()) < 0 or int(nextmove.max()) >= states, "bad move"),
        (int(output.min()) < -1 or int(output.max()) >= len(weights), "bad output"),
    ]
    for failed, what in problems:
        if failed:
            raise ValueError(what)


def load(folder: Path) -> Arrays | None:
    """The arrays saved in `folder`, mapped read-only; None when there are none or they
    fail their hashes or do not fit together (the caller makes them again)."""
    try:
        sums = json.loads((folder / _SUMS).read_bytes())
        arrays: Arrays = {}
        for name in FIELDS:
            path = folder / f"{name}.npy"
            if _sha256(path) != sums[name]:
                raise ValueError(f"{path.name} does not match its checksum")
            arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        check(arrays)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.info("remaking the language model's arrays in %s (%s)", folder, error)
        return None
    return arrays


def save(folder: Path, arrays: Arrays) -> None:
    """Write the arrays into `folder` whole or not at all; a disk that refuses costs only
    the speed-up (the next start decompresses the model again)."""
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex}")
    try:
        tmp.mkdir(parents=True)
        sums = {}
        for name in FIELDS:
            np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
            sums[name] = _sha256(tmp / f"{name}.npy")
        (tmp / _SUMS).write_text(json.dumps(sums))
        shutil.rmtree(folder, ignore_errors=True)  # a bad copy, found bad by load
        os.replace(tmp, folder)
    except OSError as error:
        log.info("could not keep the language model's arrays in %s (%s)", folder, error)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashed(handle)[1]
