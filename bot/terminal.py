"""`reports-bot chat`: the bot's conversation in a terminal, no token needed.

Same engine, same answers as in Telegram: the quote (cut the same way, by
`bot.text.excerpt`), the best sentence marked, the attribution and the speaker.  It
never imports python-telegram-bot.  Every sentence the terminal prints is in the block
of constants at the top (the semantic stage's progress lines: `bot.semantic`).  The
best sentence is ANSI bold on a terminal, wrapped in `**…**` when piped.  Report text
is stripped of control characters first, so a hostile report cannot drive the terminal.

The render functions are pure; `ChatSession` holds the conversation (the
last question's hits, for /more); `run_chat` is the input loop.
"""

from __future__ import annotations

import sys
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from babel.lists import format_list

from bot.config import ConfigError, Settings
from bot.semantic import prepared
from bot.text import (
    ELLIPSIS,
    LATEST_MAX,
    MAX_ANSWERS,
    NAME_MAX_CHARS,
    NAMED_LANGUAGES,
    TITLE_MAX_CHARS,
    UNTITLED,
    excerpt,
    format_date,
    language_name,
    parse_latest,
    shorten,
)
from retrieval import topics
from retrieval.errors import ReportsNotFoundError, RetrievalError
from retrieval.loader import LoadProblem
from retrieval.models import MAX_QUOTE_CHARS, Hit, Report
from retrieval.search import SearchEngine, SearchSettings

# -- every sentence the terminal prints -------------------------------------------------
NOT_FOUND = (
    "I couldn't find that in the reports, so I won't guess. "
    "Try rephrasing with names, places or numbers, or see /latest."
)
NO_REPORTS_IN = "I have no reports in {language}, so I cannot answer questions in {language}."
REPORTS_IN_ONE = "The reports are in {language}; ask in {language}."
REPORTS_IN_MANY = "The reports are in {languages}; ask in one of those."
OTHER_LANGUAGES = "{count} others"
NO_REPORTS_YET = "I have no reports yet."
NO_REPORTS_ON = "No reports on “{topic}” yet."
NEWEST_HEADER = "Newest reports ({shown} of {total})"
NEWEST_ON_TOPIC_HEADER = "Newest reports on “{topic}” ({shown} of {total})"
WELCOME = "{name} — ask a question about the reports in plain words."
KNOW_ONE = "I know 1 report"
KNOW_MANY = "I know {count} reports"
NEWEST_FROM = "; the newest is from {day}"
TRY = "Try: {examples}"
COMMANDS_LINE = "Commands: /latest [N] [TOPIC], /more, /problems, /help, /quit."
HELP = "\n".join(
    [
        "Type a question in plain words and press Enter.",
        "  /more                the next-best passage for the last question",
        f"  /latest [N] [TOPIC]  the N newest reports (at most {LATEST_MAX}), on a topic",
        "  /problems            the files that could not be read, and why",
        "  /help                this help",
        "  /quit                leave (or Ctrl-D)",
    ]
)
QUOTED = "  — quoted: {speaker}"
BY_AUTHOR = "by {author}"
PAGE = "p. {page}"
ANSWER_POSITION = "(answer {position} of {total}{more})"
MORE_HINT = "; /more for the next"
ASK_USAGE = "Usage: /ask QUESTION"
ASK_FIRST = "Ask a question first; /more then shows the next-best passage."
NO_MORE = "No more answers to that question."
LATEST_USAGE = f"Usage: /latest [N] [TOPIC] with N from 1 to {LATEST_MAX}."
UNKNOWN_COMMAND = "Unknown command {command}; try /help."
NO_PROBLEMS = "Every file could be read."
PROBLEMS_HEADER = "{count} could not be read:"
PROBLEM_LINE = "  {path}: {reason}"
# For `chat`, `search` and `eval` on stderr, after "reports-bot: ".
NO_REPORTS = "no reports loaded from {path}: {why}. {fix}"
NO_REPORT_FILES = "it holds no report file (.txt, .md, .json, .jsonl, .html, .pdf, .docx)"
NOTHING_READABLE = "nothing in it could be read ({count}; the first: {first})"
ONE_PROBLEM, PROBLEMS = "1 problem", "{count} problems"
ADD_REPORTS = (
    "Add reports there (.txt, .md, .json, .jsonl, .html, .pdf or .docx files), or point "
    "--reports or REPORTS_DIR at a folder that holds some."
)
CANNOT_WRITE_OUTPUT = "cannot write --output {path}: {reason}. Choose a path you can write to."

