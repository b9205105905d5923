"""Pure rendering: hits and reports in, Telegram HTML (and a keyboard) out.

Nothing here does I/O.  Every piece of report or user text goes through
`esc` (or `esc_attr` inside an attribute) before it meets a tag, and every
message is measured against Telegram's 4096-character limit before it is
returned: quotes are trimmed at a sentence or word boundary, with "…",
never inside a tag or an entity.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode

from bot.callbacks import MAX_RANK, encode_more
from retrieval.models import MAX_QUOTE_CHARS, Hit, Report

MESSAGE_MAX_CHARS = 4096
ELLIPSIS = "…"
# Display caps for one-line fields, so a hostile report cannot crowd out the quote.
TITLE_MAX_CHARS = 300
NAME_MAX_CHARS = 120
# Titles in /latest are shorter still, so twenty of them fit one message.
LIST_TITLE_MAX_CHARS = 120
EXAMPLE_MAX_CHARS = 200
LATEST_DEFAULT = 5
LATEST_MAX = 20
# Longer urls are shown without a link rather than eat the message budget.
URL_MAX_CHARS = 1000
INLINE_TITLE_MAX_CHARS = 120
INLINE_DESCRIPTION_MAX_CHARS = 200
EXPIRED_TEXT = "This answer has expired — please ask again."
NO_MORE_TEXT = "There are no more answers to this question."

# The command menu (setMyCommands) and /help are built from this one list.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Welcome, and what I know"),
    ("ask", "Ask a question: /ask QUESTION"),
    ("latest", "The newest reports: /latest [N] [TOPIC]"),
    ("subscribe", "Get new reports on a topic: /subscribe TOPIC"),
    ("subscriptions", "The topics you follow"),
    ("unsubscribe", "Stop following: /unsubscribe TOPIC or all"),
    ("help", "How to use me"),
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TAG = re.compile(r"<[^>]*>")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: Telegram HTML and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


# -- small helpers ---------------------------------------------------------


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (JSON escapes such as "\\ud83d" make them) replaced by
    U+FFFD: Telegram refuses any string that is not valid UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def esc(text: str) -> str:
    """Escape text for Telegram HTML (outside attributes)."""
    return html.escape(valid_unicode(text), quote=False)


def esc_attr(text: str) -> str:
    """Escape text for a double-quoted attribute value."""
    return html.escape(valid_unicode(text), quote=True)


def visible_text(markup: str) -> str:
    """The text Telegram shows for our own HTML: tags dropped, entities decoded.

    Only valid for HTML built by this module, where every `<` in content is
    escaped, so a `<` always starts a tag.
    """
    return html.unescape(_TAG.sub("", markup))


def telegram_length(text: str) -> int:
    """Length as Telegram counts it for the 4096 limit: code points of the stripped text."""
    return len(text.strip())


def fits_message(markup: str) -> bool:
    """True when both the raw HTML and the text after parsing fit one message."""
    return (
        len(markup) <= MESSAGE_MAX_CHARS
        and telegram_length(visible_text(markup)) <= MESSAGE_MAX_CHARS
    )


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary with "…" when longer than `limit`."""
    flat = " ".join(valid_unicode(text).split())
    if len(flat) <= limit:
        return flat
    cut = _cut(flat, 0, limit - 1, ())
    return flat[:cut].rstrip() + ELLIPSIS


def format_date(report: Report) -> str:
    """ "22 Jul 2012", marked when it is only the file's modification date."""
    day = _day(report.published)
    return f"{day} (file date)" if report.published_from_mtime else day


