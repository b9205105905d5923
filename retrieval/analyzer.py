"""Text → index terms, the same way for documents and for questions.

Pipeline: Unicode NFKC, casefold, word tokens (letters and digits), numbers
kept whole ("40,000" → "40000"), possessive "'s" dropped, hyphenated words
split into parts, English stopwords removed, Snowball stems (PyStemmer).

`spans()` reports where each term sits in the ORIGINAL text.  NFKC and
casefold can change lengths ("ﬁ" → "fi", "ß" → "ss"), so we normalise the
text piece by piece and remember, for every normalised character, which
original characters it came from.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata, resources

import Stemmer

from retrieval import languages
from retrieval.scripts import BIGRAM_RUN, MARKS, piece_spans, pieces

# Bump when tokenisation changes in a way that changes the terms of a text:
# it is part of the fingerprint that keys the index cache.
ANALYZER_VERSION = 2


# Numbers first: digits with thousands separators and decimal parts.  The
# look-ahead keeps "18th" or "1990's" a word rather than a number plus a stub.
# Words may carry combining diacritics that NFKC leaves separate ("İ" casefolds
# to "i" + U+0307).
_LETTERS = rf"[^\W_](?:[^\W_]|[{MARKS}])*"
_TOKEN = re.compile(
    r"(?P<num>\d+(?:,\d{3})*(?:\.\d+)*)(?![^\W_]|['’][^\W_])"
    rf"|(?P<word>{_LETTERS}(?:['’]{_LETTERS})*)"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# The same characters as str.isspace().
_SPACES = re.compile(r"\s*")
# Faster forms of _TOKEN for tokens(), finding the same matches.  Without groups: a
# match is a number exactly when it has a number's shape (_NUMBER_MATCH), since where a
# word would be all digits the number branch matches first.  For lowercased ASCII text:
# [^\W_] is [a-z0-9] there, and no combining mark or ’ occurs.
_TOKEN_MATCH = re.compile(
    r"\d+(?:,\d{3})*(?:\.\d+)*(?![^\W_]|['’][^\W_])" rf"|{_LETTERS}(?:['’]{_LETTERS})*"
)
_ASCII_TOKEN_MATCH = re.compile(
    r"[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)*(?![a-z0-9]|'[a-z0-9])|[a-z0-9]+(?:'[a-z0-9]+)*"
)
_NUMBER_MATCH = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)*")

_STOPWORD_FILES = {"english": "stopwords_en.txt"}
# Snowball name → ISO code, for the default language.
_CODES = {name: code for code, name in languages.SNOWBALL.items()}
# Distinct matches an analyzer remembers the term of before it starts again (~50 MB).
_MAX_MEMO = 500_000


@dataclass(frozen=True, slots=True)
class AnalyzerSettings:
    """`language` (a Snowball name) is the default one: reports and questions in it get
    plain terms; every other language's terms carry its code ("de:flucht"), so a
    question only ever matches reports in its own language.  `language_model` is a
    py3langid model file of one's own (None: the pinned one, retrieval.languages)."""

    language: str = "english"
    remove_stopwords: bool = True
    stem: bool = True
    language_model: str | None = None


@lru_cache(maxsize=8)
def _load_stopwords(language: str) -> frozenset[str]:
    file_name = _STOPWORD_FILES.get(language)
    if file_name is None:
        raise ValueError(
            f"no stopword list for language {language!r}: set remove_stopwords=False "
            f"or add retrieval/data/stopwords_<code>.txt and register it in analyzer.py"
        )
    text = resources.files("retrieval").joinpath("data", file_name).read_text(encoding="utf-8")
    words = (line.strip() for line in text.splitlines())
    return frozenset(word for word in words if word and not word.startswith("#"))


@lru_cache(maxsize=64)
def _package_stopwords(code: str) -> frozenset[str]:
    """The stop-words package's list for a language (empty when it has none), folded
    the way the analyzer folds words."""
    import stop_words

    try:
        # Norwegian is "no" to the detector and Snowball, Bokmål's "nb" to stop-words.
        words = stop_words.get_stop_words("nb" if code == "no" else code)
    except stop_words.StopWordError:
        return frozenset()
    return frozenset(_nfkc_casefold(word).replace("’", "'") for word in words)


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _make_stemmer(language: str) -> Stemmer.Stemmer:
    if language not in Stemmer.algorithms():
        known = ", ".join(sorted(Stemmer.algorithms()))
        raise ValueError(f"no Snowball stemmer for language {language!r}; known: {known}")
    return Stemmer.Stemmer(language)


