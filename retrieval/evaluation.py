"""The logic of `reports-bot eval`: run questions through an engine and score the quotes.

A question counts as answered at rank k when the k-th quote contains one of its
answer strings (case-insensitively); `bold_sentence_at_1` counts the questions whose
top hit's best sentence (shown in bold) contains one.  Questions with no answers
should be refused (no hits at all).  A question may name its `language` (a short tag
such as "de"); when any does, the summary breaks the figures down by language as well.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import QuestionsFileError
from retrieval.models import Hit, hit_as_dict
from retrieval.search import SearchEngine

RECALL_DEPTH = 5
# A question's "language": a short tag ("de", "zh", "pt-BR"), at most this long.
MAX_LANGUAGE_CHARS = 16
# The `by_language` group of the questions that name no language, in a file where others do.
NO_LANGUAGE = "unknown"


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    hits: tuple[Hit, ...]
    seconds: float

    @property
    def answer_rank(self) -> int | None:
        """1-based rank of the first quote holding an answer, or None."""
        for hit in self.hits:
            if self._holds_answer(hit.quote):
                return hit.rank
        return None

    @property
    def bold_holds_answer(self) -> bool:
        """The top hit's best sentence, the one shown in bold and read first, holds an
        answer."""
        return bool(self.hits) and self._holds_answer(self.hits[0].best_sentence)

    def _holds_answer(self, text: str) -> bool:
        text = text.casefold()
        return any(a.casefold() in text for a in self.question.answers if a.strip())

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.question.id,
            "question": self.question.question,
            "answers": list(self.question.answers),
            "found": bool(self.hits),
            "hits": [hit_as_dict(hit) for hit in self.hits],
        }


def read_questions(path: Path) -> list[Question]:
    """Read a JSONL questions file; raises QuestionsFileError naming the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionsFileError(
            f"cannot read questions file {path}: {exc}. Pass a JSONL file with one "
            '{"id", "question", "answers"} object per line.'
        ) from exc
    questions: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = row.get("answers") or []
            if not isinstance(row["question"], str) or not isinstance(answers, list):
                raise TypeError("question must be a string and answers a list")
            questions.append(
                Question(
                    str(row.get("id", number)),
                    row["question"],
                    tuple(map(str, answers)),
                    _language(row.get("language")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise QuestionsFileError(
                f"{path}:{number}: bad question line ({exc}). Each line must be a JSON "
                'object like {"id": "q1", "question": "...", "answers": ["..."]}.'
            ) from exc
    return questions


def _language(value: object) -> str | None:
    """A questions file's "language" field: absent (or null), else a short tag."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_LANGUAGE_CHARS
        or any(c.isspace() for c in value)
    ):
        raise ValueError(
            f'"language" must be a short tag such as "de" (at most {MAX_LANGUAGE_CHARS} '
            f"characters, no spaces), got {value!r}"
        )
    return value


# The split of every questions file, fixed for good: a question is *tune* (weights and
# thresholds are chosen on it) when sha256 of its id, as an integer, mod 10 is below 7,
# else *held-out* (only reported).  `reports-bot eval --part` and bench_quality share it.
TUNE_SHARE = 7  # of 10
PARTS = ("all", "tune", "held-out")


def is_tune(question_id: str) -> bool:
    return int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 10 < TUNE_SHARE


def in_part(question: Question, part: str) -> bool:
    """Whether `question` belongs to `part` (one of PARTS)."""
    if part == "all":
        return True
    return is_tune(question.id) == (part == "tune")


def run_questions(engine: SearchEngine, questions: Iterable[Question], top: int) -> list[Outcome]:
    depth = max(top, RECALL_DEPTH)
    outcomes: list[Outcome] = []
    for question in questions:
        started = time.perf_counter()
        hits = engine.search(question.question, top=depth)
        outcomes.append(Outcome(question, tuple(hits), time.perf_counter() - started))
    return outcomes


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def summarize(
    outcomes: Sequence[Outcome], passages: int, build_seconds: float
) -> dict[str, object]:
    """The summary fields are an interface other tools read: keep their names."""
    answerable = [o for o in outcomes if o.question.answers]
    unanswerable = [o for o in outcomes if not o.question.answers]
    ranks = [o.answer_rank for o in answerable]
    times_ms = sorted(o.seconds * 1000 for o in outcomes)
    summary: dict[str, object] = {
        "questions": len(outcomes),
        "passages": passages,
        "recall_at_1": _share(sum(1 for r in ranks if r == 1), len(answerable)),
        "bold_sentence_at_1": _share(
            sum(1 for o in answerable if o.bold_holds_answer), len(answerable)
        ),
        "recall_at_5": _share(
            sum(1 for r in ranks if r is not None and r <= RECALL_DEPTH), len(answerable)
        ),
        "mrr": round(sum(1 / r for r in ranks if r) / len(answerable), 4) if answerable else None,
        "refused_answerable": _share(sum(1 for o in answerable if not o.hits), len(answerable)),
        "refused_unanswerable": _share(
            sum(1 for o in unanswerable if not o.hits), len(unanswerable)
        ),
        "build_seconds": round(build_seconds, 3),
        "query_ms_median": round(statistics.median(times_ms), 3) if times_ms else None,
        "query_ms_p99": round(_percentile(times_ms, 0.99), 3) if times_ms else None,
    }
    if any(o.question.language is not None for o in outcomes):
        summary["by_language"] = by_language(outcomes)
    return summary


def by_language(outcomes: Sequence[Outcome]) -> dict[str, dict[str, object]]:
    """The figures of each question language, languages in alphabetical order (questions
    that name none under NO_LANGUAGE): how many answerable questions, their recall at 1
    and at RECALL_DEPTH and the share refused, and how many unanswerable ones and the
    share of those refused.  A share is None when its group is empty."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.question.language or NO_LANGUAGE, []).append(outcome)
    return {language: _language_figures(groups[language]) for language in sorted(groups)}


def _language_figures(outcomes: Sequence[Outcome]) -> dict[str, object]:
    answerable = [o for o in outcomes if o.question.answers]
    unanswerable = [o for o in outcomes if not o.question.answers]
    ranks = [o.answer_rank for o in answerable]
    return {
        "answerable": len(answerable),
        "recall_at_1": _share(sum(1 for r in ranks if r == 1), len(answerable)),
        "recall_at_5": _share(
            sum(1 for r in ranks if r is not None and r <= RECALL_DEPTH), len(answerable)
        ),
        "refused_answerable": _share(sum(1 for o in answerable if not o.hits), len(answerable)),
        "unanswerable": len(unanswerable),
        "refused_unanswerable": _share(
            sum(1 for o in unanswerable if not o.hits), len(unanswerable)
        ),
    }


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]
