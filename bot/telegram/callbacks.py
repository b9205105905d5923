"""Callback data of the inline keyboard: encoded and decoded in one place.

The "More" button carries only the rank of the hit to show next
(`more:<rank>`).  The question itself comes back from the message the answer
replies to, so a press still works after a restart with no server-side state.
Telegram allows at most 64 bytes of callback data; ours is a few bytes.
"""

from __future__ import annotations

import re

from bot.text import MAX_ANSWERS

MORE_PREFIX = "more:"
CALLBACK_DATA_MAX_BYTES = 64
MORE_PATTERN = re.compile(r"^more:([1-9][0-9]?)$")


def encode_more(rank: int) -> str:
    """The data of a button that shows hit number `rank` (1-based)."""
    if not 1 <= rank <= MAX_ANSWERS:
        raise ValueError(f"rank must be between 1 and {MAX_ANSWERS}, got {rank}")
    data = f"{MORE_PREFIX}{rank}"
    assert len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
    return data


def decode_more(data: object) -> int | None:
    """The rank a "More" button asks for, or None for anything we did not make."""
    if not isinstance(data, str):
        return None
    match = MORE_PATTERN.fullmatch(data)
    if match is None:
        return None
    rank = int(match.group(1))
    return rank if 1 <= rank <= MAX_ANSWERS else None