WIDTH, TOPIC_SHOWN_CHARS = 78, 80
BOLD, RESET, DIM = "\033[1m", "\033[0m", "\033[2m"


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


def attribution(report: Report, page: int | None = None) -> str:
    """ "Title · Source · by Author · 22 Jul 2012 · p. 3 · url" on one line."""
    parts = [shorten(clean(report.title), TITLE_MAX_CHARS) or UNTITLED]
    if report.source:
        parts.append(shorten(clean(report.source), NAME_MAX_CHARS))
    if report.author:
        parts.append(BY_AUTHOR.format(author=shorten(clean(report.author), NAME_MAX_CHARS)))
    parts.append(format_date(report))
    if page is not None:
        parts.append(PAGE.format(page=page))
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
        lines.append(QUOTED.format(speaker=shorten(clean(hit.speaker), NAME_MAX_CHARS)))
    lines.append("  " + _dim(attribution(hit.report, hit.passage.page), color))
    if position is not None and total is not None and total > 1:
        more = MORE_HINT if position < total else ""
        counter = ANSWER_POSITION.format(position=position, total=total, more=more)
        lines.append("  " + _dim(counter, color))
    return "\n".join(lines)


def render_not_found(color: bool, engine: SearchEngine | None = None, question: str = "") -> str:
    """Not found; for a question surely in a language no report is in, that no report
    is, and the languages the reports are in (as the bot says it in Telegram)."""
    missing = engine.question_languages(question).missing if engine is not None else None
    codes = list(engine.languages()) if engine is not None else []
    if missing is None or not codes:
        return _dim(NOT_FOUND, color)
    lines = [NO_REPORTS_IN.format(language=language_name(missing))]
    if len(codes) == 1:
        lines.append(REPORTS_IN_ONE.format(language=language_name(codes[0])))
    else:
        names = [language_name(code) for code in codes[:NAMED_LANGUAGES]]
        if len(codes) > NAMED_LANGUAGES:
            names.append(OTHER_LANGUAGES.format(count=len(codes) - NAMED_LANGUAGES))
        lines.append(REPORTS_IN_MANY.format(languages=format_list(names, locale="en")))
    return _dim("\n".join(lines), color)


def render_latest(
    reports: Sequence[Report], total_reports: int, color: bool, topic: str = ""
) -> str:
    topic_shown = shorten(clean(topic), TOPIC_SHOWN_CHARS)
    if not reports:
        return NO_REPORTS_ON.format(topic=topic_shown) if topic else NO_REPORTS_YET
    header = (NEWEST_ON_TOPIC_HEADER if topic else NEWEST_HEADER).format(
        topic=topic_shown, shown=len(reports), total=total_reports
    )
    lines = [_bold(header, color)]
    for number, report in enumerate(reports, start=1):
        lines.append(f"{number:>2}. {attribution(report)}")
        first = shorten(clean(report.first_sentence), 300)
        if first:
            lines.append(_wrap(first, "    "))
    return "\n".join(lines)


def render_problems(problems: Sequence[LoadProblem], root: Path | str, color: bool) -> str:
    """The files (or JSON lines) that could not be read, and why, paths relative to root."""
    if not problems:
        return NO_PROBLEMS
    count = ONE_PROBLEM if len(problems) == 1 else PROBLEMS.format(count=len(problems))
    prefix = str(root).rstrip("/") + "/"
    lines = [_bold(PROBLEMS_HEADER.format(count=count), color)]
    for problem in problems:
        path = clean(shorten(problem.path.removeprefix(prefix), TITLE_MAX_CHARS))
        lines.append(PROBLEM_LINE.format(path=path, reason=clean(problem.reason)))
    return "\n".join(lines)


def render_welcome(
    report_count: int, newest_date: str | None, examples: Sequence[str], color: bool
) -> str:
    known = KNOW_ONE if report_count == 1 else KNOW_MANY.format(count=report_count)
    if newest_date:
        known += NEWEST_FROM.format(day=newest_date)
    lines = [WELCOME.format(name=_bold("reports-bot", color)), known + "."]
    if examples:
        lines.append(TRY.format(examples=" / ".join(shorten(clean(e), 120) for e in examples)))
    lines.append(COMMANDS_LINE)
    return "\n".join(lines)