def _day(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _safe_url(url: str | None) -> str | None:
    """A url we are willing to link: http(s), no whitespace, not absurdly long."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > URL_MAX_CHARS:
        return None
    if any(ch.isspace() for ch in url):
        return None
    return url


def _linked(label_html: str, url: str | None) -> str:
    safe = _safe_url(url)
    return f'<a href="{esc_attr(safe)}">{label_html}</a>' if safe else label_html


def _attribution(
    report: Report,
    *,
    link: bool = True,
    bold_title: bool = False,
    title_limit: int = TITLE_MAX_CHARS,
) -> str:
    title = esc(shorten(report.title, title_limit) or "Untitled report")
    title = _linked(title, report.url if link else None)
    parts = [f"<b>{title}</b>" if bold_title else title]
    if report.source:
        parts.append(esc(shorten(report.source, NAME_MAX_CHARS)))
    parts.append(format_date(report))
    return " · ".join(parts)


# -- cutting text at boundaries ------------------------------------------------

# Used when the passage does not list its sentences.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s")


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A window of a passage, split around the best sentence (which may be empty)."""

    before: str
    best: str
    after: str
    cut_start: bool
    cut_end: bool


def _sentence_ends(text: str, sentences: Sequence[str]) -> list[int]:
    """Where each sentence of `text` ends, found in order (sentences are exact substrings)."""
    ends: list[int] = []
    at = 0
    for sentence in sentences:
        found = text.find(sentence, at) if sentence else -1
        if found >= 0:
            at = found + len(sentence)
            ends.append(at)
    return ends or [m.end() - 1 for m in _SENTENCE_END.finditer(text)]


def _cut(text: str, start: int, end: int, sentence_ends: Sequence[int]) -> int:
    """An index <= `end` to stop at: a sentence end, else a space, else `end` itself.

    Only boundaries in the last 40% of the window count: a cut further back
    would throw away too much of the quote.
    """
    if end >= len(text):
        return len(text)
    floor = start + (end - start) * 6 // 10
    usable = [e for e in sentence_ends if floor <= e <= end]
    if usable:
        return usable[-1]
    space = text.rfind(" ", floor, end)
    return space if space > floor else end


def _best_span(text: str, best: str) -> tuple[int, int] | None:
    best = best.strip()
    if not best:
        return None
    at = text.find(best)
    if at < 0:
        at = text.casefold().find(best.casefold())
        # casefold can change lengths (ß → ss); only trust it when it did not.
        if at < 0 or len(text.casefold()) != len(text):
            return None
    return at, at + len(best)


def excerpt(text: str, best: str, limit: int, sentences: Sequence[str] = ()) -> Excerpt:
    """At most `limit` characters of `text`, cut at sentence or word boundaries.

    When the passage is too long the window keeps the best sentence in view.
    """
    span = _best_span(text, best)
    start, end = 0, len(text)
    if len(text) > limit:
        ends = _sentence_ends(text, sentences)
        if span is None or span[1] <= limit:
            end = _cut(text, 0, limit, ends)
        else:
            start = span[0]
            end = _cut(text, start, min(len(text), start + limit), ends)
    cut_start, cut_end = start > 0, end < len(text)
    if span is None or span[1] <= start or span[0] >= end:
        return Excerpt(text[start:end].strip(), "", "", cut_start, cut_end)
    bold_start, bold_end = max(span[0], start), min(span[1], end)
    return Excerpt(
        text[start:bold_start].lstrip(),
        text[bold_start:bold_end],
        text[bold_end:end].rstrip(),
        cut_start,
        cut_end,
    )


def quote_html(text: str, best: str, limit: int, sentences: Sequence[str] = ()) -> str:
    """The passage as HTML, best sentence in bold, each cut side marked with "…"."""
    part = excerpt(text, best, limit, sentences)
    bold = f"<b>{esc(part.best)}</b>" if part.best else ""
    return (
        (ELLIPSIS if part.cut_start else "")
        + esc(part.before)
        + bold
        + esc(part.after)
        + (ELLIPSIS if part.cut_end else "")
    )


def _fit(build: Callable[[int], str], limit: int, floor: int = 40) -> str:
    """Call `build(limit)` with a shrinking limit until the message fits."""
    markup = build(limit)
    while not fits_message(markup) and limit > floor:
        limit = max(floor, limit * 3 // 4)
        markup = build(limit)
    return markup


# -- answers ---------------------------------------------------------------


def answer_html(hit: Hit, position: int | None = None, total: int | None = None) -> str:
    """The answer message: quote, speaker, attribution and (optionally) "Answer i of n"."""

    def build(limit: int, link: bool = True) -> str:
        quote = quote_html(hit.passage.text, hit.best_sentence, limit, hit.passage.sentences)
        lines = [f"<blockquote>{quote}</blockquote>"]
        if hit.speaker:
            lines.append(f"Quoted: <b>{esc(shorten(hit.speaker, NAME_MAX_CHARS))}</b>")
        lines.append(_attribution(hit.report, link=link))
        if position is not None and total is not None and total > 1:
            lines.append(f"<i>Answer {position} of {total}</i>")
        return "\n".join(lines)

    markup = _fit(build, MAX_QUOTE_CHARS)
    if not fits_message(markup):
        markup = _fit(lambda limit: build(limit, link=False), MAX_QUOTE_CHARS)
    return markup


def render_answer(hits: Sequence[Hit], position: int) -> Rendered:
    """Hit number `position` (1-based) of `hits`, with a "More" button while one is left."""
    total = min(len(hits), MAX_RANK)
    if not 1 <= position <= total:
        raise ValueError(f"position {position} is outside 1..{total}")
    keyboard = None
    if position < total:
        button = InlineKeyboardButton(
            f"More ({position + 1}/{total})", callback_data=encode_more(position + 1)
        )
        keyboard = InlineKeyboardMarkup([[button]])
    return Rendered(answer_html(hits[position - 1], position, total), keyboard)


def render_not_found() -> Rendered:
    return Rendered(
        "I couldn't find that in the reports, so I won't guess.\n"
        "Try rephrasing with the names, places or numbers you are after, "
        "or see what I have with /latest."
    )


def render_ask_usage() -> Rendered:
    return Rendered("Ask me like this: <code>/ask Who commands the rebels?</code>")


# -- /latest -----------------------------------------------------------------


def render_latest(reports: Sequence[Report], total_reports: int, note: str = "") -> Rendered:
    """The newest reports, newest first: title, source, date and first sentence.

    Each first sentence gets a shrinking budget until the list fits one
    message; if even titles alone do not fit, the oldest entries are dropped.
    """
    if not reports:
        return Rendered("I have no reports yet.")

    def build(shown: Sequence[Report], sentence_limit: int) -> str:
        header = f"<b>Newest reports</b> ({len(shown)} of {total_reports})"
        blocks = [header + (f"\n<i>{esc(note)}</i>" if note else "")]
        for number, report in enumerate(shown, start=1):
            attribution = _attribution(report, bold_title=True, title_limit=LIST_TITLE_MAX_CHARS)
            block = f"{number}. {attribution}"
            first = shorten(report.first_sentence, sentence_limit) if sentence_limit else ""
            if first:
                block += f"\n{esc(first)}"
            blocks.append(block)
        if len(shown) < len(reports):
            blocks.append(f"<i>… and {len(reports) - len(shown)} more: ask for fewer.</i>")
        return "\n\n".join(blocks)

    shown = list(reports)
    while shown:
        for sentence_limit in (300, 200, 120, 60, 0):
            markup = build(shown, sentence_limit)
            if fits_message(markup):
                return Rendered(markup)
        shown.pop()
    return Rendered("The newest reports have titles too long to list; ask me a question instead.")


def render_latest_usage(argument: str) -> Rendered:
    return Rendered(
        f"“{esc(shorten(argument, 40))}” is not a number of reports. "
        f"Use /latest for the {LATEST_DEFAULT} newest, or /latest N with N from 1 to {LATEST_MAX}."
    )


# -- /start, /help, hints --------------------------------------------------------


def render_start(
    report_count: int, newest: datetime | None, examples: Sequence[str], first_name: str = ""
) -> Rendered:
    greeting = f"Hello, {esc(shorten(first_name, NAME_MAX_CHARS))}!" if first_name else "Hello!"
    lines = [
        f"👋 <b>{greeting}</b> I answer questions about news reports by quoting "
        "the passage that answers them, with where it comes from.",
        "",
    ]
    if report_count == 0:
        lines.append("I have no reports loaded yet, so I cannot answer anything for now.")
    else:
        noun = "report" if report_count == 1 else "reports"
        known = f"I know {report_count} {noun}"
        if newest is not None:
            known += f"; the newest is from {_day(newest)}"
        lines.append(known + ".")
    if examples:
        lines += ["", "Try asking:"]
        lines += [f"• {esc(shorten(example, EXAMPLE_MAX_CHARS))}" for example in examples]
    lines += ["", "/latest shows the newest reports; /help lists everything I can do."]
    return Rendered("\n".join(lines))


def render_help(bot_username: str | None = None) -> Rendered:
    inline = f"@{esc(bot_username)}" if bot_username else "@bot"
    lines = [
        "<b>How to use me</b>",
        "Ask a question in plain words. I reply with the passage of a report that "
        "answers it, the key sentence in bold, and the report's title, source and date. "
        "Press <b>More</b> for the next-best passage.",
        "",
        "/ask QUESTION — ask a question (in groups, or mention me, or reply to me)",
        f"/latest [N] — the N newest reports (default {LATEST_DEFAULT}, at most {LATEST_MAX})",
        "/latest [N] TOPIC — the newest reports on a topic",
        "/subscribe TOPIC — I send you each new report on it as it arrives",
        "/subscriptions — the topics you follow; /unsubscribe TOPIC or all — stop",
        "/start — what I know and example questions",
        "/help — this message",
        "",
        f"In any chat, type <code>{inline} QUESTION</code> to pick an answer inline.",
    ]
    return Rendered("\n".join(lines))


def render_unknown_command(command: str) -> Rendered:
    return Rendered(
        f"I don't know the command {esc(shorten(command, 64))}. "
        "Ask me a question in plain words, or see /help."
    )


def render_not_text() -> Rendered:
    return Rendered("I can only read text. Ask me a question in words, or see /help.")


def render_error() -> Rendered:
    return Rendered("Sorry, something went wrong on my side. Please try again in a moment.")


# -- inline mode -------------------------------------------------------------


def inline_results(hits: Sequence[Hit]) -> list[InlineQueryResultArticle]:
    """Up to MAX_RANK inline answers, each the same HTML as a chat answer."""
    results: list[InlineQueryResultArticle] = []
    for position, hit in enumerate(hits[:MAX_RANK], start=1):
        digest = hashlib.sha1(hit.passage.id.encode(), usedforsecurity=False).hexdigest()[:16]
        results.append(
            InlineQueryResultArticle(
                id=f"{position}-{digest}",
                title=shorten(hit.report.title, INLINE_TITLE_MAX_CHARS) or "Untitled report",
                description=shorten(hit.best_sentence or hit.quote, INLINE_DESCRIPTION_MAX_CHARS),
                input_message_content=InputTextMessageContent(
                    answer_html(hit),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
            )
        )
    return results
