"""Loading survives whatever one file holds, JSONL is read as a stream, nothing is read
from outside the reports folder unless allowed, and other file types are named once.

(issue 12, cases 1, 6 and the loader's part of 10; tests/retrieval/test_loader.py covers
the older kinds of bad file.)
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest
import yaml

from retrieval import formats
from retrieval.library import Library
from retrieval.loader import (
    MAX_FILE_BYTES,
    MAX_LINE_PROBLEMS,
    LoadResult,
    describe_skipped_types,
    load_file,
    load_reports,
    report_files,
    scan_folder,
)
from retrieval.loader_io import MAX_LINE_BYTES, Unreadable, jsonl_lines

DEEP_JSON = "[" * 100_000 + "]" * 100_000
# Fine as written, but past year 9999 once converted to UTC.
OVERFLOWING_DATE = "9999-12-31T23:59:59-05:00"
SECRET = "The vault code is 4471 and the password is hunter2."


def good(folder: Path, name: str = "good.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / name
    file.write_text("Good news\n\nThe Kelmarsh ferry resumed crossings.\n", encoding="utf-8")
    return file


def reasons(result: LoadResult) -> dict[str, str]:
    return {problem.path: problem.reason for problem in result.problems}


def ids(result: LoadResult) -> list[str]:
    return [report.id for report in result.reports]


# --- case 1: one bad file never breaks loading -------------------------------------------


def test_a_jsonl_line_nested_too_deeply_costs_only_that_line(tmp_path: Path) -> None:
    good(tmp_path)
    (tmp_path / "wire.jsonl").write_text(
        DEEP_JSON + "\n" + json.dumps({"id": "ok", "text": "The port reopened."}) + "\n",
        encoding="utf-8",
    )
    result = load_reports(tmp_path)
    assert ids(result) == ["good", "ok"]
    assert "nested too deeply" in reasons(result)[f"{tmp_path}/wire.jsonl:1"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("dated.md", f"---\npublished: {OVERFLOWING_DATE}\n---\nThe port reopened.\n"),
        ("dated.md", f"---\npublished: '{OVERFLOWING_DATE}'\n---\nThe port reopened.\n"),
        ("dated.jsonl", json.dumps({"text": "The port reopened.", "published": OVERFLOWING_DATE})),
        ("early.md", "---\npublished: 0001-01-01T00:00:00+05:00\n---\nThe port reopened.\n"),
    ],
)
def test_a_date_out_of_range_in_utc_is_a_problem_naming_the_field(
    tmp_path: Path, name: str, content: str
) -> None:
    good(tmp_path)
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = load_reports(tmp_path)
    assert ids(result) == ["good"]
    ((path, reason),) = reasons(result).items()
    assert path.startswith(str(tmp_path / name))
    assert '"published"' in reason and "out of range" in reason


@pytest.mark.parametrize("parser", ["libyaml", "pure Python"])
def test_front_matter_nested_too_deeply_or_with_an_impossible_date_is_a_problem(
    tmp_path: Path, parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if parser == "libyaml":  # what PyYAML's wheels bring, and what formats uses then
        assert yaml.__with_libyaml__ and formats.yaml_loader() is yaml.CSafeLoader
    else:  # a PyYAML built without it
        monkeypatch.setattr(formats, "yaml_loader", lambda: yaml.SafeLoader)
    good(tmp_path)
    (tmp_path / "deep.md").write_text(f"---\ntitle: {DEEP_JSON}\n---\nText.\n", "utf-8")
    (tmp_path / "month.md").write_text("---\npublished: 2024-13-45\n---\nText.\n", "utf-8")
    result = load_reports(tmp_path)
    assert ids(result) == ["good"]
    found = reasons(result)
    assert "nested too deeply" in found[str(tmp_path / "deep.md")]
    assert "ISO format" in found[str(tmp_path / "month.md")]


def test_a_rescan_picks_up_new_reports_beside_files_that_once_broke_it(tmp_path: Path) -> None:
    good(tmp_path)
    library = Library.open(tmp_path, settle_seconds=0)
    (tmp_path / "deep.jsonl").write_text(DEEP_JSON + "\n", encoding="utf-8")
    (tmp_path / "dated.md").write_text(f"---\npublished: {OVERFLOWING_DATE}\n---\nText.\n")
    good(tmp_path, "later.txt")
    library.refresh()
    assert sorted(report.id for report in library.engine.reports) == ["good", "later"]


# --- case 10: JSONL read as a stream ---------------------------------------------------


def test_a_jsonl_file_over_the_file_size_limit_loads_line_by_line(tmp_path: Path) -> None:
    padding = "x" * (1024 * 1024)  # a field the parser ignores: cheap to parse
    with (tmp_path / "archive.jsonl").open("w", encoding="utf-8") as archive:
        for number in range(MAX_FILE_BYTES // len(padding) + 2):
            line = {"id": f"r{number}", "text": f"Report {number}.", "padding": padding}
            archive.write(json.dumps(line) + "\n")
    assert (tmp_path / "archive.jsonl").stat().st_size > MAX_FILE_BYTES
    result = load_reports(tmp_path)
    assert result.problems == ()
    assert ids(result) == [f"r{number}" for number in range(22)]


def test_an_over_long_jsonl_line_is_a_problem_with_its_number(tmp_path: Path) -> None:
    long_text = "word " * (MAX_LINE_BYTES // 5 + 1)
    lines = [
        json.dumps({"id": "before", "text": "Before."}),
        json.dumps({"id": "long", "text": long_text}),
        json.dumps({"id": "after", "text": "After."}),
    ]
    (tmp_path / "wire.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_reports(tmp_path)
    assert ids(result) == ["before", "after"]
    reason = reasons(result)[f"{tmp_path}/wire.jsonl:2"]
    assert reason.startswith("line too long (4.0 MiB; the limit is 4 MiB a line): split")


def test_nul_bytes_and_bad_utf8_cost_one_jsonl_line_each(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "one", "text": "One."}).encode(),
        b'{"id": "nul", "text": "N\x00L"}',
        b'{"id": "latin", "text": "Caf\xe9"}',
        b"",
        json.dumps({"id": "five", "text": "Five."}).encode(),
    ]
    (tmp_path / "wire.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    result = load_reports(tmp_path)
    assert ids(result) == ["one", "five"]
    found = reasons(result)
    assert "NUL byte at byte" in found[f"{tmp_path}/wire.jsonl:2"]
    assert "invalid UTF-8 at byte 28 of the line" in found[f"{tmp_path}/wire.jsonl:3"]


def test_a_jsonl_file_of_blank_lines_is_empty(tmp_path: Path) -> None:
    (tmp_path / "blank.jsonl").write_text("\n  \n\t\n", encoding="utf-8")
    assert "empty file" in reasons(load_reports(tmp_path))[str(tmp_path / "blank.jsonl")]


def test_a_broken_export_logs_a_bounded_number_of_problems(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = ["not json"] * (MAX_LINE_PROBLEMS + 30) + [json.dumps({"id": "ok", "text": "Ok."})]
    (tmp_path / "export.jsonl").write_text("\n".join(lines), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="retrieval.loader"):
        result = load_reports(tmp_path)
    assert ids(result) == ["ok"]
    assert len(result.problems) == len(caplog.records) == MAX_LINE_PROBLEMS + 1
    assert result.problems[-1].reason == "30 more bad lines, not listed one by one"


def test_jsonl_lines_are_numbered_capped_and_decoded() -> None:
    data = b"\xef\xbb\xbfone\n\n" + b"x" * 20 + b"\nthree\r\n" + b"y" * 10 + b"\n\xff\n"
    found = list(jsonl_lines(io.BytesIO(data), max_line_bytes=10))
    assert found == [
        (1, "one\n"),
        (
            3,
            Unreadable(
                "line too long (21 bytes; the limit is 10 bytes a line): "
                "split the report, or drop what it does not need"
            ),
        ),
        (4, "three\r\n"),
        (5, "y" * 10 + "\n"),
        (6, Unreadable("invalid UTF-8 at byte 0 of the line: save the file as UTF-8")),
    ]


def test_a_named_pipe_named_jsonl_is_skipped_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jsonl")
    assert "not a regular file" in reasons(load_reports(tmp_path))[str(tmp_path / "pipe.jsonl")]


# --- case 6: nothing from outside the reports folder -----------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the reports root, holding what must never be served."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"Secret\n\n{SECRET}\n", encoding="utf-8")
    (folder / "notes.md").write_text(f"# Notes\n\n{SECRET}\n", encoding="utf-8")
    (folder / ".env").write_text("TELEGRAM_BOT_TOKEN=123:abc\n", encoding="utf-8")
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    good(folder)
    return folder


def assert_nothing_from_outside(result: LoadResult) -> None:
    assert ids(result) == ["good"]
    assert not any(SECRET in " ".join(report.paragraphs) for report in result.reports)


def test_a_file_link_leading_outside_is_skipped_with_how_to_opt_in(
    root: Path, outside: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    with caplog.at_level(logging.WARNING, logger="retrieval.loader"):
        result = load_reports(root)
    assert_nothing_from_outside(result)
    reason = reasons(result)[str(root / "leak.txt")]
    assert reason == (
        f"outside the reports folder {root} (it leads to {outside / 'secret.txt'}): "
        "set REPORTS_FOLLOW_OUTSIDE_LINKS=true to read symlinks that lead out of it"
    )
    assert any(str(root / "leak.txt") in r.getMessage() for r in caplog.records)
    assert report_files(root) == [root / "good.txt"]


def test_a_folder_link_leading_outside_is_skipped_at_any_depth(root: Path, outside: Path) -> None:
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    (root / "top").symlink_to(outside, target_is_directory=True)
    (deep / "down").symlink_to(outside, target_is_directory=True)
    result = load_reports(root)
    assert_nothing_from_outside(result)
    assert set(reasons(result)) == {str(root / "top"), str(deep / "down")}
    assert report_files(root) == [root / "good.txt"]


def test_a_chain_of_links_that_ends_outside_is_skipped(
    root: Path, outside: Path, tmp_path: Path
) -> None:
    (tmp_path / "hop.txt").symlink_to(outside / "secret.txt")
    (root / "second.txt").symlink_to(tmp_path / "hop.txt")
    (root / "first.txt").symlink_to(root / "second.txt")
    result = load_reports(root)
    assert_nothing_from_outside(result)
    assert set(reasons(result)) == {str(root / "first.txt"), str(root / "second.txt")}


def test_links_that_stay_inside_keep_working(root: Path, tmp_path: Path) -> None:
    sub = root / "sub"
    good(sub, "real.txt")
    (root / "alias.txt").symlink_to("sub/real.txt")
    (root / "linked").symlink_to(sub, target_is_directory=True)
    (tmp_path / "hop.txt").symlink_to(sub / "real.txt")  # out and back in
    (root / "round-trip.txt").symlink_to(tmp_path / "hop.txt")
    result = load_reports(root)
    # "linked" is read first, so "sub" is the folder already read, not read twice.
    assert ids(result) == ["alias", "good", "linked/real", "round-trip"]
    assert list(reasons(result)) == [str(sub)]


def test_inside_means_inside_the_real_path_of_a_linked_root(tmp_path: Path, outside: Path) -> None:
    real = tmp_path / "real-reports"
    good(real)
    good(real / "sub", "b.txt")
    (real / "inner.txt").symlink_to(real / "sub" / "b.txt")
    (real / "leak.txt").symlink_to(outside / "secret.txt")
    linked_root = tmp_path / "reports-link"
    linked_root.symlink_to(real, target_is_directory=True)
    result = load_reports(linked_root)
    assert ids(result) == ["good", "inner", "sub/b"]
    assert set(reasons(result)) == {str(linked_root / "leak.txt")}


def test_outside_links_are_read_when_the_operator_opts_in(root: Path, outside: Path) -> None:
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "more").symlink_to(outside, target_is_directory=True)
    result = load_reports(root, follow_outside_links=True)
    assert ids(result) == ["good", "leak", "more/notes", "more/secret"]
    assert result.problems == ()
    assert len(report_files(root, follow_outside_links=True)) == 4


def test_load_file_refuses_a_file_outside_its_root_unless_allowed(
    root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    for path, report_id in [
        (outside / "secret.txt", "secret"),
        (root / "link" / "secret.txt", "link/secret"),
    ]:
        result = load_file(path, root)
        assert result.reports == ()
        assert "outside the reports folder" in reasons(result)[str(path)]
        assert ids(load_file(path, root, follow_outside_links=True)) == [report_id]
    assert ids(load_file(root / "good.txt", root)) == ["good"]


def test_a_reports_path_that_is_one_linked_file_is_read(tmp_path: Path, outside: Path) -> None:
    """The operator named that file: it is the root, wherever it leads."""
    (tmp_path / "report.txt").symlink_to(outside / "secret.txt")
    assert ids(load_reports(tmp_path / "report.txt")) == ["report"]
    assert ids(load_file(tmp_path / "report.txt", tmp_path / "report.txt")) == ["report"]


# --- case 10: files of other types are named, once ---------------------------------------


def test_files_of_other_types_are_named_in_one_line_by_type(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good(tmp_path)
    for name in ("a.xlsx", "b.XLSX", "sub/c.csv", "d.pptx", "README"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"not a report")
    for name in (".hidden.pdf", "e.csv~", "f.pdf.part", "#g.html#", "~$h.docx"):
        (tmp_path / name).write_bytes(b"never mentioned")
    with caplog.at_level(logging.WARNING, logger="retrieval.loader"):
        result = load_reports(tmp_path)
    assert ids(result) == ["good"] and result.problems == ()
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path}: skipped 5 files of types (no extension), .csv, .pptx, .xlsx: "
        "not a report format (use .txt, .md, .json, .jsonl, .html, .pdf, .docx)"
    ]


def test_scan_folder_lists_report_files_problems_and_other_files(root: Path, outside: Path) -> None:
    (root / "scan.tiff").write_bytes(b"II*\x00")
    (root / "leak").symlink_to(outside, target_is_directory=True)
    scan = scan_folder(root)
    assert scan.files == [root / "good.txt"]
    assert [problem.path for problem in scan.problems] == [str(root / "leak")]
    assert scan.other_files == (root / "scan.tiff",)


def test_describe_skipped_types() -> None:
    assert describe_skipped_types([]) is None
    use = "(use .txt, .md, .json, .jsonl, .html, .pdf, .docx)"
    assert describe_skipped_types([Path("x/a.xlsx")]) == (
        f"skipped 1 file of type .xlsx: not a report format {use}"
    )
    assert describe_skipped_types(iter([Path("a.csv"), Path("b.csv")])) == (
        f"skipped 2 files of type .csv: not a report format {use}"
    )
