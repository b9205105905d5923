"""The file format of a saved FastBM25 index: magic bytes, the header's length, a JSON
header (format, version, parameters, and each array's dtype, shape and offset), then
the arrays, each starting on a 64-byte boundary so they can be read in place.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from retrieval.errors import IndexCacheError

_MAGIC: Final = b"RBOTBM25"
# What the arrays make: FastBM25's posting lists, or retrieval.bm25_forward's index.
FORMAT: Final = "reports-bot/bm25"
FORWARD_FORMAT: Final = "reports-bot/bm25-forward"
# 2: block bounds (block_best_code, "block"); 3: the forward index (token_ids)
_FORMAT_VERSION: Final = 3
_ALIGN: Final = 64
_DTYPES: Final = frozenset({"<i4", "<i8", "<u2", "<u4", "<f8", "|u1"})


def write_arrays(
    path: Path,
    params: dict[str, float],
    arrays: dict[str, npt.NDArray[Any]],
    *,
    kind: str = FORMAT,
) -> None:
    """Write `params` and `arrays` to `path` atomically (a temporary file in the same
    folder, then a rename); `kind` names the index they make (read_arrays checks it)."""
    arrays = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    specs: dict[str, dict[str, Any]] = {}
    offset = end = 0
    for name, array in arrays.items():
        specs[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        end = offset + array.nbytes
        offset = _aligned(end)
    header = json.dumps(
        {"format": kind, "version": _FORMAT_VERSION, "params": params, "arrays": specs}
    ).encode()
    prefix = _MAGIC + len(header).to_bytes(8, "little") + header
    data_start = _aligned(len(prefix))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(prefix)
            for name, array in arrays.items():
                out.seek(data_start + specs[name]["offset"])
                array.tofile(out)  # straight from the array's memory, no copy
            out.truncate(data_start + end)  # ends with the last byte of data: cuts show
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_arrays(
    data: bytes | memoryview, source: str, *, kind: str = FORMAT
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The params and arrays in the bytes of a file `write_arrays` wrote for an index of
    `kind`, the arrays read-only views into `data`; IndexCacheError naming `source`
    when they are not."""

    def corrupt(why: str) -> IndexCacheError:
        return IndexCacheError(f"the search index {source} is {why}; delete it to rebuild")

    if data[: len(_MAGIC)] != _MAGIC:
        raise corrupt("not a reports-bot index (bad magic bytes)")
    start = len(_MAGIC) + 8
    header_len = int.from_bytes(data[len(_MAGIC) : start], "little")
    try:
        header = json.loads(bytes(data[start : start + header_len]))
        if header["format"] != kind or header["version"] != _FORMAT_VERSION:
            found = f"{header['format']} v{header['version']}"
            raise corrupt(f"format {found}, not {kind} v{_FORMAT_VERSION}")
        data_start = _aligned(start + header_len)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, spec in header["arrays"].items():
            if spec["dtype"] not in _DTYPES:
                raise corrupt(f"unreadable (array {name} has dtype {spec['dtype']})")
            shape = spec["shape"]
            if not all(isinstance(n, int) and n >= 0 for n in shape):
                raise corrupt(f"unreadable (array {name} has shape {shape})")
            dtype = np.dtype(spec["dtype"])
            count = math.prod(shape)
            offset = data_start + int(spec["offset"])
            if offset < data_start or offset + count * dtype.itemsize > len(data):
                raise corrupt(f"truncated (array {name} runs past the end)")
            arrays[name] = np.frombuffer(data, dtype, count, offset).reshape(shape)
        return header["params"], arrays
    except (ValueError, KeyError, TypeError) as error:
        raise corrupt(f"unreadable ({error})") from error


def term_arrays(terms: Mapping[str, int]) -> dict[str, npt.NDArray[Any]]:
    """The term dictionary as two arrays: the terms separated by NUL (so loading splits
    them in C) and where each ends; `terms` numbered 0, 1, ... in insertion order."""
    names = list(terms)
    text = "\0".join(names)
    term_chars = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in names], out=term_chars[1:])
    nul = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    return {"terms_nul": nul, "term_chars": term_chars}


def terms_of(arrays: Mapping[str, npt.NDArray[Any]]) -> tuple[dict[str, int], int]:
    """The term dictionary `term_arrays` wrote, and how many terms the file says it holds
    (more than the dictionary's when a term is repeated: the caller refuses that)."""
    text = arrays["terms_nul"].tobytes().decode("utf-8", "surrogatepass")
    bounds = arrays["term_chars"].tolist()
    names = text.split("\0")
    if len(names) != len(bounds) - 1:  # a term holds a NUL itself: cut by lengths
        names = [text[a + i : z + i] for i, (a, z) in enumerate(pairwise(bounds))]
    return dict(zip(names, range(len(names)), strict=True)), len(bounds) - 1


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN
