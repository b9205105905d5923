"""The reports-bot command line, called as users call it, over real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "harvest.md").write_text(
        "---\ntitle: Harvest report\nsource: Farm Weekly\npublished: 2024-05-01\n"
        "url: https://example.org/harvest\n---\n"
        "The national wheat harvest reached 12 million tonnes this year.\n\n"
        '"We have never seen yields like this," farmer Anna Berg said.\n',
        encoding="utf-8",
    )
    (folder / "port.jsonl").write_text(
        json.dumps({"id": "port-1", "text": "The harbour reopened on Monday after the storm."})
        + "\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DATA_DIR: the index cache of every command lives in it."""
    folder = tmp_path / "state"
    monkeypatch.setenv("DATA_DIR", str(folder))
    return folder


@pytest.mark.parametrize("command", ["search", "eval"])
def test_every_command_keeps_its_index_in_the_one_cache(
    command: str, reports: Path, data_dir: Path, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": "wheat harvest?", "answers": ["12 million"]}) + "\n"
    )
    args = {
        "search": ["search", "How big was the wheat harvest?", "--reports", str(reports)],
        "eval": ["eval", "--reports", str(reports), "--questions", str(questions)],
    }[command]
    assert main([*args, "--no-cache"]) == 0
    assert not (data_dir / "index-cache").exists()
    assert main(args) == 0
    assert any((data_dir / "index-cache").iterdir())


def test_search_json_gives_the_documented_fields(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["search", "How big was the wheat harvest?", "--reports", str(reports), "--json"])
    assert code == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["quote"].startswith("The national wheat harvest")
    assert set(hits[0]) == {"rank", "score", "quote", "best_sentence", "speaker", "page", "report"}
    assert hits[0]["report"] == {
        "id": "harvest",
        "title": "Harvest report",
        "source": "Farm Weekly",
        "published": "2024-05-01T00:00:00+00:00",
        "url": "https://example.org/harvest",
        "author": None,
    }
    assert hits[0]["page"] is None  # only a PDF's passages have a page


