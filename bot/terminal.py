"""`reports-bot chat`: the bot's conversation in a terminal, no token needed.

Same engine, same answers as in Telegram: the quote (cut the same way, by
`render.excerpt`), the best sentence marked, the attribution and the speaker.
The best sentence is ANSI bold on a terminal and wrapped in `**…**` when the
output is piped.  Report text is stripped of control characters first, so a
hostile report cannot drive the terminal.

The render functions are pure; `ChatSession` holds the conversation (the
last question's hits, for /more); `run_chat` is the input loop.
"""

from __future__ import annotations

import re
import sys
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.callbacks import MAX_RANK
from bot.config import ConfigError, Settings
from bot.render import (
    ELLIPSIS,
    LATEST_DEFAULT,
    LATEST_MAX,
    TITLE_MAX_CHARS,
    excerpt,
    format_date,
    shorten,
)
from retrieval.errors import RetrievalError
from retrieval.models import MAX_QUOTE_CHARS, Hit, Report
from retrieval.search import SearchEngine

WIDTH = 78
BOLD, RESET, DIM = "\033[1m", "\033[0m", "\033[2m"
_LATEST_ARG = re.compile(r"[0-9]{1,6}")


# -- pure rendering -------------------------------------------------------------------


def clean(text: str) -> str:
    """Text safe to print: control characters (ANSI escapes, bells…) become spaces."""
    return "".join(" " if unicodedata.category(ch) == "Cc" and ch != "\n" else ch for ch in text)


def _bold(text: str, color: bool) -> str:
    return f"{BOLD}{text}{RESET}" if color else f"**{text}**"


def _dim(text: str, color: bool) -> str:
    return f"{DIM}{text}{RESET}" if color else text


def _wrap(text: str, prefix: str) -> str:
    return "\n".join(
        textwrap.fill(
            paragraph,
            width=WIDTH,
            initial_indent=prefix,
            subsequent_indent=prefix,
            break_long_words=True,
            break_on_hyphens=False,
        )
        or prefix.rstrip()
        for paragraph in text.split("\n")
    )


def attribution(report: Report) -> str:
    """ "Title · Source · 22 Jul 2012 · url" on one line."""
    parts = [shorten(clean(report.title), TITLE_MAX_CHARS) or "Untitled report"]
    if report.source:
        parts.append(shorten(clean(report.source), 120))
    parts.append(format_date(report))
    if report.url:
        parts.append(shorten(clean(report.url), 300))
    return " · ".join(parts)


def render_hit(hit: Hit, color: bool, position: int | None = None, total: int | None = None) -> str:
    """One answer: the quote with its best sentence marked, speaker and attribution."""
    part = excerpt(
        clean(hit.passage.text), clean(hit.best_sentence), MAX_QUOTE_CHARS, hit.passage.sentences
    )
    # Wrapping counts the markers as width; a line or two a few columns short is fine.
    quote = (
        (ELLIPSIS if part.cut_start else "")
        + part.before
        + (_bold(part.best, color) if part.best else "")
        + part.after
        + (ELLIPSIS if part.cut_end else "")
    )
    lines = [_wrap(quote, "  │ ")]
    if hit.speaker:
        lines.append(f"  — quoted: {shorten(clean(hit.speaker), 120)}")
    lines.append("  " + _dim(attribution(hit.report), color))
    if position is not None and total is not None and total > 1:
        more = "; /more for the next" if position < total else ""
        lines.append("  " + _dim(f"(answer {position} of {total}{more})", color))
    return "\n".join(lines)


def render_not_found(color: bool) -> str:
    return _dim(
        "I couldn't find that in the reports, so I won't guess. "
        "Try rephrasing with names, places or numbers, or see /latest.",
        color,
    )


def render_latest(reports: Sequence[Report], total_reports: int, color: bool) -> str:
    if not reports:
        return "I have no reports yet."
    lines = [_bold(f"Newest reports ({len(reports)} of {total_reports})", color)]
    for number, report in enumerate(reports, start=1):
        lines.append(f"{number:>2}. {attribution(report)}")
        first = shorten(clean(report.first_sentence), 300)
        if first:
            lines.append(_wrap(first, "    "))
    return "\n".join(lines)


