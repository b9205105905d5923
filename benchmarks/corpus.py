"""A synthetic report folder for the bot's load and restart benchmarks.

    .venv/bin/python -m benchmarks.corpus /tmp/reports-bot-corpus-100k --passages 100000

Writes, under the output folder:

* `reports/`: what REPORTS_DIR points at, in the formats the loader reads:
  JSON Lines files of a few hundred reports and one Markdown file (YAML
  front matter) per report, in year folders;
* `questions.jsonl`: questions made from the corpus's own words (most of them
  answerable from one passage, some made of words the corpus never uses);
* `corpus.json`: the spec, the counts and the most frequent content words
  (for "heavy" questions that touch most passages).

The text is English-like, so the real loader, passage splitter and analyzer
do their usual work on it: sentences mix real English function words
(stopwords) with content words drawn with Zipf frequencies from a
vocabulary of pronounceable pseudo-words (stemmable suffixes included),
people's names, numbers, and quotations with a speaker ('"...," said Ann
Varga.').  Every paragraph is kept under the passage size, so each one is
exactly one passage and the passage count is exact.

Seeded and deterministic: the same spec gives the same bytes.  A folder that
already holds this spec's corpus is reused, not rewritten (its files keep
their modification times, so a bot's index cache for it stays valid).
Generated data belongs under /tmp, never in the repository.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Bump when the generator's output changes: a reused folder must match it.
GENERATOR_VERSION = 1
MANIFEST = "corpus.json"
QUESTIONS = "questions.jsonl"
REPORTS = "reports"
LAYOUTS = ("mixed", "jsonl", "md")
# Below the passage splitter's 600 characters, so a paragraph is one passage.
MAX_PARAGRAPH_CHARS = 560
# Content words this frequent are in a large share of passages: questions avoid them.
COMMON_RANKS = 300

_FUNCTION_WORDS = (
    ("the", 60), ("of", 30), ("and", 28), ("to", 26), ("a", 22), ("in", 20), ("that", 10),
    ("for", 9), ("on", 8), ("was", 8), ("with", 7), ("is", 7), ("by", 6), ("at", 6),
    ("from", 6), ("as", 5), ("has", 5), ("have", 4), ("were", 4), ("it", 4), ("its", 3),
    ("their", 3), ("after", 3), ("about", 3), ("more", 3), ("been", 3), ("than", 2),
    ("into", 2), ("over", 2), ("who", 2), ("which", 2), ("would", 2), ("also", 2),
    ("had", 2), ("they", 2), ("not", 2), ("this", 2), ("some", 1), ("between", 1),
    ("during", 1), ("against", 1), ("under", 1), ("before", 1), ("while", 1), ("most", 1),
)  # fmt: skip
_ONSETS = (
    "b", "br", "c", "ch", "cl", "cr", "d", "dr", "f", "fl", "fr", "g", "gl", "gr", "h", "j",
    "k", "l", "m", "n", "p", "pl", "pr", "r", "s", "sc", "sh", "sl", "sp", "st", "str", "t",
    "th", "tr", "v", "w", "wh", "",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ee", "ou", "io", "oa")
_CODAS = ("", "", "", "n", "r", "s", "t", "l", "m", "nd", "nt", "st", "ck", "rt", "ng", "x")
_SUFFIXES = ("", "", "", "", "s", "ed", "ing", "er", "ers", "tion", "ment", "ly", "ity", "al")
_FIRST_NAMES = (
    "Ann", "Amir", "Beatriz", "Carlos", "Chen", "Dmitri", "Elena", "Faiz", "Fatima", "Grace",
    "Hassan", "Ines", "Ivan", "Jamal", "Julia", "Kenji", "Lars", "Leila", "Maria", "Mehmet",
    "Nadia", "Nikolai", "Olga", "Omar", "Pablo", "Priya", "Rafael", "Sara", "Tomas", "Yusuf",
)  # fmt: skip
_OUTLET_FORMS = ("The {} Herald", "{} Daily", "{} News", "The {} Courier", "{} Wire")
# Random syllables can spell words nobody wants to read in a demo corpus.
_BLOCKED = ("fuck", "shit", "cunt", "dick", "cock", "slut", "whor", "nig", "fag", "rape", "porn",
            "piss", "bitch", "tit", "anal", "sex", "kill")  # fmt: skip
_SPEECH = ("said", "told reporters", "added", "warned", "explained")


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    passages: int = 100_000
    seed: int = 20261125
    layout: str = "mixed"
    # Content words, drawn with Zipf-Mandelbrot frequencies 1 / (rank + shift) ** zipf:
    # the shift flattens the head, so the commonest content word is about 1.6% of
    # them (like "said" in news) rather than a tenth.
    vocabulary: int = 40_000
    zipf: float = 1.1
    zipf_shift: float = 10.0
    questions: int = 2_000
    # Share of the questions made of words the corpus never uses.
    unanswerable_share: float = 0.1
    reports_per_jsonl: int = 250
    # In the mixed layout, the share of reports written as one Markdown file each.
    markdown_share: float = 0.2

    def __post_init__(self) -> None:
        if self.passages < 1:
            raise ValueError("passages must be at least 1")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout {self.layout!r}: choose one of {', '.join(LAYOUTS)}")


@dataclass(frozen=True, slots=True)
class Corpus:
    """A generated folder: where things are, and what it holds."""

    root: Path
    spec: CorpusSpec
    reports: int
    passages: int
    files: int
    bytes: int
    frequent_words: tuple[str, ...]

    @property
    def reports_dir(self) -> Path:
        return self.root / REPORTS

    @property
    def questions_path(self) -> Path:
        return self.root / QUESTIONS

    def questions(self) -> list[dict[str, Any]]:
        with self.questions_path.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]


# ---- words ---------------------------------------------------------------------------


class _Words:
    """The vocabularies and the samplers of one corpus."""

    def __init__(self, rng: random.Random, spec: CorpusSpec) -> None:
        reserved = {word for word, _ in _FUNCTION_WORDS}
        # The corpus's content words, then words it never uses (for unanswerable questions).
        words = _pseudo_words(rng, spec.vocabulary + 2_000, reserved)
        # Frequent words are short, as in every language (with some spread).
        noise = {word: rng.gauss(0.0, 1.5) for word in words[: spec.vocabulary]}
        self.content = sorted(words[: spec.vocabulary], key=lambda w: len(w) + noise[w])
        self.unseen = words[spec.vocabulary :]
        self._ranks = {word: rank for rank, word in enumerate(self.content)}
        weights = [
            1.0 / (rank + spec.zipf_shift) ** spec.zipf for rank in range(1, spec.vocabulary + 1)
        ]
        self._content_cdf = list(itertools.accumulate(weights))
        self._function = [word for word, _ in _FUNCTION_WORDS]
        self._function_cdf = list(itertools.accumulate(w for _, w in _FUNCTION_WORDS))
        surnames = _pseudo_words(rng, 400, reserved | set(words), suffixes=("",))
        self.people = [
            f"{first} {last.capitalize()}"
            for first, last in zip(
                rng.choices(_FIRST_NAMES, k=len(surnames)), surnames, strict=True
            )
        ]
        places = _pseudo_words(rng, 60, reserved | set(words) | set(surnames), suffixes=("",))
        self.outlets = [
            rng.choice(_OUTLET_FORMS).format(place.capitalize()) for place in places[:40]
        ]
        self.places = [place.capitalize() for place in places[40:]]

    def content_words(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.content, cum_weights=self._content_cdf, k=k)

    def function_word(self, rng: random.Random) -> str:
        return rng.choices(self._function, cum_weights=self._function_cdf)[0]

    def rank(self, word: str) -> int:
        return self._ranks[word]


def _pseudo_words(
    rng: random.Random,
    count: int,
    exclude: set[str],
    suffixes: Sequence[str] = _SUFFIXES,
) -> list[str]:
    """`count` distinct pronounceable lowercase words of one to three syllables."""
    seen = set(exclude)
    words: list[str] = []
    while len(words) < count:
        syllables = rng.choices((1, 2, 3), weights=(4, 5, 1))[0]
        stem = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        word = stem + rng.choice(suffixes)
        if len(word) >= 3 and word not in seen and not any(b in word for b in _BLOCKED):
            seen.add(word)
            words.append(word)
    return words


# ---- text ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    speaker: str | None
    # Content words in order of appearance (for questions).
    words: tuple[str, ...]
    has_number: bool


def _number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return str(rng.randint(2, 99))
    if kind < 0.6:
        return f"{rng.randint(1, 99)},{rng.randint(0, 999):03d}"
    if kind < 0.8:
        return f"{rng.randint(1, 60)}.{rng.randint(1, 9)} percent"
    return str(rng.randint(1990, 2026))


def _sentence(rng: random.Random, words: _Words, used: list[str]) -> tuple[str, bool]:
    """One sentence without its final punctuation; appends its content words to `used`.

    A sentence is a run of phrases, each a function word and one or two content
    words (or a name, a place or a number), so that about 40% of the words are
    stopwords, as in news prose.
    """
    tokens: list[str] = []
    has_number = False
    for phrase in range(rng.randint(3, 8)):
        if phrase or rng.random() < 0.5:
            tokens.append(words.function_word(rng))
        roll = rng.random()
        if roll < 0.08:
            tokens.append(_number(rng))
            has_number = True
        elif roll < 0.14:
            tokens.append(rng.choice(words.people))
        elif roll < 0.18:
            tokens.append(rng.choice(words.places))
        else:
            content = words.content_words(rng, rng.choice((1, 1, 2)))
            tokens.extend(content)
            used.extend(content)
        if rng.random() < 0.08:
            tokens[-1] += ","
    text = " ".join(tokens).rstrip(",")
    return text[0].upper() + text[1:], has_number


def _paragraph(rng: random.Random, words: _Words) -> _Paragraph:
    used: list[str] = []
    speaker = rng.choice(words.people) if rng.random() < 0.15 else None
    sentences: list[str] = []
    has_number = False
    target = rng.choices((1, 2, 3, 4), weights=(2, 4, 3, 1))[0]
    length = 0
    while len(sentences) < target:
        sentence, number = _sentence(rng, words, used)
        if speaker is not None and not sentences:
            sentence = f'"{sentence}," {speaker} {rng.choice(_SPEECH)}.'
        else:
            sentence += "."
        if sentences and length + 1 + len(sentence) > MAX_PARAGRAPH_CHARS:
            break
        sentences.append(sentence)
        length += len(sentence) + (1 if len(sentences) > 1 else 0)
        has_number = has_number or number
    return _Paragraph(" ".join(sentences), speaker, tuple(used), has_number)


@dataclass(frozen=True, slots=True)
class _Report:
    id: str
    title: str
    source: str
    published: datetime
    paragraphs: tuple[_Paragraph, ...]

    def record(self) -> dict[str, str]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "published": self.published.isoformat().replace("+00:00", "Z"),
            "url": f"https://example.org/news/{self.id}",
            "text": "\n\n".join(p.text for p in self.paragraphs),
        }

    def markdown(self) -> str:
        record = self.record()
        text = record.pop("text")
        # A JSON string is a valid YAML double-quoted scalar, so any title is safe.
        front = "".join(f"{key}: {json.dumps(value)}\n" for key, value in record.items())
        return f"---\n{front}---\n{text}\n"


def _reports(rng: random.Random, words: _Words, passages: int) -> Iterator[_Report]:
    """Reports of 3 to 10 paragraphs until exactly `passages` paragraphs are made."""
    start = datetime(2015, 1, 1, tzinfo=UTC)
    span_minutes = int((datetime(2026, 11, 1, tzinfo=UTC) - start).total_seconds() // 60)
    made = 0
    for number in itertools.count(1):
        if made >= passages:
            return
        count = min(rng.randint(3, 10), passages - made)
        made += count
        paragraphs = tuple(_paragraph(rng, words) for _ in range(count))
        title_words = words.content_words(rng, rng.randint(3, 7))
        title = " ".join(title_words).capitalize()
        if rng.random() < 0.4:
            title = f"{rng.choice(words.places)}: {title}"
        yield _Report(
            id=f"r{number:07d}",
            title=title,
            source=rng.choice(words.outlets),
            published=start + timedelta(minutes=rng.randrange(span_minutes)),
            paragraphs=paragraphs,
        )


# ---- questions -----------------------------------------------------------------------


def _question(rng: random.Random, words: _Words, paragraph: _Paragraph) -> str | None:
    """A question a reader of `paragraph` might ask, in the paragraph's own words."""
    distinct = [w for w in dict.fromkeys(paragraph.words) if words.rank(w) >= COMMON_RANKS]
    if len(distinct) < 2:
        return None
    picked = sorted(rng.sample(distinct, min(len(distinct), rng.randint(2, 4))), key=distinct.index)
    phrase = " ".join(picked)
    if paragraph.speaker is not None and rng.random() < 0.6:
        return f"What did {paragraph.speaker} say about {phrase}?"
    if paragraph.has_number and rng.random() < 0.5:
        return f"How many {phrase}?"
    form = rng.choice(
        ("What about the {}?", "Why did the {}?", "When was the {}?", "Who {}?", "{}?")
    )
    return form.format(phrase)


