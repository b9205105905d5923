"""Reports → passages: the caption, each paragraph, or windows of a long paragraph.

Also sentence splitting (every sentence is an exact substring of its text, so
quotes stay verbatim) and the speaker of a quotation.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from retrieval.models import MAX_QUOTE_CHARS, Passage, Report

MAX_PASSAGE_CHARS = 600


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# A run of terminators, then any closing quotes or brackets.
_TERMINATOR = re.compile(r"(?:[.!?]+|…)[\"”’')\]]*")
_OPENERS = "\"“‘'([«"

# Titles written before a name: a period after them never ends a sentence.
_TITLES = _word_set(
    "mr mrs ms messrs dr prof col gen lt sgt capt maj cpl pvt adm cmdr brig gov sen rep "
    "rev hon pres supt det insp st mt ft fr jr sr vs v e.g i.e cf approx dept"
)
_MONTHS = _word_set("jan feb mar apr jun jul aug sep sept oct nov dec")
# Company suffixes: they end a sentence only when a usual sentence opener follows.
_COMPANY = _word_set("inc corp ltd co bros plc llc")
# Words that usually open a sentence; after "U.S." or "a.m." they mean a new sentence.
_SENTENCE_OPENERS = _word_set(
    """the a an he she it they we i you his her its their our this that these those there
    but and or so yet if when while after before as at in on for from by with since then
    however meanwhile still now some many most all both no not one two three what who why
    how where which officials police"""
)
_INITIALS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each an exact substring, in order."""
    return [text[start:end] for start, end in _sentence_spans(text)]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _TERMINATOR.finditer(text):
        end = match.end()
        if _ends_sentence(text, match.start(), end):
            spans.append(_strip_span(text, start, end))
            start = end
    spans.append(_strip_span(text, start, len(text)))
    return [(s, e) for s, e in spans if s < e]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _ends_sentence(text: str, term_start: int, term_end: int) -> bool:
    """Does the terminator at text[term_start:term_end] end a sentence?"""
    if term_end >= len(text) or not text[term_end].isspace():
        return False  # "1,000.5", "U.S.-led", "J.K.Rowling", or the very end
    following = term_end
    while following < len(text) and text[following].isspace():
        following += 1
    while following < len(text) and text[following] in _OPENERS:
        following += 1
    if following >= len(text):
        return False
    first = text[following]
    if not (first.isupper() or first.isdigit()):
        return False  # '"Why?" he asked' or a lowercase continuation
    if text[term_start:term_end] != ".":
        return True  # "!", "?", "...", '."' all end a sentence before a capital
    word = _word_before(text, term_start)
    next_word = _word_after(text, following)
    lowered = word.lower()
    if lowered in _TITLES:
        return False
    if lowered in _MONTHS or (word == "No" and first.isdigit()):
        return not first.isdigit()  # "Jan. 5", "No. 10"
    if lowered in _COMPANY or _INITIALS.fullmatch(word):
        # "U.S. Army", "J.K. Rowling", "10 a.m. Monday" go on; "the U.S. The ..." ends.
        return next_word.lower() in _SENTENCE_OPENERS
    return True


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in _OPENERS:
        start -= 1
    return text[start:end]


def _word_after(text: str, start: int) -> str:
    end = start
    while end < len(text) and (text[end].isalnum() or text[end] in "'’-"):
        end += 1
    return text[start:end]


def make_passages(report: Report) -> list[Passage]:
    """The caption (position 0, when present), then each paragraph or its windows."""
    blocks: list[tuple[str, bool]] = []
    if report.caption:
        blocks.append((report.caption, True))
    blocks.extend((paragraph, False) for paragraph in report.paragraphs)
    passages: list[Passage] = []
    for block, is_caption in blocks:
        for start, end, sentences in _windows(block):
            text = block[start:end]
            passages.append(
                Passage(
                    report_id=report.id,
                    position=len(passages),
                    text=text,
                    sentences=sentences,
                    speaker=find_speaker(text),
                    is_caption=is_caption,
                )
            )
    return passages


def widen(passage: Passage, report: Report, limit: int = MAX_QUOTE_CHARS) -> Passage:
    """The passage grown by whole neighbouring sentences of its paragraph while it
    fits in `limit` characters: following sentences first, then preceding ones.

    Windows are cut at MAX_PASSAGE_CHARS for indexing, but a quote may be up to
    MAX_QUOTE_CHARS, and the sentence after the one that matched is where the
    answer often is (docs/quality.md, "Widened quotes").  The result is still an
    exact span of the report; a caption, or a passage whose paragraph cannot be
    found, comes back unchanged.
    """
    if passage.is_caption:
        return passage
    for paragraph in report.paragraphs:
        start = paragraph.find(passage.text)
        if start >= 0:
            break
    else:
        return passage
    end = start + len(passage.text)
    spans = _sentence_spans(paragraph)
    for first, last in spans:
        if first >= end:
            if last - start > limit:
                break
            end = last
    for first, last in reversed(spans):
        if last <= start:
            if end - first > limit:
                break
            start = first
    text = paragraph[start:end]
    if text == passage.text:
        return passage
    sentences = tuple(paragraph[a:b] for a, b in spans if a >= start and b <= end)
    return replace(
        passage, text=text, sentences=sentences, speaker=passage.speaker or find_speaker(text)
    )


