"""Pure: the languages of the reports, named in the reader's language, as Telegram HTML:
the not-found reply for a question in a language no report is in, and the languages
line of /sources.  Built on `html.py`; the names are CLDR's, through Babel
(`text.language_name`: in the reader's language, else English, else the code).

The engine never answers a question from reports in another language (retrieval has
no cross-language stage), so a question surely in a language none of them is in is
told so, and which languages it can be asked in, rather than the plain "not found".

In a right-to-left sentence every value is isolated (`bidi.py`); a list that fills one
placeholder has each name isolated too, so a name in another script (an English name
the reader's language has none for) cannot turn the list around.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.telegram import wording
from bot.telegram.bidi import isolate
from bot.telegram.html import Rendered, esc, render_not_found
from bot.telegram.i18n import ENGLISH, Words
from bot.text import NAMED_LANGUAGES

# /sources names this many of the reports' languages (the not-found reply
# NAMED_LANGUAGES); the rest are "and N others".
SOURCES_NAMED_LANGUAGES = 12


def language_name(code: str, words: Words = ENGLISH) -> str:
    """The name of the language `code`, escaped: "German", "Deutsch", "الألمانية"."""
    return esc(words.language_name(code))


def language_list(
    codes: Sequence[str], words: Words = ENGLISH, named: int = NAMED_LANGUAGES
) -> str:
    """ "English, German, and Russian", at most `named` of them and then "N others", in
    the reader's language (each name isolated in a right-to-left one)."""
    names = [language_name(code, words) for code in codes[:named]]
    if words.rtl:
        names = [isolate(name) for name in names]
    left = len(codes) - len(names)
    if left > 0:
        names.append(words.plural(wording.OTHER_LANGUAGES, left).format(count=left))
    return words.listed(names)


def render_not_found_in(
    missing: str | None, languages: Sequence[str], *, words: Words = ENGLISH
) -> Rendered:
    """The reply when a question has no answer: when it is surely in `missing`, a
    language no report is in, that no report is, and the reports' `languages` (codes,
    most reports first) to ask in instead; otherwise (or with no reports at all) the
    plain not-found."""
    if missing is None or not languages:
        return render_not_found(words=words)
    lines = [words(wording.NO_REPORTS_IN_LANGUAGE).format(language=language_name(missing, words))]
    if len(languages) == 1:
        only = language_name(languages[0], words)
        lines.append(words(wording.REPORTS_IN_LANGUAGE).format(language=only))
    else:
        listed = language_list(languages, words)
        lines.append(words(wording.REPORTS_IN_LANGUAGES).format(languages=listed))
    return Rendered("\n".join(lines))


def languages_line(counts: Mapping[str, int], words: Words = ENGLISH) -> str:
    """/sources' line of the reports' languages and how many reports each has, in the
    order of `counts` (the engine's: most first): "🌐 Languages: English 812, German 40"."""
    shown = list(counts.items())[:SOURCES_NAMED_LANGUAGES]
    items = [
        words(wording.LANGUAGE_COUNT).format(language=language_name(code, words), count=count)
        for code, count in shown
    ]
    left = len(counts) - len(shown)
    if left > 0:
        items.append(words.plural(wording.OTHER_LANGUAGES, left).format(count=left))
    return words(wording.SOURCE_LANGUAGES).format(
        languages=words(wording.LIST_SEPARATOR).join(items)
    )