def _unanswerable(rng: random.Random, words: _Words) -> str:
    unseen = rng.sample(words.unseen, rng.randint(2, 4))
    form = rng.choice(("How do I {}?", "What is the {}?", "Where can I find {}?"))
    return form.format(" ".join(unseen))


# ---- writing -------------------------------------------------------------------------


def generate(spec: CorpusSpec, out: Path) -> Corpus:
    """Write the corpus for `spec` into `out` (created; an earlier corpus there is replaced)."""
    _clear(out)
    reports_dir = out / REPORTS
    reports_dir.mkdir(parents=True)
    rng = random.Random(spec.seed)
    words = _Words(rng, spec)
    question_rng = random.Random(spec.seed + 1)
    # Reservoir-free sampling: each paragraph becomes a question with a fixed chance,
    # tuned so that about spec.questions answerable ones come out.
    answerable_wanted = round(spec.questions * (1 - spec.unanswerable_share))
    chance = min(1.0, 1.5 * answerable_wanted / spec.passages)
    answerable: list[dict[str, Any]] = []
    batch: list[_Report] = []
    report_count = files = size = 0
    content_counts: dict[str, int] = {}

    def flush() -> None:
        nonlocal files, size
        if not batch:
            return
        year = batch[0].published.year
        path = reports_dir / str(year) / f"batch-{batch[0].id}.jsonl"
        path.parent.mkdir(exist_ok=True)
        data = "".join(json.dumps(r.record(), ensure_ascii=False) + "\n" for r in batch)
        size += _write(path, data)
        files += 1
        batch.clear()

    for report in _reports(rng, words, spec.passages):
        report_count += 1
        for paragraph in report.paragraphs:
            for word in paragraph.words:
                content_counts[word] = content_counts.get(word, 0) + 1
            if len(answerable) < answerable_wanted and question_rng.random() < chance:
                question = _question(question_rng, words, paragraph)
                if question is not None:
                    answerable.append(
                        {"question": question, "answerable": True, "report_id": report.id}
                    )
        as_markdown = spec.layout == "md" or (
            spec.layout == "mixed" and rng.random() < spec.markdown_share
        )
        if as_markdown:
            path = reports_dir / str(report.published.year) / f"{report.id}.md"
            path.parent.mkdir(exist_ok=True)
            size += _write(path, report.markdown())
            files += 1
        else:
            batch.append(report)
            if len(batch) == spec.reports_per_jsonl:
                flush()
    flush()

    unanswerable_wanted = spec.questions - len(answerable)
    unanswerable = [
        {"question": _unanswerable(question_rng, words), "answerable": False, "report_id": None}
        for _ in range(unanswerable_wanted)
    ]
    questions = answerable + unanswerable
    question_rng.shuffle(questions)
    _write(
        out / QUESTIONS,
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions),
    )
    frequent = tuple(sorted(content_counts, key=lambda w: (-content_counts[w], w))[:500])
    corpus = Corpus(
        root=out,
        spec=spec,
        reports=report_count,
        passages=spec.passages,
        files=files,
        bytes=size,
        frequent_words=frequent,
    )
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "spec": asdict(spec),
        "reports": corpus.reports,
        "passages": corpus.passages,
        "files": corpus.files,
        "bytes": corpus.bytes,
        "questions": len(questions),
        "frequent_words": list(frequent),
    }
    # Written last: its presence means the folder is complete.
    _write(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return corpus


def open_corpus(spec: CorpusSpec, out: Path) -> Corpus | None:
    """The corpus in `out` if it was generated from exactly `spec` by this generator."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("generator_version") != GENERATOR_VERSION
        or manifest.get("spec") != asdict(spec)
        or not (out / REPORTS).is_dir()
        or not (out / QUESTIONS).is_file()
    ):
        return None
    return Corpus(
        root=out,
        spec=spec,
        reports=int(manifest["reports"]),
        passages=int(manifest["passages"]),
        files=int(manifest["files"]),
        bytes=int(manifest["bytes"]),
        frequent_words=tuple(manifest["frequent_words"]),
    )


def ensure_corpus(spec: CorpusSpec, out: Path) -> Corpus:
    """Reuse the corpus in `out` when it matches `spec`, else generate it."""
    return open_corpus(spec, out) or generate(spec, out)


def _clear(out: Path) -> None:
    """Empty `out` of an earlier corpus; refuse to touch a folder we did not make."""
    if not out.exists():
        return
    ours = (out / MANIFEST).exists() or (out / REPORTS).exists()
    leftovers = {p.name for p in out.iterdir()} - {MANIFEST, REPORTS, QUESTIONS}
    if not ours and leftovers:
        raise SystemExit(
            f"{out} exists and holds other files ({', '.join(sorted(leftovers)[:5])}): "
            "give an empty or new folder for the corpus"
        )
    (out / MANIFEST).unlink(missing_ok=True)  # first, so a half-rewritten folder is never reused
    shutil.rmtree(out / REPORTS, ignore_errors=True)
    (out / QUESTIONS).unlink(missing_ok=True)


def _write(path: Path, text: str) -> int:
    data = text.encode("utf-8")
    path.write_bytes(data)
    return len(data)


def default_corpus_dir(passages: int, seed: int, layout: str) -> Path:
    return Path("/tmp") / f"reports-bot-corpus-{passages}-{layout}-{seed}"


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a benchmark that runs over a generated corpus (see corpus_from_args)."""
    defaults = CorpusSpec()
    parser.add_argument("--passages", type=int, default=defaults.passages)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--layout", choices=LAYOUTS, default=defaults.layout)
    parser.add_argument("--corpus", type=Path, help="corpus folder (default under /tmp)")


def corpus_from_args(args: argparse.Namespace) -> Corpus:
    """The corpus those options name: reused when it matches, generated otherwise."""
    spec = CorpusSpec(passages=args.passages, seed=args.seed, layout=args.layout)
    out: Path = args.corpus or default_corpus_dir(spec.passages, spec.seed, spec.layout)
    return ensure_corpus(spec, out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = CorpusSpec()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="output folder (default under /tmp)")
    parser.add_argument("--passages", type=int, default=defaults.passages)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--layout", choices=LAYOUTS, default=defaults.layout)
    parser.add_argument("--questions", type=int, default=defaults.questions)
    parser.add_argument(
        "--force", action="store_true", help="regenerate even when the folder matches"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="load the folder with the real loader and passage splitter and compare counts",
    )
    return parser.parse_args(argv)


def check(corpus: Corpus) -> list[str]:
    """Differences between what the manifest says and what the real code reads."""
    from retrieval.loader import load_reports
    from retrieval.passages import make_passages

    loaded = load_reports(corpus.reports_dir)
    passages = sum(len(make_passages(report)) for report in loaded.reports)
    problems = []
    if loaded.problems:
        problems.append(f"{len(loaded.problems)} load problems, first: {loaded.problems[0]}")
    if len(loaded.reports) != corpus.reports:
        problems.append(f"{len(loaded.reports)} reports loaded, {corpus.reports} written")
    if passages != corpus.passages:
        problems.append(f"{passages} passages made, {corpus.passages} intended")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    spec = CorpusSpec(
        passages=args.passages, seed=args.seed, layout=args.layout, questions=args.questions
    )
    out = args.out or default_corpus_dir(spec.passages, spec.seed, spec.layout)
    started = time.perf_counter()
    corpus = generate(spec, out) if args.force else ensure_corpus(spec, out)
    print(
        f"{corpus.reports_dir}: {corpus.reports} reports, {corpus.passages} passages, "
        f"{corpus.files} files, {corpus.bytes / 1e6:.1f} MB "
        f"({time.perf_counter() - started:.1f}s); questions in {corpus.questions_path}"
    )
    if args.check:
        problems = check(corpus)
        for problem in problems:
            print(f"check: {problem}", file=sys.stderr)
        if problems:
            return 1
        print("check: the loader and passage splitter read exactly what was written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
