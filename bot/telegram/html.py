"""Pure rendering: hits and reports in, Telegram HTML (and a keyboard) out.

Nothing here does I/O, and no sentence is spelled out here: the words come from
`bot/telegram/wording.py`, translated by the `Words` each function is handed (English
unless told otherwise, `i18n.py`), the cuts from `bot/text.py`.  Every piece
of report or user text goes through `esc` (or `esc_attr` inside an attribute, or
`plain` where Telegram shows text without markup) before it is sent, which also
drops control characters, and every message is measured against Telegram's
4096-character limit before it is returned: quotes are trimmed at a sentence or
word boundary, with "…", never inside a tag or an entity.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode

from bot.telegram import wording
from bot.telegram.callbacks import encode_more
from bot.telegram.i18n import ENGLISH, Words
from bot.telegram.wording import Command
from bot.text import (
    ELLIPSIS,
    LATEST_DEFAULT,
    LATEST_MAX,
    MAX_ANSWERS,
    NAME_MAX_CHARS,
    TITLE_MAX_CHARS,
    Quote,
    shorten,
    split_quote,
    valid_unicode,
)
from retrieval.models import MAX_QUOTE_CHARS, Hit, Report

MESSAGE_MAX_CHARS = 4096
# Titles in /latest are shorter than elsewhere, so twenty of them fit one message.
LIST_TITLE_MAX_CHARS = 120
EXAMPLE_MAX_CHARS = 200
# Longer urls are shown without a link rather than eat the message budget.
URL_MAX_CHARS = 1000
INLINE_TITLE_MAX_CHARS = 120
INLINE_DESCRIPTION_MAX_CHARS = 200

_TAG = re.compile(r"<[^>]*>")
# C0 and C1 control characters and DEL, except tab and newline.  The loader drops them
# too; this is the second line of defence, so that no report (from a feed, a cache
# written by an older version, a loader bug) can put a NUL or a terminal escape into a
# message.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: Telegram HTML and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


# -- small helpers ---------------------------------------------------------


def plain(text: str) -> str:
    """Text as it may be shown: valid Unicode, without control characters (those that
    are whitespace, such as a carriage return or a form feed, become a space)."""
    return _CONTROL.sub(lambda match: " " if match.group().isspace() else "", valid_unicode(text))


def esc(text: str) -> str:
    """Escape text for Telegram HTML (outside attributes)."""
    return html.escape(plain(text), quote=False)


def esc_attr(text: str) -> str:
    """Escape text for a double-quoted attribute value."""
    return html.escape(plain(text), quote=True)


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


def _safe_url(url: str | None) -> str | None:
    """A url we are willing to link: http(s), no whitespace, not absurdly long."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > URL_MAX_CHARS:
        return None
    if any(ch.isspace() for ch in url) or _CONTROL.search(url):
        return None
    return url


def _linked(label_html: str, url: str | None) -> str:
    safe = _safe_url(url)
    return f'<a href="{esc_attr(safe)}">{label_html}</a>' if safe else label_html


def _attribution(
    report: Report,
    words: Words,
    *,
    link: bool = True,
    bold_title: bool = False,
    title_limit: int = TITLE_MAX_CHARS,
    page: int | None = None,
) -> str:
    title = esc(shorten(report.title, title_limit)) or words(wording.UNTITLED)
    title = _linked(title, report.url if link else None)
    parts = [f"<b>{title}</b>" if bold_title else title]
    if report.source:
        parts.append(esc(shorten(report.source, NAME_MAX_CHARS)))
    if report.author:
        author = esc(shorten(report.author, NAME_MAX_CHARS))
        parts.append(words(wording.BY_AUTHOR).format(author=author))
    parts.append(report_date(report, words))
    if page is not None:
        parts.append(words(wording.PAGE).format(page=page))
    return " · ".join(parts)


def report_date(report: Report, words: Words = ENGLISH) -> str:
    """ "22 Jul 2012", marked when it is only the file's modification date."""
    shown = words.day(report.published)
    return words(wording.FILE_DATE).format(day=shown) if report.published_from_mtime else shown


