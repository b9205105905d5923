"""A profile packed for the compiled match (retrieval.rerank_pack) holds exactly what
the profile says, in the layout its docstring gives."""

from __future__ import annotations

import numpy as np

from retrieval.answer_types import NO_CUES, Cues
from retrieval.rerank_pack import HEADER, PROFILED, SENTENCED, STRAY, one_block, pack


def words(packed: bytes) -> list[int]:
    unpacked: list[int] = np.frombuffer(packed, dtype="<u2").tolist()
    return unpacked


def test_a_profile_is_packed_as_the_layout_says() -> None:
    tokens = ["storm", "hit", "coast", "70000", "flee", "storm"]
    none: frozenset[str] = frozenset()
    numbers: Cues = (frozenset({"70000"}), none, none, none)
    names: Cues = (none, none, frozenset({"who", "coast"}), none)
    first = 70_000  # above one word: split in two
    recurring = 1 << 0 | 1 << 5 | 1 << 17
    packed, strays = pack(tokens, (3, 6), first, (names, numbers), recurring)
    w = words(packed)
    assert w[:HEADER] == [first & 0xFFFF, first >> 16, 2, SENTENCED | PROFILED, 3, 2]
    assert w[HEADER : HEADER + 2] == [3, 6]
    cues = w[HEADER + 2 : HEADER + 8]
    # Slot 0's names (kind 2): "coast" at token 2, "who" no token: a stray; slot 1's number.
    assert cues == [0 * 4 + 2, 2, 0 * 4 + 2, STRAY, 1 * 4 + 0, 3]
    assert w[HEADER + 8 :] == [1 | 1 << 5, 1 << 1]
    assert strays == frozenset({"who"})


def test_one_block_passages_have_one_slot_ending_after_the_last_token() -> None:
    packed, strays = pack(["a", "b"], (), 3, (NO_CUES,), 0)
    assert words(packed) == [3, 0, 1, PROFILED, 0, 0, 2]
    assert strays == frozenset()
    assert words(one_block(5)) == [0, 0, 1, 0, 0, 0, 5]


def test_passages_too_big_for_the_words_are_left_unpacked() -> None:
    many = ["t"] * STRAY
    assert pack(many, (), 0, (NO_CUES,), 0) == (b"", frozenset())
