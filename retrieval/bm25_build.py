"""Building FastBM25's posting lists from tokenized documents, and the BM25 arithmetic
done in rank-bm25's operation order (see retrieval.bm25 for why that order matters).

Postings are laid out term-major: the postings of term t are `doc_ids` and
`pair_codes` over [term_offsets[t], term_offsets[t+1]), doc ids ascending, and
pair code c stands for (pair_tf[c], pair_dl[c]), one code per distinct
(term frequency, document length) pair.  For score bounds, each term keeps the
code of its best posting, and so does each block of `BLOCK` consecutive
postings of a term.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from retrieval.scorer import Floats, Ints

# Postings per block of the block bounds: smaller blocks bound tighter but cost more
# checks per posting skipped (retrieval.bm25_kernel), and 2 bytes each in the index.
BLOCK: Final = 64


class Forward(NamedTuple):
    """The forward index: document d's tokens are `token_ids[starts[d]:starts[d + 1]]`,
    ids as in `terms`; what stage two matches questions against without strings."""

    terms: Mapping[str, int]
    token_ids: npt.NDArray[np.int32]
    starts: Ints

    @property
    def size(self) -> int:
        """How many documents."""
        return len(self.starts) - 1


class TermIds(dict[str, int]):
    """Term → id, numbering new terms in order of first appearance (as rank-bm25 meets them)."""

    def __missing__(self, term: str) -> int:
        term_id = len(self)
        self[term] = term_id
        return term_id


# ---- the arithmetic, in rank-bm25's operation order ------------------------------------


def okapi_idf(df: Ints, n_docs: int, epsilon: float) -> tuple[Floats, float]:
    """Per-term idf with rank-bm25's epsilon floor, and the average raw idf.

    idf depends only on df, so the logs are taken once per distinct df with
    `math.log`, exactly as rank-bm25 does.  rank-bm25 sums the raw idfs one by
    one in first-appearance order, which is our term-id order; `cumsum` adds
    sequentially too, where `sum` would add pairwise and round differently.
    """
    if len(df) == 0:
        return np.zeros(0), 0.0
    distinct = np.flatnonzero(np.bincount(df))
    raw_of_df = np.zeros(int(distinct[-1]) + 1)
    raw_of_df[distinct] = [
        math.log(n_docs - f + 0.5) - math.log(f + 0.5) for f in distinct.tolist()
    ]
    raw = raw_of_df[df]
    average_idf = float(np.cumsum(raw)[-1]) / len(raw)
    return np.where(raw < 0, epsilon * average_idf, raw), average_idf


def okapi_tf_part(pair_tf: Ints, pair_dl: Ints, k1: float, b: float, avgdl: float) -> Floats:
    """rank-bm25's `q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl))`."""
    if len(pair_tf) == 0:
        return np.zeros(0)
    q_freq, doc_len = pair_tf, pair_dl
    part: Floats = q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl))
    return part


# ---- inverting documents into posting lists -------------------------------------------


Chunk = tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32]]


def invert_chunks(token_ids: npt.NDArray[np.int32], doc_len: Ints, chunk_docs: int) -> list[Chunk]:
    """`invert_chunk` over every `chunk_docs` documents, which caps the sorts' memory."""
    starts = np.zeros(len(doc_len) + 1, dtype=np.int64)
    np.cumsum(doc_len, out=starts[1:])
    return [
        invert_chunk(token_ids[starts[first] : starts[first + len(lengths)]], first, lengths)
        for first in range(0, len(doc_len), chunk_docs)
        for lengths in (doc_len[first : first + chunk_docs],)
    ]