def quote_html(quote: Quote, words: Words = ENGLISH) -> str:
    """The answer's two blockquotes: the short quote, best sentence in bold, and the rest
    of the passage around it folded in an expandable one (when there is any), its cut
    sides marked with "…" and the short quote's place in it with CONTEXT_GAP."""
    short = quote.short
    first = (
        esc(short.before)
        + (f"<b>{esc(short.best)}</b>" if short.best else "")
        + esc(short.after)
        + (ELLIPSIS if short.cut_end else "")
    )
    blocks = [f"<blockquote>{first}</blockquote>"]
    around = []
    if quote.before:
        around.append((ELLIPSIS if quote.cut_before else "") + esc(quote.before))
    if quote.after:
        around.append(esc(quote.after) + (ELLIPSIS if quote.cut_after else ""))
    if around:
        gap = words.plain(wording.CONTEXT_GAP)  # inside the report's text: not shaped
        blocks.append(f"<blockquote expandable>{gap.join(around)}</blockquote>")
    return "\n".join(blocks)


def _fit(build: Callable[[int], str], limit: int, floor: int = 40) -> str:
    """Call `build(limit)` with a shrinking limit until the message fits."""
    markup = build(limit)
    while not fits_message(markup) and limit > floor:
        limit = max(floor, limit * 3 // 4)
        markup = build(limit)
    return markup


# -- answers ---------------------------------------------------------------


def answer_html(
    hit: Hit, position: int | None = None, total: int | None = None, *, words: Words = ENGLISH
) -> str:
    """The answer message: quote, speaker, attribution and (optionally) "Answer i of n"."""

    def build(limit: int, link: bool = True) -> str:
        passage = hit.passage
        quote = split_quote(passage.text, hit.best_sentence, limit, passage.sentences)
        lines = [quote_html(quote, words)]
        if hit.speaker:
            speaker = esc(shorten(hit.speaker, NAME_MAX_CHARS))
            lines.append(words(wording.QUOTED).format(speaker=speaker))
        lines.append(_attribution(hit.report, words, link=link, page=hit.passage.page))
        if position is not None and total is not None and total > 1:
            lines.append(words(wording.ANSWER_POSITION).format(position=position, total=total))
        return "\n".join(lines)

    markup = _fit(build, MAX_QUOTE_CHARS)
    if not fits_message(markup):
        markup = _fit(lambda limit: build(limit, link=False), MAX_QUOTE_CHARS)
    return markup


def render_answer(hits: Sequence[Hit], position: int, *, words: Words = ENGLISH) -> Rendered:
    """Hit number `position` (1-based) of `hits`, with a "More" button while one is left."""
    total = min(len(hits), MAX_ANSWERS)
    if not 1 <= position <= total:
        raise ValueError(f"position {position} is outside 1..{total}")
    keyboard = None
    if position < total:
        button = InlineKeyboardButton(
            words(wording.MORE_BUTTON).format(position=position + 1, total=total),
            callback_data=encode_more(position + 1),
        )
        keyboard = InlineKeyboardMarkup([[button]])
    return Rendered(answer_html(hits[position - 1], position, total, words=words), keyboard)


def render_not_found(*, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.NOT_FOUND))


def render_ask_usage(*, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.ASK_USAGE).format(example=esc(wording.EXAMPLE_QUESTION)))


def render_error(*, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.ERROR))


# -- /latest -----------------------------------------------------------------


def render_latest(
    reports: Sequence[Report], total_reports: int, note: str = "", *, words: Words = ENGLISH
) -> Rendered:
    """The newest reports, newest first: title, source, date and first sentence.

    Each first sentence gets a shrinking budget until the list fits one
    message; if even titles alone do not fit, the oldest entries are dropped.
    """
    if not reports:
        return Rendered(words(wording.NO_REPORTS_YET))

    def build(shown: Sequence[Report], sentence_limit: int) -> str:
        header = words(wording.NEWEST_HEADER).format(shown=len(shown), total=total_reports)
        blocks = [header + (f"\n<i>{esc(note)}</i>" if note else "")]
        for number, report in enumerate(shown, start=1):
            attribution = _attribution(
                report, words, bold_title=True, title_limit=LIST_TITLE_MAX_CHARS
            )
            block = f"{number}. {attribution}"
            first = shorten(report.first_sentence, sentence_limit) if sentence_limit else ""
            if first:
                block += f"\n{esc(first)}"
            blocks.append(block)
        if len(shown) < len(reports):
            blocks.append(words(wording.LIST_CUT_SHORT).format(left=len(reports) - len(shown)))
        return "\n\n".join(blocks)

    shown = list(reports)
    while shown:
        for sentence_limit in (300, 200, 120, 60, 0):
            markup = build(shown, sentence_limit)
            if fits_message(markup):
                return Rendered(markup)
        shown.pop()
    return Rendered(words(wording.TITLES_TOO_LONG))


