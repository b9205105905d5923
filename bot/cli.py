"""`reports-bot`: the command line. A thin layer over the libraries.

Each subcommand parses its arguments, calls library code and turns library
errors into one-line messages with a non-zero exit status: a user never
sees a traceback for a mistake they can fix.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings
from retrieval.bm25 import BACKENDS
from retrieval.errors import RetrievalError
from retrieval.evaluation import PARTS, in_part, read_questions, run_questions, summarize
from retrieval.models import hit_as_dict
from retrieval.search import SearchEngine

# A mistake the user can fix: a bad argument or path, or no report to answer from.
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except (RetrievalError, ConfigError) as exc:
        print(f"reports-bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reports-bot",
        description="Answer questions about news reports with the exact passage, quoted.",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level for diagnostics (default WARNING)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser("search", help="answer one question from the reports")
    search.add_argument("question", help="the question, in plain words")
    _add_reports_option(search)
    search.add_argument("--top", type=_positive_int, default=1, help="how many hits (default 1)")
    search.add_argument("--json", action="store_true", help="print hits as a JSON list")
    _add_backend_option(search)
    search.set_defaults(func=_search)

    evaluate = commands.add_parser("eval", help="score answers against a questions file")
    _add_reports_option(evaluate)
    evaluate.add_argument(
        "--questions", type=Path, required=True, help='JSONL: {"id", "question", "answers"}'
    )
    evaluate.add_argument("--output", type=Path, help="write one JSON line per question here")
    evaluate.add_argument("--top", type=_positive_int, default=5, help="hits kept (default 5)")
    evaluate.add_argument(
        "--part",
        choices=PARTS,
        default="all",
        help="only the tune or the held-out questions (a fixed split by a hash of the id)",
    )
    _add_backend_option(evaluate)
    evaluate.set_defaults(func=_eval)

    run = commands.add_parser("run", help="run the Telegram bot (long polling)")
    run.set_defaults(func=_run)

    chat = commands.add_parser("chat", help="talk to the bot in this terminal, no token needed")
    _add_reports_option(chat)
    chat.set_defaults(func=_chat)

    health = commands.add_parser("health", help="exit 0 if a running bot's heartbeat is fresh")
    health.set_defaults(func=_health)
    return parser


def _add_reports_option(parser: argparse.ArgumentParser) -> None:
    # No default here: the bot's own (REPORTS_DIR, else seeds/) comes from Settings, so
    # `search`, `chat` and `run` read the same reports.
    parser.add_argument(
        "--reports",
        type=Path,
        help="a reports file or folder (default: $REPORTS_DIR, else the project's seeds/)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="build the index from the files instead of the index cache in $DATA_DIR",
    )


def _engine(args: argparse.Namespace) -> SearchEngine:
    """The engine over --reports (else REPORTS_DIR) with --backend and the search settings
    the environment implies (`Settings.search_settings`), through the index cache that the
    bot and every command share (`bot.terminal.load_engine`); raises RetrievalError."""
    from bot.terminal import load_engine

    settings = Settings.from_env()
    return load_engine(
        settings,
        args.reports,
        use_cache=not args.no_cache,
        search=settings.search_settings(args.backend),
        semantic=not args.lexical,
    )


def _add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="fast",
        help="first-stage BM25 scorer; rank-bm25 is the slow reference (default fast)",
    )
    parser.add_argument(
        "--lexical",
        action="store_true",
        help="BM25 and stage two alone, without the semantic stage (as SEMANTIC_SEARCH=off)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _search(args: argparse.Namespace) -> int:
    engine = _engine(args)
    hits = engine.search(args.question, top=args.top)
    if args.json:
        print(json.dumps([hit_as_dict(hit) for hit in hits], ensure_ascii=False, indent=2))
        return 0
    from bot.terminal import render_hit, render_not_found

    if not hits:
        print(render_not_found(sys.stdout.isatty(), engine, args.question))
        return 0
    print("\n\n".join(render_hit(hit, color=sys.stdout.isatty()) for hit in hits))
    return 0


def _eval(args: argparse.Namespace) -> int:
    questions = [q for q in read_questions(args.questions) if in_part(q, args.part)]
    output: Path | None = args.output
    # Its folder is made before the engine is built, so a bad --output fails at once.
    if output is not None and not _write_output(output, None):
        return EXIT_USAGE
    started = time.perf_counter()
    engine = _engine(args)
    build_seconds = time.perf_counter() - started
    outcomes = run_questions(engine, questions, top=args.top)
    if output is not None:
        rows = "".join(json.dumps(o.as_dict(), ensure_ascii=False) + "\n" for o in outcomes)
        if not _write_output(output, rows):
            return EXIT_USAGE
    summary = summarize(outcomes, passages=len(engine.passages), build_seconds=build_seconds)
    print(json.dumps(summary, indent=2), flush=True)
    by_language = summary.get("by_language")
    if isinstance(by_language, dict):
        # On stderr, so stdout stays the one JSON document that tools read.
        print("\n".join(_language_table(by_language)), file=sys.stderr)
    return 0


# The per-language table's columns: heading, then the key in summarize's "by_language".
_LANGUAGE_COLUMNS = (
    ("answerable", "answerable"),
    ("recall@1", "recall_at_1"),
    ("recall@5", "recall_at_5"),
    ("refused", "refused_answerable"),
    ("unanswerable", "unanswerable"),
    ("refused", "refused_unanswerable"),
)


def _language_table(by_language: dict[str, dict[str, object]]) -> list[str]:
    """summarize's "by_language" as aligned lines: a heading, then one row per language
    (shares to 3 decimals, "-" for an empty group)."""
    width = max(len("language"), *map(len, by_language))
    lines = ["language".ljust(width) + "".join(f"  {h}" for h, _ in _LANGUAGE_COLUMNS)]
    for language, figures in by_language.items():
        cells = []
        for heading, key in _LANGUAGE_COLUMNS:
            value = figures.get(key)
            text = (
                "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
            )
            cells.append(f"  {text:>{len(heading)}}")
        lines.append(language.ljust(width) + "".join(cells))
    return lines


def _write_output(path: Path, text: str | None) -> bool:
    """Make `path`'s folder and write `text` there (None: only the folder); False, with a
    message saying what to do, when that fails."""
    from bot.terminal import CANNOT_WRITE_OUTPUT

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        message = CANNOT_WRITE_OUTPUT.format(path=path, reason=reason)
        print(f"reports-bot: {message}", file=sys.stderr)
        return False
    return True


def _run(args: argparse.Namespace) -> int:
    from bot.runner import leave
    from bot.runner import main as run_bot

    leave(run_bot())


def _chat(args: argparse.Namespace) -> int:
    from bot.terminal import main as chat

    return chat(args.reports, use_cache=not args.no_cache)


def _health(args: argparse.Namespace) -> int:
    from bot.reliability.health import main as check_health

    return check_health()


if __name__ == "__main__":
    sys.exit(main())
