"""A passage's profile packed for the compiled match (`retrieval.rerank_kernel`).

`rerank_profile.PassageProfile` keeps what stage two knows of a passage as Python objects:
its sentence ends, the cue terms of each sentence, the bits of its recurring tokens.
Reading those per candidate cost more than the whole compiled match, so the profile
also keeps them packed at index time into one `bytes` of little-endian uint16 words,
which the kernel reads for all of a question's candidates at once:

    [0] [1]   first_sentence, low and high word
    [2]       n_slots: the sentences (1 for a passage scored as one block)
    [3]       flags: SENTENCED (bit 0), PROFILED (bit 1; off: every term counts in full)
    [4]       n_cues
    [5]       n_words of recurring bits
    ends      n_slots words: the token offset where each slot ends
    cues      n_cues pairs: (slot * 4 + kind, a token position holding the cue term,
              or STRAY when none of the passage's tokens is that term)
    recurring n_words words: bit p of the passage's token p, word p // 16

A cue is a sentence's term that could answer a kind of question
(`retrieval.answer_types`); it counts unless the question holds that term, which
the kernel reads from the token at the cue's position.  A stray cue (a stopword the
tokens drop, "Who" at a sentence start) counts always: `strays` keeps those terms, and
a question holding one of them is matched in Python (`rerank_compiled`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from retrieval.answer_types import Cues

SENTENCED: Final = 1
PROFILED: Final = 2
STRAY: Final = 0xFFFF
HEADER: Final = 6
# A passage beyond these is left unpacked (b"") and its questions matched in Python.
_MAX_WORD: Final = 0xFFFF
_MAX_SLOTS: Final = 0x3FFF


def pack(
    tokens: Sequence[str],
    sentence_ends: Sequence[int],
    first_sentence: int,
    cues: Sequence[Cues],
    recurring: int,
) -> tuple[bytes, frozenset[str]]:
    """The packed profile and its stray cue terms; b"" when the passage is too big."""
    n_slots = len(sentence_ends) or 1
    if len(tokens) >= STRAY or n_slots > _MAX_SLOTS or first_sentence >= 1 << 32:
        return b"", frozenset()
    # Where each term first occurs: its cue is in the question iff that token is.
    where = dict(zip(reversed(tokens), range(len(tokens) - 1, -1, -1), strict=True))
    refs: list[int] = []
    strays: set[str] = set()
    for slot, sentence in enumerate(cues if len(cues) == n_slots else ()):
        for kind, terms in enumerate(sentence):
            for term in sorted(terms):
                position = where.get(term)
                if position is None:
                    strays.add(term)
                refs += (slot * 4 + kind, STRAY if position is None else position)
    words = _words(recurring)
    ends = list(sentence_ends) or [len(tokens)]
    flags = (SENTENCED if sentence_ends else 0) | PROFILED
    header = [first_sentence & 0xFFFF, first_sentence >> 16, n_slots, flags, len(refs) // 2]
    if len(refs) // 2 > _MAX_WORD or len(words) > _MAX_WORD:
        return b"", frozenset()
    packed = np.array([*header, len(words), *ends, *refs, *words], dtype="<u2")
    return packed.tobytes(), frozenset(strays)


def one_block(n_tokens: int) -> bytes:
    """The packed profile of a passage without one: one block, every term in full."""
    return np.array([0, 0, 1, 0, 0, 0, n_tokens], dtype="<u2").tobytes()


def _words(bits: int) -> list[int]:
    """`bits` as uint16 words, the lowest first."""
    count = (bits.bit_length() + 15) // 16
    words: list[int] = np.frombuffer(bits.to_bytes(count * 2, "little"), dtype="<u2").tolist()
    return words