def render_help() -> str:
    return HELP


def no_reports_message(path: Path | str, problems: Sequence[LoadProblem]) -> str:
    """Why nothing was loaded from `path`, and what to do about it."""
    if problems:
        count = ONE_PROBLEM if len(problems) == 1 else PROBLEMS.format(count=len(problems))
        first = f"{problems[0].path}: {problems[0].reason}"
        why = NOTHING_READABLE.format(count=count, first=clean(first))
    else:
        why = NO_REPORT_FILES
    return NO_REPORTS.format(path=clean(str(path)), why=why, fix=ADD_REPORTS)


def load_engine(
    settings: Settings,
    reports: Path | str | None = None,
    *,
    use_cache: bool = True,
    search: SearchSettings | None = None,
    semantic: bool = True,
) -> SearchEngine:
    """The engine `chat`, `search` and `eval` answer from: `reports` (else REPORTS_DIR),
    through the one index cache in DATA_DIR that the bot shares.  `search` defaults to
    `settings.search_settings()`, what the bot builds its library with (LANGUAGE_MODEL);
    with `semantic` (and SEMANTIC_SEARCH on), every vector is embedded first.

    Raises RetrievalError; ReportsNotFoundError when nothing could be loaded, since an
    answer from an empty collection would look like "not found" while the real fault is
    the folder."""
    path = Path(reports) if reports else settings.reports_dir
    engine = SearchEngine.from_path(
        path,
        search if search is not None else settings.search_settings(),
        cache_dir=settings.index_cache_dir if use_cache else None,
        follow_outside_links=settings.reports_follow_outside_links,
    )
    if not engine.reports:
        raise ReportsNotFoundError(no_reports_message(path, engine.problems))
    return prepared(engine, settings) if semantic else engine


# -- the conversation -------------------------------------------------------------------


@dataclass
class ChatSession:
    """One terminal conversation: remembers the last question's hits for /more."""

    engine: SearchEngine
    color: bool = False
    root: Path | str = ""  # the reports folder: /problems shows paths relative to it
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
            "/problems": lambda _: render_problems(self.engine.problems, self.root, self.color),
            "/ask": self.ask,
        }
        action = commands.get(command)
        if action is None:
            return UNKNOWN_COMMAND.format(command=shorten(clean(command), 40))
        return action(argument)

    def ask(self, question: str) -> str:
        question = question.strip()
        if not question:
            return ASK_USAGE
        self.hits = self.engine.search(question, top=MAX_ANSWERS)
        self.shown = 1 if self.hits else 0
        if not self.hits:
            return render_not_found(self.color, self.engine, question)
        return render_hit(self.hits[0], self.color, 1, len(self.hits))

    def more(self) -> str:
        if not self.hits:
            return ASK_FIRST
        if self.shown >= len(self.hits):
            return NO_MORE
        self.shown += 1
        return render_hit(self.hits[self.shown - 1], self.color, self.shown, len(self.hits))

    def latest(self, argument: str) -> str:
        request = parse_latest(argument.split())
        if request is None:
            return LATEST_USAGE
        total = len(self.engine.reports)
        if not request.topic:
            return render_latest(self.engine.latest(request.count), total, self.color)
        if not topics.has_search_terms(self.engine, request.topic):
            return LATEST_USAGE
        found = topics.newest_on_topic(self.engine, request.topic, request.count)
        return render_latest(found, total, self.color, request.topic)


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


def main(reports: Path | str | None = None, *, use_cache: bool = True) -> int:
    """`reports-bot chat [--reports PATH]`; PATH defaults to REPORTS_DIR, then seeds/."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"reports-bot chat: {error}", file=sys.stderr)
        return 2
    try:
        engine = load_engine(settings, reports, use_cache=use_cache)
    except RetrievalError as error:
        print(f"reports-bot chat: {error}", file=sys.stderr)
        return 2
    root = reports if reports is not None else settings.reports_dir
    session = ChatSession(engine, color=sys.stdout.isatty(), root=root)
    return run_chat(session, input, sys.stdout, interactive=sys.stdin.isatty())
