"""The user's language: which catalogue answers them, and `Words`, the wording of
`wording.py` translated into it, which the render modules are handed.

The catalogues are gettext .po files, `locales/<language>/LC_MESSAGES/bot.po` next to
this module, shipped as package data.  They are read with Babel when first needed
(building the Application reads them all, so a broken one stops the start, not a
reply) and compiled in memory into Python's own `gettext.GNUTranslations`, which picks
a plural form by each language's Plural-Forms rule.  So a wheel needs no compile step
and no .mo files, and the .po file is the one thing a translator edits.  What they
must hold is `sentences()`: every string of wording.py, found by walking the module
rather than by `_()` markers in it, which `python -m bot.telegram.catalogues` merges
into them as `pybabel update` would.

The language is Telegram's `language_code` of the user an update comes from (an IETF
tag: "ru", "ru-RU", "pt-br"), cut to its language; a language without a catalogue,
or an update without a user (a channel post), gets English, the msgids themselves.
Pushes go out in the language of whoever last subscribed in the chat (a group's
too): the store keeps their `language_code` with the chat's subscriptions, and
`words_for` reads it when a push is rendered (`subscriptions.py`, `pushes.py`).
"""

from __future__ import annotations

import functools
import gettext
import io
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import datetime
from importlib import resources

from babel import Locale
from babel.dates import format_skeleton
from babel.lists import format_list
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from telegram import Update

from bot.telegram import wording
from bot.telegram.bidi import shape_rtl
from bot.telegram.wording import Command, Plural
from bot.text import day, language_name

ENGLISH_CODE = "en"
# English first: the fallback, whose sentences are the msgids and need no catalogue.
LANGUAGES: tuple[str, ...] = (ENGLISH_CODE, "ru", "es", "de", "ar")
DOMAIN = "bot"
# A day in a catalogue's language: "25 нояб. 2026 г.", "25. Nov. 2026" (CLDR's pattern);
# English keeps bot/text.py's "25 Nov 2026", unambiguous and the terminal's too.
DAY_SKELETON = "yMMMd"


class Words:
    """The bot's wording in one language: `words(wording.NOT_FOUND)` is that sentence
    translated (and shaped for a right-to-left language, `bidi.py`), or the English one
    when the catalogue lacks it."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._locale = Locale.parse(language)
        self.rtl = self._locale.character_order == "right-to-left"
        self._translations = translations
        self._shaped: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Words({self.language!r})"

    @property
    def code(self) -> str | None:
        """The language_code for setMyCommands and setMyDescription: None for English,
        the default every language without a list of its own falls back to."""
        return None if self.language == ENGLISH_CODE else self.language

    def __call__(self, text: str) -> str:
        shaped = self._shaped.get(text)
        if shaped is None:
            shaped = self._shaped[text] = self._shape(self._translations.gettext(text))
        return shaped

    def plural(self, plural: Plural, count: int) -> str:
        """The form of `plural` for `count` (still to be filled in with `count=`)."""
        return self._shape(self._translations.ngettext(plural.one, plural.many, count))

    def plain(self, text: str) -> str:
        """`text` translated but never shaped: for what goes inside a report's quote."""
        return self._translations.gettext(text)

    def day(self, moment: datetime) -> str:
        if self.language == ENGLISH_CODE:
            return day(moment)
        return format_skeleton(DAY_SKELETON, moment, locale=self.language)

    def language_name(self, code: str) -> str:
        """A report language's name in this language ("de": "Deutsch" in German,
        "немецкий" in Russian), else its English name, else the code (`text.py`)."""
        return language_name(code, self.language)

    def listed(self, items: Sequence[str]) -> str:
        """`items` as a list in this language: "English, German, and Russian",
        "Englisch, Deutsch und Russisch" (CLDR's pattern, through Babel)."""
        return format_list(list(items), locale=self._locale) if items else ""

    def usage(self, command: Command) -> str:
        """ "/latest [N] [TOPIC]", its arguments in this language (unshaped: the whole is
        a value put into a sentence, and shaped there)."""
        args = self.plain(command.args) if command.args else ""
        return f"/{command.name} {args}" if args else f"/{command.name}"

    def _shape(self, text: str) -> str:
        return shape_rtl(text) if self.rtl else text


ENGLISH = Words(ENGLISH_CODE, gettext.NullTranslations())


def language_of(code: str | None) -> str:
    """Telegram's `language_code` ("de", "de-AT", "pt_BR", "") → a language with a
    catalogue, else English."""
    language = (code or "").replace("_", "-").split("-", 1)[0].strip().lower()
    return language if language in LANGUAGES else ENGLISH_CODE


def words_for(code: str | None) -> Words:
    """The wording for a `language_code`."""
    return _words(language_of(code))


def words_of(update: Update) -> Words:
    """The wording for whoever sent `update` (English when nobody did: a channel post)."""
    user = update.effective_user
    return words_for(user.language_code if user is not None else None)


def every_language() -> tuple[Words, ...]:
    """The wording in every language, each catalogue read (the start-up's check)."""
    return tuple(_words(language) for language in LANGUAGES)


@functools.cache
def _words(language: str) -> Words:
    if language == ENGLISH_CODE:
        return ENGLISH
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(language))
    compiled.seek(0)
    return Words(language, gettext.GNUTranslations(compiled))


def catalogue_path(language: str) -> resources.abc.Traversable:
    return resources.files(__package__) / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str) -> Catalog:
    """One language's .po file, as Babel reads it (fuzzy entries are not used)."""
    with catalogue_path(language).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


# -- the extraction: what the catalogues must translate ---------------------------------


def sentences() -> list[str | Plural]:
    """Every msgid of `wording.py`, in its order: each public string with a letter or
    punctuation in it (not the `EXAMPLE_` searches), each `Plural`, and each command's
    menu, arguments and /help line."""
    found: dict[str | Plural, None] = {}
    for name, value in vars(wording).items():
        if name.startswith("_") or name.startswith("EXAMPLE_") or not name.isupper():
            continue
        for text in _texts(value):
            found[text] = None
    return list(found)


def _texts(value: object) -> Iterator[str | Plural]:
    if (isinstance(value, str) and _is_sentence(value)) or isinstance(value, Plural):
        yield value
    elif isinstance(value, tuple):
        for command in value:
            if isinstance(command, Command):
                yield from (t for t in (command.menu, command.args, command.does) if t)


def _is_sentence(text: str) -> bool:
    return any(ch.isalpha() or unicodedata.category(ch).startswith("P") for ch in text)
