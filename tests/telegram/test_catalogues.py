"""The catalogues against wording.py: every sentence translated in every language, nothing
else in them, and each translation keeping its sentence's placeholders, tags and commands,
valid Telegram HTML within Telegram's limits.  The checker is tested on broken catalogues
first, so a pass means something."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.telegram import catalogues, i18n, wording
from bot.telegram.bidi import NOT_ISOLATED, unshaped
from bot.telegram.html import visible_text
from bot.telegram.wording import Plural
from tests.botapi.html_check import parse_telegram_html

TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.ENGLISH_CODE]
_TAG = re.compile(r"</?[a-z][a-z-]*(?:\s[^>]*)?>")
_COMMAND = re.compile(r"(?<![\w/<@.])/[a-z][a-z0-9_]*")
# A plural form may spell its number out ("one report" in Arabic) instead of writing it.
NUMBER = "count"
NUMBERS = NOT_ISOLATED - {"topics"}


def _fields(text: str) -> dict[str, str]:
    """{placeholder: its format spec} of a str.format template."""
    return {name: spec or "" for _, name, spec, _ in Formatter().parse(text) if name is not None}


def _check_one(msgid: str, translation: str, where: str, *, plural_form: bool) -> list[str]:
    problems = []
    want, got = _fields(msgid), _fields(translation)
    allowed_missing = {NUMBER} if plural_form else set()
    if set(got) - set(want) or set(want) - set(got) - allowed_missing:
        problems.append(f"{where}: placeholders {sorted(got)} instead of {sorted(want)}")
    for name, spec in got.items():
        if name in want and spec not in ("", want[name]):
            problems.append(f"{where}: {{{name}:{spec}}} is not {{{name}:{want[name]}}}")
    if Counter(_TAG.findall(translation)) != Counter(_TAG.findall(msgid)):
        problems.append(f"{where}: tags {_TAG.findall(translation)} not {_TAG.findall(msgid)}")
    if Counter(_COMMAND.findall(translation)) != Counter(_COMMAND.findall(msgid)):
        problems.append(f"{where}: commands {_COMMAND.findall(translation)} not as in English")
    return problems


def catalogue_problems(catalog: Catalog, sentences: list[str | Plural]) -> list[str]:
    """What is wrong with one language's catalogue, in words (empty: nothing)."""
    expected = {s.one if isinstance(s, Plural) else s: s for s in sentences}
    problems = []
    if catalog.fuzzy:
        problems.append("the header is fuzzy")
    if catalog.locale is not None:
        rule = get_plural(catalog.locale)
        if (catalog.num_plurals, catalog.plural_expr) != (rule.num_plurals, rule.plural_expr):
            problems.append(f"Plural-Forms is not Babel's rule for {catalog.locale}: {rule}")
    seen = set()
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        plural_id = None if isinstance(message.id, str) else tuple(message.id)
        seen.add(key)
        sentence = expected.get(key)
        if sentence is None:
            problems.append(f"{key!r} is not a sentence of wording.py")
            continue
        if message.fuzzy:
            problems.append(f"{key!r} is fuzzy: review it and drop the mark")
        if isinstance(sentence, Plural) != (plural_id is not None) or (
            isinstance(sentence, Plural) and plural_id != (sentence.one, sentence.many)
        ):
            problems.append(f"{key!r}: plural in one of wording.py and the catalogue only")
            continue
        string = message.string
        forms = (string,) if isinstance(string, str) else tuple(string or ())
        if isinstance(sentence, Plural) and len(forms) != catalog.num_plurals:
            problems.append(f"{key!r}: {len(forms)} forms, not {catalog.num_plurals}")
        for index, form in enumerate(forms):
            where = f"{key!r}" + (f"[{index}]" if isinstance(sentence, Plural) else "")
            if not form.strip():
                problems.append(f"{where} is not translated")
                continue
            msgid = sentence.many if isinstance(sentence, Plural) else sentence
            problems += _check_one(msgid, form, where, plural_form=isinstance(sentence, Plural))
    problems += [f"{key!r} has no entry" for key in expected if key not in seen]
    return problems


def _sample(template: str) -> str:
    """A template filled the way the render modules fill it (numbers where numbers go)."""
    values = {name: 3 if name in NUMBERS else "x" for name in _fields(template)}
    return template.format(**values)


# -- the checker finds what is wrong ------------------------------------------------------


def _broken(entries: Entries) -> Catalog:
    catalog = Catalog(locale="de", fuzzy=False)
    for msgid, string in entries.items():
        catalog.add(msgid, string)
    return catalog


SENTENCES: list[str | Plural] = [
    "Hello, {name}!",
    "<b>New</b> on {topic}",
    "See /help.",
    Plural("{count} file", "{count} files"),
]
Entries = dict[str | tuple[str, str], str | tuple[str, ...]]
GOOD: Entries = {
    "Hello, {name}!": "Hallo, {name}!",
    "<b>New</b> on {topic}": "<b>Neu</b> zu {topic}",
    "See /help.": "Siehe /help.",
    ("{count} file", "{count} files"): ("{count} Datei", "{count} Dateien"),
}


