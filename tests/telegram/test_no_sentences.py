"""No sentence is spelled out outside wording.py: the render modules (the pure ones every
reply is built in) hold no word of their own, so every word a user reads can be
translated.  Docstrings, comments and log lines are for developers, not users."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TELEGRAM = Path(__file__).resolve().parents[2] / "bot" / "telegram"
RENDER_MODULES = ("html.py", "html_live.py", "html_admin.py", "html_languages.py")
_TAG_OR_FIELD = re.compile(r"<[^>]*>|\{[^}]*\}")
_WORD = re.compile(r"[^\W\d_]{2,}")
# Not words a user reads as the bot's: units, markup, the inline mention's fallback.
ALLOWED = frozenset({"GiB", "MiB", "KiB", "bot", "http", "https"})


def words_in_literals(source: str) -> list[str]:
    """The words of every string literal, an f-string's parts joined, tags and placeholders
    dropped; not docstrings, nor the message of an exception (for developers)."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
        elif isinstance(node, ast.Raise):
            skipped |= {id(inner) for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            skipped |= {id(v) for v in node.values}
            found += _WORD.findall(_TAG_OR_FIELD.sub(" ", "".join(map(str, parts))))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += _WORD.findall(_TAG_OR_FIELD.sub(" ", node.value))
    return sorted(word for word in found if word not in ALLOWED)


SAMPLE = """
def f(x):
    "A docstring."
    if not x:
        raise ValueError("no x")
    return f'<a href="{x}">{x}</a> items: ' + "seconds"
"""


def test_the_finder_sees_words_in_plain_and_formatted_strings() -> None:
    assert words_in_literals(SAMPLE) == ["items", "seconds"]


@pytest.mark.parametrize("module", RENDER_MODULES)
def test_the_render_modules_spell_out_no_words(module: str) -> None:
    assert words_in_literals((TELEGRAM / module).read_text(encoding="utf-8")) == []
