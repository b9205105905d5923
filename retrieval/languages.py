"""Which language a text is in, and how each language is analyzed.

Detection is py3langid's naive Bayes model over byte n-grams (97 languages, numpy
only).  Its weights ship inside the py3langid wheel and are treated as data: the
version is pinned and the file's sha256 checked on every load, or
`AnalyzerSettings.language_model` (the `LANGUAGE_MODEL` setting) names a copy of
one's own in the same format.  Nothing is downloaded.

A model that is missing or not the pinned file costs detection, never the load:
one warning line, and every report without a language in its metadata is taken to
be in the default language.
"""

from __future__ import annotations

import logging
import math
import threading
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, util
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retrieval import language_arrays
from retrieval.cache_stamps import hashed
from retrieval.language_walk import Model, log_scores

log = logging.getLogger(__name__)

MODEL_PACKAGE = "py3langid"
MODEL_PACKAGE_VERSION = "0.4.0"
MODEL_FILE = "data/model.npz.xz"
PINNED_SHA256 = "f4f4a2c3465ca1f081541037f9cac23021d68151c2f709c55ae5eedfca522963"

# ISO 639-1 code → Snowball stemmer (PyStemmer's names).  A language not here is
# analyzed without stemming.
SNOWBALL: Mapping[str, str] = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "eo": "esperanto",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "no": "norwegian",
    "fa": "persian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
# Written without spaces between words: searched by character bigrams
# (analyzer.py), with no stemmer and no stopwords.
BIGRAM_LANGUAGES = frozenset({"zh", "ja", "ko", "th", "lo", "km", "my"})
# The detector's labels that are one analyzer's language here.
_ALIASES: Mapping[str, str] = {
    "ary": "ar",
    "arz": "ar",
    "wuu": "zh",
    "yue": "zh",
    "nb": "no",
    "nn": "no",
    "uzs": "uz",
}
# The detector's label for text with no language in it (numbers, symbols).
_NO_LANGUAGE = "zxx"

# How much of a report the detector reads: its title and first paragraphs.  News
# says its language at once, and the walk over the bytes costs ~1 µs a byte.
REPORT_SAMPLE_CHARS = 600
# A report is taken to be in the detected language only when the detector is this
# sure; a short text (a headline, a channel post) it is unsure of is in the default one.
REPORT_CONFIDENT = 0.5
# A question is taken to be in a language the reports lack only when the detector is
# this sure (no NewsQA dev question in English scores another language this high).
CONFIDENT = 0.9
# A language of the reports is searched for a question when it has at least this
# share of the probability the reports' languages have between them.
PLAUSIBLE = 0.1


class LanguageModelError(Exception):
    """The detector's model cannot be used; the message says how to fix it."""