def space_separated(text: str, candidates: Iterable[str]) -> list[str] | None:
    """The candidates that make up `text`, in order, with whitespace between them;
    None when they do not make it up.

    A candidate is taken when it comes next in `text`, after at least one whitespace
    character (any amount before the first); one that does not come next is passed
    over (the overlap of two windows), and `text` must hold nothing else but
    whitespace.  Then `tokens(text)` is the taken candidates' tokens one after
    another, so a caller that analyzed them need not analyze `text`: no term holds
    whitespace, and NFKC and casefolding never join whitespace with the character
    next to it (tests/retrieval/test_corpus_build.py checks each whitespace character).
    """
    taken: list[str] = []
    position = _after_spaces(text, 0)
    at_boundary = True
    for candidate in candidates:
        if at_boundary and candidate and text.startswith(candidate, position):
            taken.append(candidate)
            end = position + len(candidate)
            position = _after_spaces(text, end)
            # Two pieces with nothing between them could hold one word together.
            at_boundary = position > end
    return taken if position == len(text) else None


def _after_spaces(text: str, position: int) -> int:
    match = _SPACES.match(text, position)
    return match.end() if match else position


def _nfkc_casefold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _composable_chunks(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Split text[start:end] into the smallest pieces that normalise independently.

    A character opens a new piece unless it is a combining mark or it
    composes with what came before (e.g. Hangul jamo), so normalising piece
    by piece gives the same result as normalising the whole.
    """
    piece_start = start
    for i in range(start + 1, end):
        char = text[i]
        if unicodedata.combining(char) == 0:
            before = text[piece_start:i]
            if _nfkc_casefold(before + char) == _nfkc_casefold(before) + _nfkc_casefold(char):
                yield piece_start, i
                piece_start = i
    yield piece_start, end


def _normalize(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """NFKC + casefold, with per-character start/end offsets into `text`.

    Offsets are None when the mapping is the identity (ASCII text).
    """
    if text.isascii():
        return text.lower(), None, None
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for run in _NON_ASCII_RUN.finditer(text):
        # The ASCII character before a run may take a combining mark ("e" + U+0301).
        lead = max(pos, run.start() - 1)
        parts.append(text[pos:lead].lower())
        starts.extend(range(pos, lead))
        ends.extend(range(pos + 1, lead + 1))
        for piece_start, piece_end in _composable_chunks(text, lead, run.end()):
            normalized = _nfkc_casefold(text[piece_start:piece_end])
            parts.append(normalized)
            starts.extend([piece_start] * len(normalized))
            ends.extend([piece_end] * len(normalized))
        pos = run.end()
    parts.append(text[pos:].lower())
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    return "".join(parts), starts, ends


class _Terms(dict[str, str | None]):
    """match -> its term (None: a stopword), each worked out on first use."""

    def __init__(self, term: Callable[[str], str | None]) -> None:
        super().__init__()
        self._term = term

    def __missing__(self, match: str) -> str | None:
        term = self[match] = self._term(match)
        return term


class Analyzer:
    """Turns text into index terms; one instance serves documents and queries.

    An analyzer is its settings' default language; `for_language` gives the one of
    another language (its stemmer and stopwords, its terms prefixed with its code)."""

    def __init__(
        self, settings: AnalyzerSettings = AnalyzerSettings(), language: str | None = None
    ) -> None:
        self.settings = settings
        self.default_language = _CODES.get(settings.language, settings.language)
        self.language = language or self.default_language
        if self.language == self.default_language:
            needs_list = settings.remove_stopwords or settings.language in _STOPWORD_FILES
            self._stopwords = _load_stopwords(settings.language) if needs_list else frozenset()
            self._stemmer = _make_stemmer(settings.language) if settings.stem else None
            self._prefix = ""
        else:
            bigrams = self.language in languages.BIGRAM_LANGUAGES
            self._stopwords = frozenset() if bigrams else _package_stopwords(self.language)
            snowball = languages.SNOWBALL.get(self.language)
            stem = settings.stem and snowball is not None and not bigrams
            self._stemmer = _make_stemmer(snowball) if stem and snowball else None
            self._prefix = f"{self.language}:"
        self._stems: dict[str, str] = {}
        # What each match of the tokenizer becomes; matches recur (Zipf), so index
        # building mostly looks them up here.
        self._matches = _Terms(self._match_term)
        self._family: dict[str, Analyzer] = {self.language: self}

    def for_language(self, language: str | None) -> Analyzer:
        """The analyzer of reports and questions in `language` (None: the default)."""
        code = language or self.default_language
        analyzer = self._family.get(code)
        if analyzer is None:
            analyzer = Analyzer(self.settings, code)
            analyzer._family = self._family
            analyzer = self._family.setdefault(code, analyzer)
        return analyzer

    def detect(self, text: str) -> str | None:
        """The language `text` is in, None when it cannot be told (retrieval.languages)."""
        detector = languages.detector(self.settings.language_model)
        return None if detector is None else detector.detect(text)

    def question_languages(
        self, question: str, present: Collection[str]
    ) -> languages.QuestionLanguages:
        """The languages of `present` to look for `question` in (Detector.question_languages);
        every one of them, in order, when there is no detector."""
        detector = languages.detector(self.settings.language_model)
        if detector is None or not present:
            return languages.QuestionLanguages(tuple(sorted(present)) or (self.default_language,))
        return detector.question_languages(question, present)

    def tokens(self, text: str) -> list[str]:
        """Index terms of a document: stopwords removed (if set), stemmed (if set)."""
        # The hot path of index building: same rules as _terms(), no offsets.
        if text.isascii():
            matches = _ASCII_TOKEN_MATCH.findall(text.lower())
        else:
            normalized = _normalize(text)[0]
            matches = _TOKEN_MATCH.findall(normalized)
            if BIGRAM_RUN.search(normalized):
                matches = [piece for match in matches for piece in pieces(match)]
        terms = self._matches
        if len(terms) > _MAX_MEMO:
            terms.clear()  # a stream of one-off words must not grow it forever
        return [term for term in map(terms.__getitem__, matches) if term is not None]

    def _match_term(self, match: str) -> str | None:
        """The term of one match of the tokenizer, None for a stopword (as in _terms)."""
        prefix = self._prefix
        if _NUMBER_MATCH.fullmatch(match):
            return prefix + match.replace(",", "")
        word = match.replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if _NUMBER.fullmatch(word):
            return prefix + word
        if self.settings.remove_stopwords and word in self._stopwords:
            return None
        return prefix + (self._stemmer.stemWord(word) if self._stemmer is not None else word)

    def query_tokens(self, text: str) -> list[str]:
        """Like tokens(), but a query made only of stopwords keeps them.

        "Who is he?" would otherwise become no query at all; keeping the
        (stemmed) stopwords lets the caller decide, e.g. answer "not found".
        """
        terms = self.tokens(text)
        if terms or not self.settings.remove_stopwords:
            return terms
        return [term for term, _, _ in self._terms(text, keep_stopwords=True)]

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(term, start, end) for each term tokens() yields, offsets into `text` as given."""
        return list(self._terms(text, keep_stopwords=False))

    def is_stopword(self, word: str) -> bool:
        return _nfkc_casefold(word).replace("’", "'") in self._stopwords

    def fingerprint(self) -> str:
        """Short hash of everything that decides which terms a text gets."""
        recipe = {
            "analyzer_version": ANALYZER_VERSION,
            "settings": asdict(self.settings),
            "stopwords": sorted(self._stopwords) if self.settings.remove_stopwords else [],
            "stemmer": f"pystemmer {Stemmer.version()}" if self.settings.stem else None,
            "unicode": unicodedata.unidata_version,
            # Other languages' stopwords, and the detector that picks each report's.
            "stop_words": _package_version("stop-words"),
            "detector": languages.model_identity(self.settings.language_model),
        }
        encoded = json.dumps(recipe, sort_keys=True).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()[:16]

    def _stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            stem = self._stemmer.stemWord(word) if self._stemmer is not None else word
            self._stems[word] = stem
        return stem

    def _terms(self, text: str, *, keep_stopwords: bool) -> Iterator[tuple[str, int, int]]:
        normalized, starts, ends = _normalize(text)
        drop_stopwords = self.settings.remove_stopwords and not keep_stopwords
        prefix = self._prefix
        for match in _TOKEN.finditer(normalized):
            number = match.group("num")
            if number is not None:
                words = [(number, *match.span())]
            else:
                begin = match.start()
                whole = match.group("word")
                words = [(whole[s:e], begin + s, begin + e) for s, e in piece_spans(whole)]
            for word, begin, finish in words:
                if number is not None:
                    term = word.replace(",", "")
                else:
                    word = word.replace("’", "'")
                    if word.endswith("'s"):
                        word = word[:-2]
                        finish -= 2
                    if _NUMBER.fullmatch(word):  # "1990's" → the number 1990
                        term = word
                    elif drop_stopwords and word in self._stopwords:
                        continue
                    else:
                        term = self._stem(word)
                if starts is None or ends is None:
                    yield prefix + term, begin, finish
                else:
                    yield prefix + term, starts[begin], ends[finish - 1]