def render_welcome(
    report_count: int, newest_date: str | None, examples: Sequence[str], color: bool
) -> str:
    noun = "report" if report_count == 1 else "reports"
    known = f"I know {report_count} {noun}"
    if newest_date:
        known += f"; the newest is from {newest_date}"
    lines = [
        _bold("reports-bot", color) + " — ask a question about the reports in plain words.",
        known + ".",
    ]
    if examples:
        lines.append("Try: " + " / ".join(shorten(clean(e), 120) for e in examples))
    lines.append("Commands: /latest [N], /more, /help, /quit.")
    return "\n".join(lines)


def render_help() -> str:
    return "\n".join(
        [
            "Type a question in plain words and press Enter.",
            "  /more        the next-best passage for the last question",
            f"  /latest [N]  the N newest reports (default {LATEST_DEFAULT}, at most {LATEST_MAX})",
            "  /help        this help",
            "  /quit        leave (or Ctrl-D)",
        ]
    )


# -- the conversation -------------------------------------------------------------------


@dataclass
class ChatSession:
    """One terminal conversation: remembers the last question's hits for /more."""

    engine: SearchEngine
    color: bool = False
    hits: list[Hit] = field(default_factory=list)
    shown: int = 0

    def welcome(self) -> str:
        newest = self.engine.latest(1)
        return render_welcome(
            len(self.engine.reports),
            format_date(newest[0]) if newest else None,
            self.engine.example_questions(2),
            self.color,
        )

    def handle(self, line: str) -> str | None:
        """The reply to one line of input; None means the user wants to leave."""
        text = line.strip()
        if not text:
            return ""
        if not text.startswith("/"):
            return self.ask(text)
        command, _, argument = text.partition(" ")
        command = command.lower()
        commands: dict[str, Callable[[str], str | None]] = {
            "/quit": lambda _: None,
            "/exit": lambda _: None,
            "/help": lambda _: render_help(),
            "/start": lambda _: self.welcome(),
            "/more": lambda _: self.more(),
            "/latest": self.latest,
            "/ask": self.ask,
        }
        action = commands.get(command)
        if action is None:
            return f"Unknown command {shorten(clean(command), 40)}; try /help."
        return action(argument)

    def ask(self, question: str) -> str:
        question = question.strip()
        if not question:
            return "Usage: /ask QUESTION"
        self.hits = self.engine.search(question, top=MAX_RANK)
        self.shown = 1 if self.hits else 0
        if not self.hits:
            return render_not_found(self.color)
        return render_hit(self.hits[0], self.color, 1, len(self.hits))

    def more(self) -> str:
        if not self.hits:
            return "Ask a question first; /more then shows the next-best passage."
        if self.shown >= len(self.hits):
            return "No more answers to that question."
        self.shown += 1
        return render_hit(self.hits[self.shown - 1], self.color, self.shown, len(self.hits))

    def latest(self, argument: str) -> str:
        argument = argument.strip()
        count = LATEST_DEFAULT
        if argument:
            if not _LATEST_ARG.fullmatch(argument) or int(argument) < 1:
                return f"Usage: /latest [N] with N from 1 to {LATEST_MAX}."
            count = min(int(argument), LATEST_MAX)
        return render_latest(self.engine.latest(count), len(self.engine.reports), self.color)


def run_chat(
    session: ChatSession,
    read_line: Callable[[str], str],
    out: TextIO,
    *,
    interactive: bool,
) -> int:
    """Read lines until EOF or /quit.  Piped input is echoed so the transcript reads well."""
    print(session.welcome(), file=out)
    prompt = "you> " if interactive else ""
    while True:
        try:
            line = read_line(prompt)
        except EOFError:
            break
        except KeyboardInterrupt:
            print(file=out)
            break
        if not interactive and line.strip():
            print(f"\n> {clean(line.strip())}", file=out)
        reply = session.handle(line)
        if reply is None:
            break
        if reply:
            print(reply, file=out)
        out.flush()
    return 0


def main(reports: str | None) -> int:
    """`reports-bot chat [--reports PATH]`; PATH defaults to REPORTS_DIR, then seeds/."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"reports-bot chat: {error}", file=sys.stderr)
        return 2
    path = Path(reports) if reports else settings.reports_dir
    try:
        engine = SearchEngine.from_path(path, cache_dir=settings.index_cache_dir)
    except RetrievalError as error:
        print(f"reports-bot chat: {error}", file=sys.stderr)
        return 2
    session = ChatSession(engine, color=sys.stdout.isatty())
    return run_chat(session, input, sys.stdout, interactive=sys.stdin.isatty())
