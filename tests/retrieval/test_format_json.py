"""JSON reports (.json): one report object or an array of them, with JSON Lines' fields and
checks; a bad object in an array costs only itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.loader import MAX_FILE_BYTES, MAX_LINE_PROBLEMS, load_reports

PORT = {
    "id": "port",
    "title": "Port reopens",
    "text": "The port reopened on Monday.\n\nShips queued offshore.",
    "source": "Coast News",
    "published": "2024-05-02T09:30:00Z",
    "url": "https://example.org/port",
}


def write(tmp_path: Path, value: object, name: str = "reports.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def test_one_object_is_one_report_with_the_jsonl_fields(tmp_path: Path) -> None:
    write(tmp_path, PORT)
    result = load_reports(tmp_path)
    assert result.problems == ()
    (report,) = result.reports
    assert (report.id, report.title, report.source, report.url) == (
        "port",
        "Port reopens",
        "Coast News",
        "https://example.org/port",
    )
    assert report.paragraphs == ("The port reopened on Monday.", "Ships queued offshore.")
    assert report.published.isoformat() == "2024-05-02T09:30:00+00:00"


def test_an_object_without_an_id_takes_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, {"text": "Wheat prices fell."}, "wheat.json")
    (report,) = load_reports(tmp_path).reports
    assert (report.id, report.title, report.published_from_mtime) == (
        "wheat",
        "Wheat prices fell",
        True,
    )


def test_an_array_with_one_bad_object_loses_only_that_object(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            {"text": "First report."},
            {"title": "no text at all"},
            {"text": "Third report.", "published": "last Tuesday"},
            "not an object",
            {"text": "Fifth report.", "source": "Coast News"},
        ],
    )
    result = load_reports(tmp_path)
    # Items without an id are numbered from 1, like the lines of a JSON Lines file.
    assert [report.id for report in result.reports] == ["reports:1", "reports:5"]
    reasons = {problem.path: problem.reason for problem in result.problems}
    assert list(reasons) == [f"{path}[2]", f"{path}[3]", f"{path}[4]"]
    assert reasons[f"{path}[2]"].startswith('missing "text"')
    assert reasons[f"{path}[3]"].startswith('"published": cannot read')
    assert reasons[f"{path}[4]"] == "expected a JSON object, got str"


def test_a_flood_of_bad_objects_is_counted_not_listed(tmp_path: Path) -> None:
    path = write(tmp_path, [{"text": "Good."}] + [{}] * (MAX_LINE_PROBLEMS + 7))
    result = load_reports(tmp_path)
    assert len(result.reports) == 1
    assert len(result.problems) == MAX_LINE_PROBLEMS + 1
    assert result.problems[-1].path == str(path)
    assert result.problems[-1].reason == "7 more bad objects, not listed one by one"


@pytest.mark.parametrize(
    ("content", "start"),
    [
        ('{"text": "cut off', "invalid JSON (Unterminated string"),
        ('[\n{"text": "a"},\n]', "invalid JSON ("),  # the wording is Python's own
        ("[]", "an empty array"),
        ('"just a string"', "expected a report object or an array of them, got str"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_a_file_that_is_no_report_json_is_one_named_problem(
    tmp_path: Path, content: str, start: str
) -> None:
    (tmp_path / "bad.json").write_text(content, encoding="utf-8")
    result = load_reports(tmp_path)
    assert result.reports == ()
    (problem,) = result.problems
    assert problem.reason.startswith(start), problem.reason


def test_a_json_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "huge.json").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    (problem,) = load_reports(tmp_path).problems
    assert problem.reason.startswith("file too big")
