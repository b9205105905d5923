"""`python -m bot.telegram.catalogues [LANGUAGE…]`: brings the .po catalogues up to date
with `wording.py`, for translators (a developer's tool; the bot only reads them).

The template is `i18n.sentences()`, what the bot can say; Babel's own merge
(`Catalog.update`, what `pybabel update` does) adds each new sentence untranslated,
offers a close old translation of a reworded one as fuzzy (never used until a
translator clears the mark), and drops the sentences wording.py no longer has.  A
new language gets a catalogue with Babel's plural rule for it; add it to
`i18n.LANGUAGES` too.  tests/telegram/test_catalogues.py fails until every entry is
translated and keeps the placeholders, tags and commands of its sentence.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.telegram.i18n import DOMAIN, ENGLISH_CODE, LANGUAGES, sentences
from bot.telegram.wording import Plural

PROJECT = "reports-bot"
LOCALES = Path(__file__).resolve().parent / "locales"
HEADER = (
    "# The wording of reports-bot (bot/telegram/wording.py) in {language}.\n"
    "# Update with `python -m bot.telegram.catalogues`; keep every {{placeholder}}, tag\n"
    "# and /command of the English sentence."
)


def template() -> Catalog:
    """Every sentence of wording.py, untranslated: gettext's .pot."""
    catalog = Catalog(domain=DOMAIN, project=PROJECT, fuzzy=False)
    for sentence in sentences():
        catalog.add((sentence.one, sentence.many) if isinstance(sentence, Plural) else sentence)
    return catalog


def path_of(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def update(language: str) -> Path:
    """The language's catalogue merged with the template, written back."""
    path = path_of(language)
    if path.exists():
        with path.open("rb") as file:
            catalog = read_po(file, locale=language, domain=DOMAIN)
    else:
        catalog = Catalog(locale=language, domain=DOMAIN, project=PROJECT, fuzzy=False)
        name = catalog.locale.english_name if catalog.locale else language
        catalog.header_comment = HEADER.format(language=name)
        catalog.msgid_bugs_address = catalog.last_translator = ""
    catalog.update(template(), update_header_comment=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        write_po(file, catalog, width=88, omit_header=False, ignore_obsolete=True)
    return path


def main(argv: Sequence[str] = ()) -> int:
    languages = list(argv) or [language for language in LANGUAGES if language != ENGLISH_CODE]
    for language in languages:
        print(update(language))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
