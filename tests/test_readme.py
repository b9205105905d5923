"""README.md is the user's manual: it must name every command and setting we ship."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.cli import _parser
from bot.telegram.wording import ADMIN_COMMANDS, COMMANDS
from retrieval.listing import REPORT_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _cli_commands() -> list[str]:
    parser = _parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("reports-bot has no subcommands")


def _environment_variables() -> set[str]:
    """Every variable the bot reads (bot/config.py) or documents (.env.example)."""
    config = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'\benv(?:iron)?\b[^\n]*?"([A-Z][A-Z0-9_]{2,})"', config))
    read |= set(re.findall(r'\(env, "([A-Z][A-Z0-9_]{2,})"', config))
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]{2,})=", example, flags=re.MULTILINE))
    return read | documented


def test_readme_names_every_cli_command() -> None:
    commands = _cli_commands()
    assert {"search", "eval", "run", "chat", "health"} <= set(commands)
    missing = [c for c in commands if f"reports-bot {c}" not in README]
    assert not missing, f"README.md does not document: {missing}"


def test_readme_names_every_bot_command() -> None:
    missing = [c.name for c in (*COMMANDS, *ADMIN_COMMANDS) if f"/{c.name}" not in README]
    assert not missing, f"README.md does not document bot commands: {missing}"


def test_readme_names_every_environment_variable() -> None:
    variables = _environment_variables()
    assert {"TELEGRAM_BOT_TOKEN", "REPORTS_DIR", "TELEGRAM_BASE_URL", "LOG_LEVEL"} <= variables
    missing = sorted(v for v in variables if f"`{v}`" not in README)
    assert not missing, f"README.md configuration table lacks: {missing}"


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    match = re.search(r"Run the tests.*?```sh\n(.+?)\n```", README, flags=re.DOTALL)
    assert match, "README.md lost its test command"
    command = match.group(1).strip()
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_documents_every_report_format() -> None:
    reports = README.split("## Reports", 1)[1].split("\n## ", 1)[0]
    missing = sorted(s for s in REPORT_SUFFIXES if f"`{s}`" not in reports)
    assert not missing, f"README.md's Reports section does not document: {missing}"