def test_a_good_catalogue_has_no_problems() -> None:
    assert catalogue_problems(_broken(GOOD), SENTENCES) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"Hello, {name}!": "Hallo!"}, "placeholders [] instead of ['name']"),
        ({"Hello, {name}!": "Hallo, {nombre}!"}, "placeholders ['nombre'] instead of ['name']"),
        ({"<b>New</b> on {topic}": "Neu zu {topic}"}, "tags [] not ['<b>', '</b>']"),
        ({"<b>New</b> on {topic}": "<i>Neu</i> zu {topic}"}, "tags"),
        ({"See /help.": "Siehe /hilfe."}, "commands ['/hilfe'] not as in English"),
        ({"See /help.": ""}, "'See /help.' is not translated"),
        ({"A sentence wording.py lost": "Ein Satz"}, "is not a sentence of wording.py"),
        ({("{count} file", "{count} files"): ("{count} Datei",)}, "1 forms, not 2"),
        ({("{count} file", "{count} files"): ("eine Datei", "{n} Dateien")}, "['n']"),
    ],
)
def test_the_checker_finds_each_kind_of_mistake(change: Entries, problem: str) -> None:
    problems = catalogue_problems(_broken({**GOOD, **change}), SENTENCES)
    assert any(problem in p for p in problems), problems


def test_the_checker_finds_a_missing_entry_and_a_fuzzy_one() -> None:
    missing: Entries = {k: v for k, v in GOOD.items() if k != "See /help."}
    assert catalogue_problems(_broken(missing), SENTENCES) == ["'See /help.' has no entry"]
    fuzzy = _broken(GOOD)
    message = fuzzy["Hello, {name}!"]
    assert message is not None
    message.flags.add("fuzzy")
    assert catalogue_problems(fuzzy, SENTENCES) == [
        "'Hello, {name}!' is fuzzy: review it and drop the mark"
    ]


def test_a_plural_form_may_spell_its_number_out_but_keep_the_rest() -> None:
    spelled: Entries = {
        **GOOD,
        ("{count} file", "{count} files"): ("eine Datei", "{count} Dateien"),
    }
    assert catalogue_problems(_broken(spelled), SENTENCES) == []


# -- the shipped catalogues ---------------------------------------------------------------


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_sentence_is_translated_and_keeps_its_placeholders_tags_and_commands(
    language: str,
) -> None:
    assert catalogue_problems(i18n.read_catalogue(language), i18n.sentences()) == []


def test_the_sentences_are_every_string_of_wording_but_the_examples_and_the_emoji() -> None:
    found = i18n.sentences()
    assert wording.NOT_FOUND in found and wording.KNOW_REPORTS in found
    assert wording.EXAMPLE_TOPIC not in found and wording.EXAMPLE_QUESTION not in found
    assert wording.SOURCE_FOLDER not in found  # an emoji, the same in every language
    assert wording.CONTEXT_GAP in found  # punctuation differs by language
    for command in (*wording.COMMANDS, *wording.ADMIN_COMMANDS):
        assert command.menu in found and command.does in found
        assert not command.args or command.args in found


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_translation_is_telegram_html_within_telegrams_limits(language: str) -> None:
    words = i18n.words_for(language)
    for sentence in i18n.sentences():
        forms = (
            [words.plural(sentence, n) for n in (0, 1, 2, 3, 11, 100)]
            if isinstance(sentence, Plural)
            else [words(sentence)]
        )
        for form in forms:
            parse_telegram_html(_sample(form))  # raises like Telegram
    for command in (*wording.COMMANDS, *wording.ADMIN_COMMANDS):
        assert 1 <= len(words(command.menu)) <= 256  # BotCommand.description
    assert len(visible_text(words(wording.DESCRIPTION))) <= 512
    assert len(visible_text(words(wording.SHORT_DESCRIPTION))) <= 120
    for press in (wording.EXPIRED, wording.NO_MORE, wording.SLOW_DOWN_PRESS, wording.ERROR):
        assert len(words(press)) <= 200  # a button press's notification


@pytest.mark.parametrize("language", TRANSLATED)
def test_shaping_adds_only_invisible_controls(language: str) -> None:
    catalog = i18n.read_catalogue(language)
    words = i18n.words_for(language)
    for message in catalog:
        if message.id and isinstance(message.id, str):
            assert unshaped(words(message.id)) == message.string


def test_the_update_tool_keeps_the_catalogues_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(catalogues.LOCALES, copy)
    monkeypatch.setattr(catalogues, "LOCALES", copy)
    assert catalogues.main(TRANSLATED) == 0
    for language in TRANSLATED:
        before = {m.id: m.string for m in i18n.read_catalogue(language) if m.id}
        with catalogues.path_of(language).open("rb") as file:
            after = {m.id: m.string for m in read_po(file, locale=language) if m.id}
        assert after == before


def test_the_update_tool_adds_a_new_sentence_untranslated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogues, "LOCALES", tmp_path)
    monkeypatch.setattr(wording, "NEW_SENTENCE", "A brand new sentence.", raising=False)
    path = catalogues.update("de")
    with path.open("rb") as file:
        catalog = read_po(file, locale="de")
    problems = catalogue_problems(catalog, i18n.sentences())
    assert "'A brand new sentence.' is not translated" in problems
