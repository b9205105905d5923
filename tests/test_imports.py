"""The shape of the code: no import circle anywhere, the layers import only downwards, and
no module grows past about 400 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "retrieval")
MAX_MODULE_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Our modules `path` imports, wherever the import sits (lazy ones and TYPE_CHECKING too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, set(known)) - {name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Each import circle once, as the path that closes it."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> Iterator[list[str]]:
        if node in path:
            yield [*path[path.index(node) :], node]
            return
        if node in done:
            return
        for target in sorted(edges.get(node, ())):
            yield from visit(target, [*path, node])
        done.add(node)

    for start in sorted(edges):
        yield from visit(start, [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert list(cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}})) == [["a", "b", "c", "a"]]
    assert list(cycles({"a": {"b"}, "b": set()})) == []


def test_no_import_circle_anywhere() -> None:
    edges = graph()
    assert len(edges) > 40, "the packages should be found"
    assert list(cycles(edges)) == []


def test_retrieval_and_the_shared_text_never_import_the_bot_layers_above_them() -> None:
    edges = graph()
    for name, targets in edges.items():
        if name.startswith("retrieval"):
            assert not [t for t in targets if t.startswith("bot")], name
    storage = tuple(name for name in edges if name.startswith("bot.storage"))
    below_telegram = ("bot.text", "bot.config", *storage, "bot.terminal", "bot.live.reports")
    assert len(storage) >= 6, "the store's modules should be found"
    for name in below_telegram:
        assert not [t for t in edges[name] if t.startswith("bot.telegram")], name


def test_modules_stay_small() -> None:
    long = {
        name: lines
        for name, path in modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