def normalize_code(value: object) -> str | None:
    """A language tag from metadata ("de", "de-AT", "pt_BR", "DE") → its ISO 639 code,
    None when it is not one."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].casefold()
    if not (2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha()):
        return None
    return _ALIASES.get(primary, primary)


def default_model_path() -> Path:
    """The pinned model inside the installed py3langid; raises LanguageModelError."""
    fix = f"pip install '{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}'"
    try:
        version = metadata.version(MODEL_PACKAGE)
    except metadata.PackageNotFoundError:
        raise LanguageModelError(
            f"{MODEL_PACKAGE} is not installed: {fix}, or set LANGUAGE_MODEL to a model file"
        ) from None
    if version != MODEL_PACKAGE_VERSION:
        raise LanguageModelError(
            f"{MODEL_PACKAGE} {version} is installed but {MODEL_PACKAGE_VERSION} is pinned: {fix}"
        )
    spec = util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise LanguageModelError(f"{MODEL_PACKAGE} is installed but cannot be found: {fix}")
    path = Path(spec.origin).parent / MODEL_FILE
    digest = file_sha256(path)
    if digest != PINNED_SHA256:
        raise LanguageModelError(
            f"{path} is not the pinned model (sha256 {digest}, expected {PINNED_SHA256}): "
            f"pip install --force-reinstall '{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}', "
            "or set LANGUAGE_MODEL to a model file of your own"
        )
    return path


def file_sha256(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashed(handle)[1]
    except OSError as error:
        raise LanguageModelError(f"cannot read the language model {path}: {error}") from error


@dataclass(frozen=True, slots=True)
class QuestionLanguages:
    """Where a question is looked for: the reports' languages to search, most likely
    first, and the language it is surely in when the reports have none in it."""

    search: tuple[str, ...]
    missing: str | None = None


class Detector:
    """py3langid's model; thread-safe (it is only read after loading).  With
    `arrays_dir`, its arrays are kept there uncompressed and mapped on later loads
    (retrieval.language_arrays)."""

    def __init__(self, path: Path, arrays_dir: Path | None = None) -> None:
        self.sha256 = file_sha256(path)
        folder = None if arrays_dir is None else language_arrays.folder_for(arrays_dir, self.sha256)
        arrays = None if folder is None else language_arrays.load(folder)
        if arrays is None:
            try:
                arrays = language_arrays.from_model(path)
            except Exception as error:  # lzma, numpy and zipfile each raise their own kinds
                raise LanguageModelError(
                    f"cannot load the language model {path} ({error}): point LANGUAGE_MODEL at "
                    "a py3langid model file (model.npz.xz), or unset it for the bundled one"
                ) from error
            if folder is not None:
                language_arrays.save(folder, arrays)
        # py3langid's arrays, as numpy ones for the walk (language_walk).
        # Of the types check() made sure of: no copies.
        self._model = Model(
            arrays["nextmove"],  # type: ignore[arg-type]
            np.asarray(arrays["rowbase"], dtype=np.int64),
            np.asarray(arrays["output"], dtype=np.int32),
            np.asarray(arrays["weights"], dtype=np.float32),
            np.asarray(arrays["priors"], dtype=np.float32),
        )
        # The detector's classes merged by code (its aliases: "arz" is Arabic here).
        codes = [_ALIASES.get(label, label) for label in arrays["classes"].tolist()]
        self._codes = list(dict.fromkeys(codes))
        self._code_of = np.array([self._codes.index(code) for code in codes], dtype=np.intp)

    def probabilities(self, text: str) -> dict[str, float]:
        """Each language's probability for `text`, the detector's aliases merged: what
        py3langid's `rank` gives (its naive Bayes, normalized as it does), faster."""
        return dict(zip(self._codes, self._merged(text).tolist(), strict=True))

    def detect(self, text: str, sure: float = REPORT_CONFIDENT) -> str | None:
        """The most likely language of `text`; None when it holds none, or when the
        detector gives it less than `sure`."""
        merged = self._merged(text, wait=True)  # reports: worth the compiled walk
        best = int(merged.argmax())
        code = self._codes[best]
        return None if code == _NO_LANGUAGE or merged[best] < sure else code

    def _merged(self, text: str, *, wait: bool = False) -> npt.NDArray[np.float64]:
        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf-8", errors="surrogatepass")
        scores, found = log_scores(self._model, np.frombuffer(data, np.uint8), wait=wait)
        if found == 0:  # no feature at all: every language alike, as py3langid has it
            scores = np.zeros(len(self._code_of), dtype=np.float32)
        # py3langid's softmax, at a temperature of the square root of the length.
        scores *= 1.0 / math.sqrt(len(data) or 1)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        # With weights, bincount sums floats (numpy's stubs say ints).
        merged = np.bincount(self._code_of, weights=scores, minlength=len(self._codes))
        return merged.astype(np.float64, copy=False)

    def question_languages(self, question: str, present: Collection[str]) -> QuestionLanguages:
        """The languages among `present` (the reports') to look for `question` in.

        A question surely in a language the reports lack is not looked for at all: an
        answer in another language would not be one (retrieval has no cross-language
        stage).  A short or mixed question ("Merkel?") is looked for in each plausible
        language, the likeliest first."""
        probabilities = self.probabilities(question)
        best = max(probabilities, key=probabilities.__getitem__)
        if best not in present and best != _NO_LANGUAGE and probabilities[best] >= CONFIDENT:
            return QuestionLanguages((), missing=best)
        shares = {code: probabilities.get(code, 0.0) for code in present}
        total = sum(shares.values())
        ranked = sorted(shares, key=lambda code: (-shares[code], code))
        if total <= 0.0:
            return QuestionLanguages(tuple(ranked))
        floor = PLAUSIBLE * total
        return QuestionLanguages(
            tuple(code for i, code in enumerate(ranked) if i == 0 or shares[code] >= floor)
        )


_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _detector(model: str | None) -> Detector | None:
    try:
        path = Path(model) if model else default_model_path()
        return Detector(path, _ARRAYS_DIRS.get(model))
    except LanguageModelError as error:
        log.warning("language detection is off: %s", error)
        return None


def detector(model: str | None = None) -> Detector | None:
    """The detector of `model` (a path; None: the pinned model), loaded once (~1 s);
    None, after one warning line, when it cannot be used."""
    with _LOCK:  # two threads asking at start-up load it once
        return _detector(model)


@lru_cache(maxsize=4)
def model_identity(model: str | None) -> str:
    """What picks report languages, for the index cache's key: the model file's sha256
    ("none" when there is no usable model; then nothing is detected)."""
    try:
        if model:
            return file_sha256(Path(model))
        default_model_path()
    except LanguageModelError:
        return "none"
    return PINNED_SHA256


def warm_up(model: str | None = None, arrays_dir: Path | None = None) -> None:
    """Load the detector in the background, so that the first question after a start
    from the index cache, which needs it, does not wait for all of it, and start loading
    its compiled walk (`language_walk`: the first questions walk in Python meanwhile);
    with `arrays_dir` (the index cache's folder), the model's arrays are kept there
    uncompressed, for the next start to map.

    Its own lock, not the one the load holds: a second engine built meanwhile (the
    library's copy with the semantic stage) must not wait for the load either.  The
    thread is not a daemon, so the interpreter joins it at exit instead of tearing
    numpy down under it; the load is bounded (a few seconds when the arrays are not
    kept yet), well within a container's stop timeout.
    """
    with _WARMING:
        if arrays_dir is not None:
            _ARRAYS_DIRS.setdefault(model, arrays_dir)
        if model in _WARMED:
            return
        _WARMED.add(model)
    threading.Thread(target=_load_and_walk, args=(model,), name="language-model").start()


def _load_and_walk(model: str | None) -> None:
    found = detector(model)
    try:
        if found is not None:
            found.probabilities("warm")  # and starts loading the compiled walk (language_walk)
    except Exception as error:  # the first question meets it again, and says so
        log.warning("could not warm up language detection: %r", error)


_WARMING = threading.Lock()
_WARMED: set[str | None] = set()
_ARRAYS_DIRS: dict[str | None, Path] = {}  # where each model's arrays are kept, if anywhere
