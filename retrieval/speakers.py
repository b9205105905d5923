"""The speaker of a quotation in a passage.

Conservative on purpose: a wrong name under a quote is worse than none, so we
only name someone when a quotation sits next to a recognisable attribution.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TypeVar

from retrieval.models import Hit, Passage
from retrieval.sentences import split_sentences, word_set

T = TypeVar("T")

_SPEECH_VERB = re.compile(
    r"\b(?:(?:was|is|were|has been) quoted as saying|said|says|told|tells|added|adds|"
    r"explained|asked|wrote|writes|insisted|noted|recalled|warned|replied|stated|"
    r"declared|continued)\b"
)
_PRONOUNS = word_set("he she they we i it you who one someone others some many")
# Words between a subject and its verb: "Smith later said", "Smith has told".
_FILLERS = word_set("has had have was is also later then once again earlier previously")
# An appositive starts so: "Bashir al-Kheir, an activist,", "Smith, of Boston,".
_DESCRIPTION_START = frozenset(("a", "an", "the", "of", "from"))
# "Emily Chibaro of Nantucket told": the person, then where or what they are from.
_OF_PLACE = re.compile(r"^(?P<person>.+?)\s+(?:of|from)\s+(?:the\s+)?[A-Z][^,]*$")
_PARTICLES = word_set(
    "al el bin ibn bint abu abd de da di del della der den du la le van von ten ter dos das"
)
_NAME_TITLES = word_set(
    "mr. mrs. ms. dr. prof. col. gen. lt. sgt. capt. maj. cpl. pvt. adm. cmdr. brig. gov. "
    "sen. rep. rev. st. jr. sr."
)
# Lower-case ranks kept in front of a name: "staff brigadier Faiz Amr".
_RANKS = word_set(
    "staff brigadier general colonel major captain lieutenant sergeant corporal commander "
    "admiral marshal field"
)
# Capitalised words that are not people.
_NOT_PEOPLE = word_set(
    """cnn reuters ap afp bbc upi police officials authorities ministry government army
    military statement witnesses residents sources reports analysts experts indeed however
    meanwhile still yet but and so then monday tuesday wednesday thursday friday saturday
    sunday january february march april may june july august september october november
    december today yesterday tomorrow"""
)
_MAX_SUBJECT_CHARS = 120
_QUOTE_MARK = re.compile('["“”]')
# What may follow "NAME said" after a quote that closed its sentence: nothing, or
# where/when/to whom ("in a statement", "Monday", "CNN") — not a reported clause
# like "said the United States would help".
_BARE_ATTRIBUTION_REST = re.compile(
    r"^\s*(?:(?:in|on|at|during|after|before|of|to|from|with|via|while|when|earlier|later|"
    r"yesterday|today|tonight|last|this|recently|afterward|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|cnn|reporters|journalists)\b(?!.*\bthat\b).{0,60})?$",
    re.IGNORECASE,
)
# "Sen. John McCain, R-Arizona," — a party and state, not a second name.
_PARTY_TAG = re.compile(r"^[RDI]-[A-Z][\w. ]*$")


def find_speaker(text: str) -> str | None:
    """The person quoted in `text`, or None when there is no quotation or no clear name."""
    if not any(mark in text for mark in '"“”'):
        return None
    quotes = [mark.start() for mark in _QUOTE_MARK.finditer(text)]
    closing = [index for index in quotes if _is_closing_quote(text, index)]
    for index in closing:
        closes_sentence = text[index - 1] in ".!?…"
        name = _speaker_after_quote(text[index + 1 : index + 301], closes_sentence)
        if name:
            return name
    for index in quotes:
        if index not in closing:
            name = _speaker_before_quote(text[max(0, index - 300) : index])
            if name:
                return name
    # "…, according to Jane Doe." — only when the whole phrase is a person's name.
    for according in re.finditer(r"\baccording to ([^,.;:\"“”]{1,80})(?=[,.;:]|$)", text):
        words = according.group(1).split()
        name = _leading_name(according.group(1))
        if name is not None and len(words) >= 2 and name.split() == words:
            return name
    return None


def _is_closing_quote(text: str, index: int) -> bool:
    if text[index] == "”":
        return True
    if text[index] == "“":
        return False
    return index > 0 and not text[index - 1].isspace() and text[index - 1] not in "([{"


def _speaker_after_quote(tail: str, closes_sentence: bool) -> str | None:
    """'," Bashir al-Kheir, an activist, was quoted as saying' → 'Bashir al-Kheir'.

    After a quote that ends its own sentence ('… home." Smith said.') the next
    sentence often reports someone else's words, so only a bare 'NAME said.'
    (or 'said NAME.') counts there.
    """
    clause = _first_clause(tail.lstrip(" ,"))
    verb = _SPEECH_VERB.search(clause)
    if verb is None or verb.start() > _MAX_SUBJECT_CHARS:
        return None
    subject = clause[: verb.start()].strip(" ,")
    rest = clause[verb.end() :]
    if closes_sentence and not _BARE_ATTRIBUTION_REST.match(rest):
        return None
    if not subject:  # '," said Col. Abdul-Jabbar Mohammed Aqidi.'
        return _leading_name(rest)
    if closes_sentence and "," in subject:
        return None
    return _subject_name(subject, strict=closes_sentence)


def _speaker_before_quote(head: str) -> str | None:
    """'Yates said: "' → 'Yates'; only when the verb ends the text before the quote."""
    sentences = split_sentences(head)
    if not sentences:
        return None
    match = re.search(
        r"^(?P<subject>.{1,120}?)\s+(?:"
        + _SPEECH_VERB.pattern
        + r")(?:\s+(?:CNN|reporters|journalists|Reuters|the AP|AP|AFP))?\s*[:,]?$",
        sentences[-1],
    )
    if match is None:
        return None
    return _subject_name(match.group("subject").strip(" ,"), strict=False)


def _first_clause(text: str) -> str:
    """Text up to the end of its sentence or the next quotation mark."""
    quote = _QUOTE_MARK.search(text)
    if quote:
        text = text[: quote.start()]
    sentences = split_sentences(text)
    return sentences[0] if sentences else ""


def _subject_name(subject: str, *, strict: bool) -> str | None:
    """The name in a subject: the part nearest the verb that is not 'a/an/the …'.

    `strict` wants the part to be a name and nothing else (ranks allowed).
    """
    words = subject.split()
    while words and words[-1].lower() in _FILLERS:
        words.pop()
    subject = " ".join(words)
    if subject.lower() in _PRONOUNS or len(subject) > _MAX_SUBJECT_CHARS:
        return None
    for segment in reversed([part.strip() for part in subject.split(",") if part.strip()]):
        if segment.split()[0].lower() in _DESCRIPTION_START or _PARTY_TAG.match(segment):
            continue  # an appositive: "Bashir al-Kheir, an activist,"
        of_place = _OF_PLACE.match(segment)
        if of_place:  # a full name before "of PLACE" is the person, the place is not
            person = _trailing_name(of_place.group("person"), strict=True)
            if person is not None and len(person.split()) >= 2:
                return person
        return _trailing_name(segment, strict=strict)
    return None


def _trailing_name(segment: str, *, strict: bool) -> str | None:
    """'staff brigadier Faiz Amr' → itself; 'director David Yates' → 'David Yates'."""
    words = segment.split()
    start = len(words)
    while start > 0 and _is_name_word(words[start - 1]):
        start -= 1
    name_words = _without_acronyms(words[start:])
    prefix = words[:start]
    ranks: list[str] = []
    while prefix and prefix[-1] in _RANKS:
        ranks.insert(0, prefix.pop())
    if len(prefix) > (0 if strict else 3) or not _is_name(name_words):
        return None
    if prefix and prefix[-1] in ("of", "for"):
        # "Secretary of State Hillary Clinton": the run starts inside an office.
        name_words = _last_name_words(name_words)
    return " ".join(ranks + name_words)


def _last_name_words(words: list[str]) -> list[str]:
    """The final given name and surname, keeping particles and initials between them."""
    start = max(0, len(words) - 2)
    while start > 0 and (words[start].lower() in _PARTICLES or _is_initial(words[start])):
        start -= 1
    return words[start:]


def _is_initial(word: str) -> bool:
    return len(word) == 2 and word[0].isupper() and word[1] == "."


def _without_acronyms(words: list[str]) -> list[str]:
    """'UCLA Chancellor Gene Block' → 'Chancellor Gene Block'."""
    start = 0
    while start < len(words) and len(words[start]) > 1 and words[start].isupper():
        start += 1
    return words[start:]


def _leading_name(text: str) -> str | None:
    """'Col. Abdul-Jabbar Mohammed Aqidi, the commander' → 'Col. Abdul-Jabbar Mohammed Aqidi'."""
    words: list[str] = []
    for raw in text.split():
        word = raw.rstrip(",;:")
        if not _is_name_word(word):
            break
        words.append(word)
        if word != raw:
            break
    if words and words[-1].endswith(".") and words[-1].lower() not in _NAME_TITLES:
        words[-1] = words[-1][:-1]  # the sentence's full stop
    words = _without_acronyms(words)
    return " ".join(words) if _is_name(words) else None


def _is_name_word(word: str) -> bool:
    if not word or word.endswith(("'s", "’s")):
        return False
    lowered = word.lower()
    if lowered in _PARTICLES or lowered in _NAME_TITLES:
        return True
    particle, _, rest = word.partition("-")
    if particle.lower() in _PARTICLES and rest[:1].isupper():
        return True  # "al-Kheir"
    core = word.rstrip(".")
    return core[:1].isupper() and core.replace("-", "").replace("'", "").replace("’", "").isalpha()


@lru_cache(maxsize=1)
def _country_names() -> frozenset[str]:
    """Names of countries and regions ("China", "South Korea", "Europe"), casefolded.

    From CLDR through Babel, so the list is maintained for us; imported on first use
    because most passages quote no one.  A whole name only: "Jordan said" names no
    person, "Michael Jordan said" does.
    """
    from babel import Locale

    return frozenset(name.casefold() for name in Locale("en").territories.values())


def _is_name(words: list[str]) -> bool:
    """A run of name words that reads as a person: capitalised, not a known non-person."""
    if not words or len(words) > 6:
        return False
    last = words[-1].lower()
    if last in _NAME_TITLES or last in _PARTICLES:
        return False  # a name ends with the person's own name, not "Col." or "al"
    if any(word.rstrip(".").lower() in _NOT_PEOPLE for word in words):
        return False
    if " ".join(words).casefold() in _country_names():
        return False  # '"We will respond," China said.': a country speaks through people
    return any(word[:1].isupper() and word.lower() not in _NAME_TITLES for word in words)


# -- "What did X say?" -------------------------------------------------------------------

_ASKED = re.compile(
    r"^\s*(?:and\s+)?what\s+(?:did|does|do|has|have|had|was|is)\s+(?P<name>.{2,80}?)\s+"
    r"(?:say|said|saying|tell|told|telling|add|added|write|wrote|announce|announced|"
    r"claim|claimed|think|thought|mean|meant)\b",
    re.IGNORECASE,
)


_THEN_PRONOUN_SAID = re.compile(
    r"[,.!?…][\"”]\s+(?:he|she)\s+(?:said|says|told|added|continued|explained|insisted)\b"
)


def asked_speaker(question: str) -> str | None:
    """'What did Emily Chibaro say about the surf?' → 'Emily Chibaro': who a question
    asks the words of, when it names them (capitalised words; 'he' or 'the police' are
    not names)."""
    found = _ASKED.match(question)
    if found is None:
        return None
    words = found.group("name").strip(" ,?").split()
    if not words or words[0].lower() in _PRONOUNS or words[0].lower() in _DESCRIPTION_START:
        return None
    if not all(_is_name_word(word) for word in words):
        return None
    return " ".join(words)


def lets_speak(name: str, text: str, speaker: str | None) -> bool:
    """Whether `name` speaks in a passage: it is the passage's speaker, or a word of the
    name stands in an attribution ("Chibaro of Nantucket told", "said Chibaro",
    "according to Chibaro")."""
    keys = [
        word.rstrip(".").casefold()
        for word in name.split()
        if word.lower() not in _NAME_TITLES
        and word.lower() not in _PARTICLES
        and len(word.rstrip(".")) >= 3
    ]
    if not keys:
        return False
    if speaker and not {word.casefold() for word in speaker.split()}.isdisjoint(keys):
        return True
    for key in keys:
        for mention in re.finditer(rf"\b{re.escape(key)}\b", text, re.IGNORECASE):
            after = _first_clause(text[mention.end() : mention.end() + 120])
            verb = _SPEECH_VERB.search(after)
            if verb is not None and verb.start() <= _MAX_SUBJECT_CHARS:
                return True
            # "Assad voiced support for Iran. \"I find it strange…,\" he said."
            if _THEN_PRONOUN_SAID.search(text, mention.end(), mention.end() + 400):
                return True
            before = text[max(0, mention.start() - 40) : mention.start()]
            if re.search(
                r"(?:\bsaid|\bsays|\btold|\baccording to)\s+(?:[A-Z][\w.'-]*\s+)*$", before
            ):
                return True
    return False


def only_where_speaks(
    question: str, ranked: Sequence[T], passage_of: Callable[[T], Passage]
) -> list[T] | None:
    """For "What did X say?", X a person: the ranked candidates where X speaks (none: not
    found).  None, for no filter, when the question asks no one's words, or X may be no
    person ("What did China say?": speakers are people, not places or organisations)."""
    speaks = speaks_in(question, ranked, passage_of)
    return None if speaks is None else [item for item in ranked if speaks(item)]


def speaks_in(
    question: str, ranked: Sequence[T], passage_of: Callable[[T], Passage]
) -> Callable[[T], bool] | None:
    """`only_where_speaks`' test of one candidate, or None for no filter; what the test
    says of a candidate does not depend on the others, so a caller that needs only the
    first few candidates kept can stop there."""
    asked = asked_speaker(question)
    if asked is None:
        return None
    if not _is_person(asked, [passage_of(item) for item in ranked]):
        return None

    def speaks(item: T) -> bool:
        passage = passage_of(item)
        return lets_speak(asked, passage.text, passage.speaker)

    return speaks


_PERSON_TITLE = (
    r"(?:President|Mr|Mrs|Ms|Dr|Gen|Sen|Gov|Rep|King|Queen|Pope|Prime Minister|Chancellor|"
    r"Judge|Justice|Secretary|Minister)\.?\s+(?:[A-Z][\w'-]*\s+)?"
)


def _is_person(name: str, passages: Sequence[Passage]) -> bool:
    """A full name, a titled one ("Sen. McCain"), or one word that the passages show to
    be a person's: a quotation's speaker has it, or a title or "al-" stands before it."""
    words = [w for w in name.split() if w.lower() not in _NAME_TITLES and w not in _RANKS]
    if len(words) >= 2 or len(words) < len(name.split()):
        return True
    if not words:
        return False
    word = words[0].casefold()
    heard = {
        part
        for passage in passages
        if passage.speaker
        for part in re.split(r"[\s-]+", passage.speaker.casefold())
    }
    if word in heard:
        return True
    titled = re.compile(
        rf"\b(?:{_PERSON_TITLE}|(?:al|el|bin|ibn|abu)-){re.escape(words[0])}\b", re.IGNORECASE
    )
    return any(titled.search(passage.text) for passage in passages)


def attributed(question: str, hits: list[Hit]) -> list[Hit]:
    """The hits of "What did X say?" quoted as X's words: a passage whose first quotation
    is someone else's (X speaks later in it) must not say "Quoted: someone else"."""
    asked = asked_speaker(question)
    if asked is None or not _is_person(asked, [hit.passage for hit in hits]):
        return hits
    return [
        replace(hit, passage=replace(hit.passage, speaker=asked))
        if not (hit.speaker and lets_speak(asked, "", hit.speaker))
        and lets_speak(asked, hit.passage.text, None)
        else hit
        for hit in hits
    ]