def latest_note(capped: bool, *, words: Words = ENGLISH) -> str:
    """The note under /latest's header when more were asked for than it lists (plain
    text: render_latest escapes it)."""
    return words(wording.AT_MOST).format(limit=LATEST_MAX) if capped else ""


def render_latest_usage(argument: str, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(
        words(wording.LATEST_USAGE).format(
            argument=esc(shorten(argument, 40)), default=LATEST_DEFAULT, limit=LATEST_MAX
        )
    )


# -- /start, /help, hints --------------------------------------------------------


def render_start(
    report_count: int,
    newest: datetime | None,
    examples: Sequence[str],
    first_name: str = "",
    *,
    words: Words = ENGLISH,
) -> Rendered:
    greeting = (
        words(wording.HELLO_NAME).format(name=esc(shorten(first_name, NAME_MAX_CHARS)))
        if first_name
        else words(wording.HELLO)
    )
    lines = [words(wording.INTRO).format(greeting=greeting), ""]
    if report_count == 0:
        lines.append(words(wording.NOTHING_LOADED))
    elif newest is None:
        lines.append(words.plural(wording.KNOW_REPORTS, report_count).format(count=report_count))
    else:
        known = words.plural(wording.KNOW_REPORTS_NEWEST, report_count)
        lines.append(known.format(count=report_count, day=words.day(newest)))
    if examples:
        lines += ["", words(wording.TRY_ASKING)]
        lines += [f"• {esc(shorten(example, EXAMPLE_MAX_CHARS))}" for example in examples]
    lines += ["", words(wording.START_FOOTER)]
    return Rendered("\n".join(lines))


def help_lines(commands: Sequence[Command], words: Words = ENGLISH) -> list[str]:
    """A /help line per command: "/latest [N] [TOPIC] — the N newest reports (…)"."""
    return [
        words(wording.HELP_LINE).format(
            usage=words.usage(command),
            does=words(command.does).format(default=LATEST_DEFAULT, limit=LATEST_MAX),
        )
        for command in commands
    ]


def command_menu(commands: Sequence[Command], words: Words = ENGLISH) -> list[BotCommand]:
    """Telegram's command menu (setMyCommands) in one language."""
    return [BotCommand(command.name, words(command.menu)) for command in commands]


def render_help(bot_username: str | None = None, *, words: Words = ENGLISH) -> Rendered:
    """Every command of `wording.COMMANDS`, the table the command menu is built from."""
    mention = f"@{esc(bot_username)}" if bot_username else "@bot"
    lines = [words(wording.HELP_TITLE), words(wording.HELP_INTRO), ""]
    lines += help_lines(wording.COMMANDS, words)
    lines += ["", words(wording.HELP_INLINE).format(mention=mention)]
    return Rendered("\n".join(lines))


def render_unknown_command(command: str, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.UNKNOWN_COMMAND).format(command=esc(shorten(command, 64))))


def render_not_text(*, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.NOT_TEXT))


# -- inline mode -------------------------------------------------------------


def inline_results(
    hits: Sequence[Hit], *, words: Words = ENGLISH
) -> list[InlineQueryResultArticle]:
    """Up to MAX_ANSWERS inline answers, each the same HTML as a chat answer."""
    results: list[InlineQueryResultArticle] = []
    for position, hit in enumerate(hits[:MAX_ANSWERS], start=1):
        digest = hashlib.sha1(hit.passage.id.encode(), usedforsecurity=False).hexdigest()[:16]
        results.append(
            InlineQueryResultArticle(
                id=f"{position}-{digest}",
                title=plain(shorten(hit.report.title, INLINE_TITLE_MAX_CHARS)).strip()
                or visible_text(words(wording.UNTITLED)),
                description=plain(
                    shorten(hit.best_sentence or hit.quote, INLINE_DESCRIPTION_MAX_CHARS)
                ),
                input_message_content=InputTextMessageContent(
                    answer_html(hit, words=words),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
            )
        )
    return results