def test_search_not_found_is_an_empty_json_list(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "sourdough bread recipe", "--reports", str(reports), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_search_text_output_quotes_and_attributes(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "What did Anna Berg say?", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert "never seen yields like this" in out
    assert "Harvest report" in out and "Anna Berg" in out


def test_search_top_limits_hits(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["search", "wheat harvest yields", "--reports", str(reports), "--json", "--top", "1"])
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_missing_reports_path_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "search",
            "anything",
            "--reports",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(tmp_path / "nope") in done.stderr


def test_eval_prints_every_summary_field_and_writes_output(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(row)
            for row in (
                {
                    "id": "q1",
                    "question": "How big was the wheat harvest?",
                    "answers": ["12 million"],
                },
                {"id": "q2", "question": "When did the harbour reopen?", "answers": ["Monday"]},
                {"id": "q3", "question": "How do I bake sourdough bread?", "answers": []},
            )
        )
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    code = main(
        ["eval", "--reports", str(reports), "--questions", str(questions), "--output", str(output)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["questions"] == 3
    assert summary["recall_at_1"] == 1.0 and summary["recall_at_5"] == 1.0 and summary["mrr"] == 1.0
    assert summary["refused_answerable"] == 0.0 and summary["refused_unanswerable"] == 1.0
    assert summary["bold_sentence_at_1"] == 1.0
    assert {"passages", "build_seconds", "query_ms_median", "query_ms_p99"} <= set(summary)
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["q1", "q2", "q3"]
    assert set(rows[0]) == {"id", "question", "answers", "found", "hits"}
    assert rows[2]["found"] is False and rows[2]["hits"] == []


def test_eval_backends_write_identical_output(reports: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "q", "question": "wheat harvest tonnes", "answers": ["12"]}) + "\n",
        encoding="utf-8",
    )
    outputs = []
    for backend in ("fast", "rank-bm25"):
        out = tmp_path / f"{backend}.jsonl"
        args = ["eval", "--reports", str(reports), "--questions", str(questions)]
        main([*args, "--output", str(out), "--backend", backend])
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_eval_bad_questions_line_names_the_line(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "ok", "question": "x", "answers": []}\nnot json\n', "utf-8")
    assert main(["eval", "--reports", str(reports), "--questions", str(questions)]) == 2
    assert f"{questions}:2" in capsys.readouterr().err


# -- no reports, and where --output goes (issue 12) ---------------------------------------


@pytest.fixture
def unreadable(tmp_path: Path) -> Path:
    """A folder whose only report file cannot be read, beside a file of another type."""
    folder = tmp_path / "unreadable"
    folder.mkdir()
    (folder / "binary.txt").write_bytes(b"\x00\x01 not text")
    (folder / "table.xlsx").write_bytes(b"PK\x03\x04")
    return folder


def questions_file(tmp_path: Path) -> Path:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": "wheat harvest?", "answers": ["12 million"]}) + "\n",
        encoding="utf-8",
    )
    return questions


@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
@pytest.mark.parametrize("command", ["search", "search --json", "eval"])
def test_every_command_over_no_readable_report_fails_with_what_to_do(
    command: str,
    cache: list[str],
    unreadable: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = {
        "search": ["search", "wheat harvest?"],
        "search --json": ["search", "wheat harvest?", "--json"],
        "eval": ["eval", "--questions", str(questions_file(tmp_path))],
    }[command]
    for _ in range(2):  # the second run may come from the index cache: same message
        assert main([*args, "--reports", str(unreadable), *cache]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"reports-bot: no reports loaded from {unreadable}: nothing in it could be read "
            f"(1 problem; the first: {unreadable}/binary.txt: binary data (a NUL byte at "
            "byte 0), not a text report). Add reports there (.txt, .md, .json, .jsonl, .html, "
            ".pdf or .docx files), or point --reports or REPORTS_DIR at a folder that holds "
            "some.\n"
        )


def test_an_empty_folder_says_it_holds_no_report_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["search", "anything", "--reports", str(empty)]) == 2
    assert "it holds no report file (.txt, .md, .json, .jsonl, .html, .pdf, .docx). Add" in (
        capsys.readouterr().err
    )


def test_eval_output_into_a_missing_folder_makes_the_folder(reports: Path, tmp_path: Path) -> None:
    output = tmp_path / "results" / "today" / "out.jsonl"
    args = ["eval", "--reports", str(reports), "--questions", str(questions_file(tmp_path))]
    assert main([*args, "--output", str(output)]) == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["q1"]


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_eval_output_that_cannot_be_written_is_a_message(
    where: str, reports: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    output = tmp_path if where == "a folder" else blocker / "out.jsonl"
    questions = questions_file(tmp_path)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bot.cli", "eval", "--reports", str(reports)),
            *("--questions", str(questions), "--output", str(output), "--no-cache"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DATA_DIR": str(tmp_path / "state")},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"reports-bot: cannot write --output {output}: ")
    assert done.stderr.endswith(". Choose a path you can write to.\n")


@pytest.mark.parametrize("follow", [None, "true"])
def test_search_reads_a_link_out_of_the_folder_only_when_the_operator_opts_in(
    follow: str | None,
    reports: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "vault.txt").write_text(
        "Vault\n\nThe vault code is 4417 and the lighthouse keeper knows it.\n", encoding="utf-8"
    )
    (reports / "vault.txt").symlink_to(outside / "vault.txt")
    if follow is not None:
        monkeypatch.setenv("REPORTS_FOLLOW_OUTSIDE_LINKS", follow)
    assert main(["search", "What is the vault code?", "--reports", str(reports), "--json"]) == 0
    quotes = [hit["quote"] for hit in json.loads(capsys.readouterr().out)]
    assert any("4417" in quote for quote in quotes) is (follow is not None)


@pytest.mark.parametrize(("part", "ids"), [("tune", ["q1", "q2"]), ("held-out", ["q3"])])
def test_eval_part_keeps_the_tune_or_the_held_out_questions(
    reports: Path, tmp_path: Path, part: str, ids: list[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"id": qid, "question": "When did the harbour reopen?", "answers": []})
            + "\n"
            for qid in ("q1", "q2", "q3")
        ),
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    args = ["eval", "--reports", str(reports), "--questions", str(questions)]
    assert main([*args, "--output", str(output), "--part", part]) == 0
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    # The split is fixed for good: sha256 of the id, mod 10, below 7 is tune.
    assert [row["id"] for row in rows] == ids


def test_a_missing_language_model_is_a_message_not_a_traceback(
    reports: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LANGUAGE_MODEL", str(tmp_path / "nope.npz.xz"))
    assert main(["search", "wheat harvest?", "--reports", str(reports)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reports-bot: LANGUAGE_MODEL=") and "is not a file" in err
