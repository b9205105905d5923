"""`retrieval/` is the library under the bot: it must never import the Telegram layer."""

from __future__ import annotations

import ast
from pathlib import Path

RETRIEVAL = Path(__file__).resolve().parent.parent / "retrieval"
FORBIDDEN = ("telegram", "bot")


def imported_modules(source: str) -> list[str]:
    """Top-level names of every module a source file imports, wherever the import sits."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value.split(".")[0])
    return names


def test_the_checker_sees_every_kind_of_import() -> None:
    source = (
        "import telegram.ext\n"
        "from telegram import Bot\n"
        "def later():\n"
        "    import bot.telegram.html\n"
        "    importlib.import_module('telegram.constants')\n"
        "from . import models\n"
    )
    assert sorted(imported_modules(source)) == ["bot", "telegram", "telegram", "telegram"]


def test_retrieval_never_imports_telegram_or_the_bot() -> None:
    files = sorted(RETRIEVAL.rglob("*.py"))
    assert len(files) >= 5, "the retrieval package should be found"
    offenders = [
        f"{file.relative_to(RETRIEVAL.parent)} imports {name}"
        for file in files
        for name in imported_modules(file.read_text(encoding="utf-8"))
        if name in FORBIDDEN
    ]
    assert offenders == []
