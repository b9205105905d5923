"""`python -m tests.telegram.show_languages [LANGUAGE…]`: what a user sees of the bot in
each UI language, as text: an answer, the not-found reply, /start and the reply to a
question in a language no report is in, over the seed report, rendered by the bot's own
code and parsed by the test server's Telegram HTML parser.  Bold is **…**, italic _…_,
code `…`, a quote ┃ and a folded quote ┆; a button is [ … ].  The invisible direction
marks of an RTL language are left out (they are in what is sent)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.config import PROJECT_SEEDS
from bot.telegram import html, html_languages, i18n
from bot.telegram.bidi import unshaped
from bot.telegram.html import Rendered
from retrieval.search import SearchEngine
from tests.botapi.html_check import parse_telegram_html_entities

ANSWERED = "How many refugees have entered camps in Turkey?"
QUOTED = "What did Faiz Amr say about the border crossings?"
NOT_FOUND = "How do I bake sourdough bread?"
# In a language no seed report is in: not looked for, and the reply says so.
OTHER_LANGUAGE = "Wie viele Flüchtlinge sind in der Türkei angekommen?"
_MARKS = {"bold": ("**", "**"), "italic": ("_", "_"), "code": ("`", "`")}
_QUOTE_START, _QUOTE_END, _FOLDED_START, _FOLDED_END = "\x01", "\x02", "\x03", "\x04"


def as_text(rendered: Rendered) -> str:
    """A message as a reader sees it, its formatting marked with plain characters."""
    formatted = parse_telegram_html_entities(rendered.text)
    units = formatted.text.encode("utf-16-le")
    inserts: list[tuple[int, int, str]] = []
    for entity in formatted.entities:
        kind = entity["type"]
        start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
        if kind in _MARKS:
            opening, closing = _MARKS[kind]
        elif kind == "blockquote":
            opening, closing = _QUOTE_START, _QUOTE_END
        elif kind == "expandable_blockquote":
            opening, closing = _FOLDED_START, _FOLDED_END
        else:
            continue
        inserts += [(start, 1, opening), (end, 0, closing)]
    pieces, position = [], 0
    for at, _, mark in sorted(inserts):
        pieces += [units[position:at].decode("utf-16-le"), mark]
        position = at
    pieces.append(units[position:].decode("utf-16-le"))
    text = _quoted("".join(pieces))
    if rendered.keyboard is not None:
        row = [button.text for line in rendered.keyboard.inline_keyboard for button in line]
        text += "\n" + "  ".join(f"[ {label} ]" for label in row)
    return unshaped(text)


def _quoted(text: str) -> str:
    lines, prefix = [], ""
    for line in text.split("\n"):
        if _QUOTE_START in line or _FOLDED_START in line:
            prefix = "┃ " if _QUOTE_START in line else "┆ "
        shown = prefix + "".join(ch for ch in line if ch > "\x04")
        if _QUOTE_END in line or _FOLDED_END in line:
            prefix = ""
        lines.append(shown)
    return "\n".join(lines)


def replies(engine: SearchEngine, language: str) -> list[tuple[str, Rendered]]:
    """(what the user sent, the bot's reply) for one language."""
    words = i18n.words_for(language)
    hits = engine.search(ANSWERED, 5)
    quoted = engine.search(QUOTED, 5)
    start = html.render_start(
        len(engine.reports), engine.newest_date(), engine.example_questions(2), "Ann", words=words
    )
    missing = engine.question_languages(OTHER_LANGUAGE).missing
    other_language = html_languages.render_not_found_in(
        missing, list(engine.languages()), words=words
    )
    return [
        (ANSWERED, html.render_answer(hits, 1, words=words)),
        (QUOTED, html.render_answer(quoted, 1, words=words)),
        (NOT_FOUND, html.render_not_found(words=words)),
        ("/start", start),
        (OTHER_LANGUAGE, other_language),
    ]


def main(argv: Sequence[str] = ()) -> int:
    engine = SearchEngine.from_path(PROJECT_SEEDS)
    for language in argv or i18n.LANGUAGES:
        print(f"===== {language} =====")
        for asked, rendered in replies(engine, language):
            print(f"you> {asked}")
            print("bot> " + as_text(rendered).replace("\n", "\n     "))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
