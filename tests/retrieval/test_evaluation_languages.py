"""Evaluation in several languages (issue 17): a question's language, the figures of each
language in the summary and in `reports-bot eval`, and the shipped set's consistency."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.errors import QuestionsFileError
from retrieval.evaluation import NO_LANGUAGE, Outcome, Question, read_questions, summarize
from tests.conftest import make_hit

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ROOT / "benchmarks" / "languages"

QUOTE = "Der Pegel erreichte 11,20 Meter. The river peaked at 11.2 metres."


def outcome(language: str | None, answers: tuple[str, ...], *ranks_best: str) -> Outcome:
    """An outcome whose hits, ranked 1, 2, …, all quote QUOTE with the given best sentences."""
    hits = tuple(make_hit(QUOTE, best, rank=rank) for rank, best in enumerate(ranks_best, 1))
    return Outcome(Question("q", "How high?", answers, language), hits, 0.001)


# -- reading the language ------------------------------------------------------------------


def write_lines(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_question_reads_its_language_and_none_when_absent(tmp_path: Path) -> None:
    questions = write_lines(
        tmp_path / "q.jsonl",
        {"id": "a", "question": "Wie hoch?", "answers": ["11,20"], "language": "de"},
        {"id": "b", "question": "How high?", "answers": []},
        {"id": "c", "question": "¿Cuánto?", "answers": [], "language": None},
        {"id": "d", "question": "多少？", "answers": [], "language": "zh-Hans"},
    )
    assert [q.language for q in read_questions(questions)] == ["de", None, None, "zh-Hans"]


@pytest.mark.parametrize("language", [7, "", "  ", "en gb", "x" * 17, ["de"]])
def test_a_language_that_is_not_a_short_tag_names_the_line(
    tmp_path: Path, language: object
) -> None:
    questions = write_lines(
        tmp_path / "q.jsonl",
        {"id": "ok", "question": "x", "answers": []},
        {"id": "bad", "question": "x", "answers": [], "language": language},
    )
    with pytest.raises(QuestionsFileError, match=r"q\.jsonl:2: .*\"language\" must be"):
        read_questions(questions)


# -- the figures of each language ----------------------------------------------------------


def test_without_languages_the_summary_keeps_its_keys_and_adds_none() -> None:
    summary = summarize([outcome(None, ("11,20",), QUOTE)], passages=1, build_seconds=0.0)
    assert "by_language" not in summary
    assert summary["recall_at_1"] == 1.0


def test_the_summary_breaks_the_figures_down_by_language() -> None:
    outcomes = [
        outcome("en", ("11.2 metres",), "unrelated", "The river peaked."),  # 1st hit holds it
        outcome("en", ("no such words",), "x", "y"),  # answered, but by no quote
        outcome("en", ()),  # unanswerable, refused
        outcome("en", (), "x"),  # unanswerable, answered anyway
        outcome("de", ("11,20 Meter",), "x"),
        outcome("de", ("11,20 Meter",)),  # refused
        outcome("de", ()),  # refused, as it should be
        outcome(None, ("metres",), "x"),
    ]
    summary = summarize(outcomes, passages=3, build_seconds=0.0)
    # The totals are as before: over every question, whatever its language.
    assert summary["questions"] == 8 and summary["refused_unanswerable"] == 0.6667
    assert summary["by_language"] == {
        "de": {
            "answerable": 2,
            "recall_at_1": 0.5,
            "recall_at_5": 0.5,
            "refused_answerable": 0.5,
            "unanswerable": 1,
            "refused_unanswerable": 1.0,
        },
        "en": {
            "answerable": 2,
            "recall_at_1": 0.5,
            "recall_at_5": 0.5,
            "refused_answerable": 0.0,
            "unanswerable": 2,
            "refused_unanswerable": 0.5,
        },
        NO_LANGUAGE: {
            "answerable": 1,
            "recall_at_1": 1.0,
            "recall_at_5": 1.0,
            "refused_answerable": 0.0,
            "unanswerable": 0,
            "refused_unanswerable": None,
        },
    }
    assert list(summary)[-1] == "by_language"  # after the keys other tools read


def test_an_answer_found_below_the_top_counts_at_5_only() -> None:
    # The first hit quotes another passage; the second holds the answer.
    first = make_hit("Nothing to see here.", "Nothing to see here.", rank=1)
    second = make_hit(QUOTE, QUOTE, rank=2)
    found_second = Outcome(Question("q", "How high?", ("11.2",), "en"), (first, second), 0.0)
    figures = summarize([found_second], passages=2, build_seconds=0.0)["by_language"]
    assert figures == {
        "en": {
            "answerable": 1,
            "recall_at_1": 0.0,
            "recall_at_5": 1.0,
            "refused_answerable": 0.0,
            "unanswerable": 0,
            "refused_unanswerable": None,
        }
    }


# -- `reports-bot eval` prints the table -----------------------------------------------------


def test_eval_prints_a_table_of_each_language_after_the_json_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "state"))
    reports = write_lines(
        tmp_path / "reports.jsonl",
        {"id": "harvest", "text": "The national wheat harvest reached 12 million tonnes."},
        {"id": "hochwasser", "text": "Der Pegel der Donau erreichte in Passau 11,20 Meter."},
    )
    questions = write_lines(
        tmp_path / "questions.jsonl",
        {
            "id": "en-1",
            "question": "How big was the wheat harvest?",
            "answers": ["12 million"],
            "language": "en",
        },
        {
            "id": "en-2",
            "question": "How do I bake sourdough bread?",
            "answers": [],
            "language": "en",
        },
        {
            "id": "de-1",
            "question": "Wie hoch stieg der Pegel in Passau?",
            "answers": ["11,20 Meter"],
            "language": "de",
        },
    )
    args = ["eval", "--reports", str(reports), "--questions", str(questions), "--no-cache"]
    assert main(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is still one JSON document
    assert set(summary["by_language"]) == {"de", "en"}
    lines = captured.err.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("language")) :]
    assert table[0].split() == [
        *("language", "answerable", "recall@1", "recall@5"),
        *("refused", "unanswerable", "refused"),
    ]
    rows = {line.split()[0]: line.split()[1:] for line in table[1:]}
    assert list(rows) == ["de", "en"]
    assert rows["en"] == ["1", "1.000", "1.000", "0.000", "1", "1.000"]
    assert rows["de"][0] == "1" and rows["de"][4] == "0" and rows["de"][5] == "-"
    assert len({len(line) for line in table}) == 1  # aligned


def test_eval_prints_no_table_when_no_question_names_a_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "state"))
    reports = write_lines(tmp_path / "r.jsonl", {"id": "r", "text": "The harbour reopened."})
    questions = write_lines(tmp_path / "q.jsonl", {"id": "q", "question": "x", "answers": []})
    assert main(["eval", "--reports", str(reports), "--questions", str(questions)]) == 0
    captured = capsys.readouterr()
    assert "by_language" not in json.loads(captured.out)
    assert "recall@1" not in captured.err


# -- the shipped set, benchmarks/languages/ ----------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_language_set_is_consistent() -> None:
    reports = {str(r["id"]): r for r in read_jsonl(LANGUAGES / "reports.jsonl")}
    language_of = {rid: rid.split("-")[1] for rid in reports}  # lang-de-01 → de
    assert Counter(language_of.values()) == dict.fromkeys(
        ("ar", "de", "en", "es", "fr", "ru", "zh"), 4
    )
    tagged = [r for r in reports.values() if "lang" in r]
    assert len(tagged) * 2 == len(reports)  # half carry their language, half leave it out
    assert all(r["lang"] == language_of[str(r["id"])] for r in tagged)

    questions = read_questions(LANGUAGES / "questions.jsonl")
    rows = {str(row["id"]): row for row in read_jsonl(LANGUAGES / "questions.jsonl")}
    assert len(rows) == len(questions)  # ids are unique
    kinds: Counter[tuple[str | None, object]] = Counter()
    for question in questions:
        row = rows[question.id]
        kinds[question.language, row.get("kind", "answerable")] += 1
        report_id = str(row.get("report_id"))
        if question.answers:
            # Each answer lies within one paragraph of its report, the one quote that holds it.
            paragraphs = str(reports[report_id]["text"]).casefold().split("\n\n")
            assert language_of[report_id] == question.language, question.id
            for answer in question.answers:
                assert any(answer.casefold() in p for p in paragraphs), (question.id, answer)
        elif row["kind"] == "cross-language":
            assert language_of[report_id] != question.language, question.id
        else:
            assert row["kind"] == "off-topic", question.id
    for language in set(language_of.values()):
        assert kinds[language, "answerable"] >= 10
        assert kinds[language, "off-topic"] == 3 and kinds[language, "cross-language"] == 2
