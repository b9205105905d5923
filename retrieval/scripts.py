"""Facts about characters the analyzer needs and `re` does not know: which are
combining marks, and which scripts are written without spaces between words.
A leaf module: it imports nothing from the rest of the package."""

from __future__ import annotations

import re
import unicodedata


def _marks() -> str:
    """Every combining mark (Unicode categories Mn, Mc, Me) as a character-class body:
    a word goes on through them (Devanagari vowel signs, Arabic harakat, Thai vowels)."""
    ranges: list[tuple[int, int]] = []
    # Marks lie in planes 0 and 1, and the variation selectors of plane 14.
    for code in (*range(0x300, 0x20000), *range(0xE0100, 0xE01F0)):
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


MARKS = _marks()


# Scripts written without spaces between words (languages.BIGRAM_LANGUAGES): a run of
# them is indexed as overlapping character bigrams, as Lucene's CJKBigramFilter does.
BIGRAM_CHARS = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3041-\u309f\u30a0-\u30ff"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
    "\u0e00-\u0eff\u1780-\u17ff\u1000-\u109f"
)
BIGRAM_RUN = re.compile(f"[{BIGRAM_CHARS}]+")


def piece_spans(word: str) -> list[tuple[int, int]]:
    """Where the pieces of one word match lie in it: each run of a script written
    without spaces cut into overlapping bigrams (a lone character stays one), the
    rest of the word whole."""
    if not BIGRAM_RUN.search(word):
        return [(0, len(word))]
    spans: list[tuple[int, int]] = []
    position = 0
    for run in BIGRAM_RUN.finditer(word):
        start, end = run.span()
        if start > position:
            spans.append((position, start))
        if end - start == 1:
            spans.append((start, end))
        else:
            spans.extend((i, i + 2) for i in range(start, end - 1))
        position = end
    if position < len(word):
        spans.append((position, len(word)))
    return spans


def pieces(match: str) -> list[str]:
    return [match[start:end] for start, end in piece_spans(match)]