def _windows(paragraph: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, sentences) of each passage cut from one paragraph.

    Windows hold whole sentences and overlap so that every two adjacent
    sentences share at least one window whenever they fit in one together.
    """
    units = _units(paragraph)
    if not units:
        return []
    if units[-1][1] - units[0][0] <= MAX_PASSAGE_CHARS:
        return [(units[0][0], units[-1][1], tuple(paragraph[s:e] for s, e in units))]
    ranges: list[tuple[int, int]] = []
    first = 0
    while True:
        last = first
        while last + 1 < len(units) and units[last + 1][1] - units[first][0] <= MAX_PASSAGE_CHARS:
            last += 1
        ranges.append((first, last))
        if last == len(units) - 1:
            break
        # Next window starts after the middle of this one, yet early enough to hold
        # the pair (last, last + 1); if even `last` alone cannot, no overlap is possible.
        following = max(first + 1, (first + last) // 2 + 1)
        while following <= last and units[last + 1][1] - units[following][0] > MAX_PASSAGE_CHARS:
            following += 1
        first = following
    return [
        (units[a][0], units[b][1], tuple(paragraph[s:e] for s, e in units[a : b + 1]))
        for a, b in ranges
    ]


def _units(paragraph: str) -> list[tuple[int, int]]:
    """Sentence spans, with any sentence too long for a passage cut into pieces."""
    units: list[tuple[int, int]] = []
    for start, end in _sentence_spans(paragraph):
        if end - start <= MAX_PASSAGE_CHARS:
            units.append((start, end))
        else:
            units.extend(_cut_at_words(paragraph, start, end))
    return units


def _cut_at_words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut text[start:end] at spaces into pieces of at most MAX_PASSAGE_CHARS, of even size."""
    pieces_needed = math.ceil((end - start) / MAX_PASSAGE_CHARS)
    target = math.ceil((end - start) / pieces_needed)
    pieces: list[tuple[int, int]] = []
    position = start
    while end - position > MAX_PASSAGE_CHARS:
        cut = _last_space(text, position, position + target)
        if cut is None:
            cut = _last_space(text, position, position + MAX_PASSAGE_CHARS)
        if cut is None:  # one enormous "word" (a URL, a table row): cut it anyway
            cut = position + MAX_PASSAGE_CHARS
        pieces.append(_strip_span(text, position, cut))
        position = _strip_span(text, cut, end)[0]
    pieces.append(_strip_span(text, position, end))
    return [(s, e) for s, e in pieces if s < e]


def _last_space(text: str, start: int, limit: int) -> int | None:
    """Index of the last whitespace in text(start, limit], or None."""
    for index in range(min(limit, len(text) - 1), start, -1):
        if text[index].isspace():
            return index
    return None


# --- Speakers -------------------------------------------------------------------------
#
# Conservative on purpose: a wrong name under a quote is worse than none, so we
# only name someone when a quotation sits next to a recognisable attribution.

_SPEECH_VERB = re.compile(
    r"\b(?:(?:was|is|were|has been) quoted as saying|said|says|told|tells|added|adds|"
    r"explained|asked|wrote|writes|insisted|noted|recalled|warned|replied|stated|"
    r"declared|continued)\b"
)
_PRONOUNS = _word_set("he she they we i it you who one someone others some many")
# Words between a subject and its verb: "Smith later said", "Smith has told".
_FILLERS = _word_set("has had have was is also later then once again earlier previously")
_DESCRIPTION_START = frozenset(("a", "an", "the"))
_PARTICLES = _word_set(
    "al el bin ibn bint abu abd de da di del della der den du la le van von ten ter dos das"
)
_NAME_TITLES = _word_set(
    "mr. mrs. ms. dr. prof. col. gen. lt. sgt. capt. maj. cpl. pvt. adm. cmdr. brig. gov. "
    "sen. rep. rev. st. jr. sr."
)
# Lower-case ranks kept in front of a name: "staff brigadier Faiz Amr".
_RANKS = _word_set(
    "staff brigadier general colonel major captain lieutenant sergeant corporal commander "
    "admiral marshal field"
)
# Capitalised words that are not people.
_NOT_PEOPLE = _word_set(
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


def _is_name(words: list[str]) -> bool:
    """A run of name words that reads as a person: capitalised, not a known non-person."""
    if not words or len(words) > 6:
        return False
    last = words[-1].lower()
    if last in _NAME_TITLES or last in _PARTICLES:
        return False  # a name ends with the person's own name, not "Col." or "al"
    if any(word.rstrip(".").lower() in _NOT_PEOPLE for word in words):
        return False
    return any(word[:1].isupper() and word.lower() not in _NAME_TITLES for word in words)