def invert_chunk(token_ids: npt.NDArray[np.int32], first: int, lengths: Ints) -> Chunk:
    """(term, doc, tf) of every posting of consecutive documents, term-major, docs
    ascending: `token_ids` are their tokens' term ids, one document after another,
    `first` the first one's number and `lengths` their lengths."""
    n_tokens = len(token_ids)
    # One key per token, term-major then doc: after sorting, a run of equal
    # keys is one posting and its length is the term frequency.
    keys = token_ids.astype(np.int64)
    width = max(len(lengths), 1)
    keys *= width
    keys += np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    keys.sort()
    new_run = np.ones(n_tokens, dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    tf = np.diff(starts, append=n_tokens)
    term, doc = np.divmod(keys[starts], width)
    doc += first
    return term.astype(np.int32), doc.astype(np.int32), tf.astype(np.int32)


def merge_chunks(
    chunks: list[Chunk],
    n_terms: int,
) -> tuple[Ints, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Lay the chunks' postings out term-major: (term offsets, doc ids, tfs).

    Chunks cover increasing doc ranges, so appending each chunk's postings
    of a term after the previous chunks' keeps doc ids ascending.  Chunks
    are dropped from the list as they are placed, to free their memory.
    """
    counts = [np.bincount(term, minlength=n_terms) for term, _, _ in chunks]
    term_offsets = np.zeros(n_terms + 1, dtype=np.int64)
    for count in counts:
        term_offsets[1:] += count
    np.cumsum(term_offsets, out=term_offsets)
    doc_ids = np.empty(int(term_offsets[-1]), dtype=np.int32)
    tf = np.empty(int(term_offsets[-1]), dtype=np.int32)
    cursor = term_offsets[:-1].copy()
    chunk_start = np.zeros(n_terms + 1, dtype=np.int64)
    while chunks:
        term, doc, freq = chunks.pop(0)
        count = counts.pop(0)
        np.cumsum(count, out=chunk_start[1:])
        at = cursor[term] + (np.arange(len(term)) - chunk_start[term])
        doc_ids[at] = doc
        tf[at] = freq
        cursor += count
    return term_offsets, doc_ids, tf


def number_pairs(
    tf: npt.NDArray[np.int32], doc_ids: npt.NDArray[np.int32], doc_len: Ints
) -> tuple[npt.NDArray[np.unsignedinteger[Any]], Ints, Ints]:
    """Number the distinct (tf, dl) pairs; return each posting's code and the pair table."""
    if len(tf) == 0:
        return np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.int64), np.zeros(0, np.int64)
    width = int(doc_len.max()) + 1
    n_keys = (int(tf.max()) + 1) * width
    slices = [slice(s, s + (1 << 22)) for s in range(0, len(tf), 1 << 22)]

    def keys(part: slice) -> Ints:
        key: Ints = tf[part].astype(np.int64) * width + doc_len[doc_ids[part]]
        return key

    if n_keys <= 1 << 24:  # the usual case: a small dense table, no sort, slice by slice
        present = np.zeros(n_keys, dtype=bool)
        for part in slices:
            present[keys(part)] = True
        pairs = np.flatnonzero(present)
        code_type = np.uint16 if len(pairs) <= 1 << 16 else np.uint32
        code_of_key = (np.cumsum(present) - 1).astype(code_type)
        codes: npt.NDArray[np.unsignedinteger[Any]] = np.empty(len(tf), dtype=code_type)
        for part in slices:
            codes[part] = code_of_key[keys(part)]
    else:  # very long documents: sort instead
        all_keys = keys(slice(None))
        order = np.argsort(all_keys)
        sorted_keys = all_keys[order]
        new = np.diff(sorted_keys, prepend=-1) != 0
        pairs = sorted_keys[new]
        code_type = np.uint16 if len(pairs) <= 1 << 16 else np.uint32
        codes = np.empty(len(tf), dtype=code_type)
        codes[order] = np.cumsum(new) - 1
    pair_tf, pair_dl = np.divmod(pairs, width)
    return codes, pair_tf.astype(np.int64), pair_dl.astype(np.int64)


def block_offsets_of(term_offsets: Ints, block: int) -> Ints:
    """Where each term's blocks start in the block arrays: block j of term t (its
    postings j*block onwards) is entry block_offsets[t] + j; the last entry is the count."""
    n_blocks = -(-np.diff(term_offsets) // block)
    offsets = np.zeros(len(term_offsets), dtype=np.int64)
    np.cumsum(n_blocks, out=offsets[1:])
    return offsets


def best_codes(
    codes: npt.NDArray[np.unsignedinteger[Any]], term_offsets: Ints, tf_part: Floats, block: int
) -> tuple[Ints, npt.NDArray[np.unsignedinteger[Any]]]:
    """The code of the posting with the largest tf part, for each term and for each block
    of `block` postings of a term (what top-k's score bounds are made of)."""
    if len(term_offsets) <= 1:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=codes.dtype)
    # Reduce over small integer ranks rather than a float64 copy of every posting.
    by_value = np.argsort(tf_part, kind="stable")
    rank = np.empty(len(tf_part), dtype=codes.dtype)
    rank[by_value] = np.arange(len(tf_part))
    block_offsets = block_offsets_of(term_offsets, block)
    n_blocks = np.diff(block_offsets)
    first_posting = np.repeat(term_offsets[:-1], n_blocks)
    first_posting += (
        np.arange(block_offsets[-1]) - np.repeat(block_offsets[:-1], n_blocks)
    ) * block
    block_rank = np.maximum.reduceat(rank[codes], first_posting)
    term_rank = np.maximum.reduceat(block_rank, block_offsets[:-1])
    return by_value[term_rank].astype(np.int64), by_value[block_rank].astype(codes.dtype)
