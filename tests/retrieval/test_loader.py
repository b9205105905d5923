"""Loading reports from files and folders, and skipping every kind of bad file."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.errors import ReportsNotFoundError
from retrieval.loader import (
    FORMATS_HINT,
    MAX_FILE_BYTES,
    REPORT_SUFFIXES,
    LoadResult,
    is_report_file,
    load_file,
    load_reports,
    report_files,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
SEED = REPO / "seeds" / "000_cd10308accc684f1.txt"


def reasons(result: LoadResult) -> dict[str, str]:
    return {Path(problem.path).name: problem.reason for problem in result.problems}


# --- the seed --------------------------------------------------------------------------


def test_seed_folder_loads() -> None:
    result = load_reports(REPO / "seeds")
    assert result.problems == ()
    (report,) = result.reports
    assert report.id == "000_cd10308accc684f1"
    assert report.title == "Syria Battle"
    assert report.caption == (
        "Smoke rises from Azaz vilage north of Aleppo, Syria, Monday, "
        "as seen from the Turkish border."
    )
    assert report.caption_credit == "Reuters"
    assert len(report.paragraphs) == 11
    assert report.paragraphs[0].startswith("Reports claim that troops loyal")
    assert report.paragraphs[-1].startswith("Over 40,000 refugees")
    assert report.published_from_mtime
    assert report.published == datetime.fromtimestamp(SEED.stat().st_mtime, tz=UTC)


def test_a_single_file_loads_with_its_stem_as_id() -> None:
    result = load_reports(str(SEED))
    assert [report.id for report in result.reports] == ["000_cd10308accc684f1"]


# --- every format ----------------------------------------------------------------------


def test_good_folder_loads_every_format_recursively_in_path_order() -> None:
    result = load_reports(FIXTURES / "good")
    assert result.problems == ()
    assert [report.id for report in result.reports] == [
        "budget",
        "harbour",
        "nested/ferry",
        "wire-1",
        "wire:3",
        "wire-3",
    ]
    by_id = {report.id: report for report in result.reports}

    harbour = by_id["harbour"]
    assert harbour.title == "Harbour Reopens After Storm"
    assert (
        harbour.caption == "Fishing boats return to the harbour at Port Ellen on Tuesday morning."
    )
    assert harbour.caption_credit == "AP"
    assert len(harbour.paragraphs) == 3

    budget = by_id["budget"]
    assert budget.title == "Council Approves Budget"
    assert budget.source == "Island Gazette"
    assert budget.url == "https://example.org/budget"
    assert budget.published == datetime(2024, 3, 5, tzinfo=UTC)
    assert not budget.published_from_mtime
    assert budget.paragraphs[0].startswith("The island council approved")

    ferry = by_id["nested/ferry"]
    assert ferry.title == "New Ferry Ordered"
    assert ferry.published_from_mtime

    assert by_id["wire-1"].published == datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
    assert by_id["wire:3"].title.startswith("Schools across the island will stay shut")
    assert by_id["wire-3"].published == datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    assert by_id["wire-3"].paragraphs == (
        "Ferry timetables return to normal next week.",
        "Extra sailings are planned for the weekend.",
    )


# --- bad files -------------------------------------------------------------------------


def test_bad_files_are_skipped_with_reasons_and_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="retrieval.loader"):
        result = load_reports(FIXTURES / "bad")
    found = reasons(result)
    assert "NUL byte" in found["binary.txt"]
    assert "invalid UTF-8 at byte 3" in found["latin1.txt"]
    assert "empty" in found["blank.txt"]
    assert "empty" in found["empty.md"]
    assert found["broken.md"].startswith("broken front matter")
    assert found["list.md"].startswith("broken front matter")
    assert "invalid JSON" in found["lines.jsonl:2"]
    assert "JSON object" in found["lines.jsonl:3"]
    assert "text" in found["lines.jsonl:4"]
    assert "ISO" in found["lines.jsonl:5"]
    # The good lines of a JSONL file with bad lines still load.
    assert [report.id for report in result.reports] == ["ok-1", "ok-2"]
    # Every problem is also a warning naming the file and the reason.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(result.problems) == 10
    for problem in result.problems:
        assert any(problem.path in w and problem.reason in w for w in warnings)


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / "seed.txt")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00\x00garbage")
    result = load_reports(tmp_path)
    assert [report.id for report in result.reports] == ["seed"]
    assert [Path(problem.path).name for problem in result.problems] == ["bad.txt"]


def test_a_file_over_the_size_limit_is_skipped_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "huge.txt"
    with big.open("wb") as handle:  # sparse: no disk space, no memory
        handle.truncate(MAX_FILE_BYTES + 1)
    (tmp_path / "small.txt").write_text("Small\n\nA small report.", encoding="utf-8")
    result = load_reports(tmp_path)
    assert [report.id for report in result.reports] == ["small"]
    assert "too big" in reasons(result)["huge.txt"]


def test_dangling_symlink_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "here.txt").write_text("Here\n\nText.", encoding="utf-8")
    result = load_reports(tmp_path)
    assert [report.id for report in result.reports] == ["here"]
    assert "dangling symlink" in reasons(result)["gone.txt"]


def test_self_referencing_symlink_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "self.txt").symlink_to(tmp_path / "self.txt")
    result = load_reports(tmp_path)
    assert result.reports == ()
    assert "symlink loop" in reasons(result)["self.txt"]


def test_folder_symlink_loop_terminates(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "a.txt").write_text("A\n\nText a.", encoding="utf-8")
    (inner / "back").symlink_to(tmp_path, target_is_directory=True)
    result = load_reports(tmp_path)
    assert [report.id for report in result.reports] == ["inner/a"]
    assert any("symlink loop" in problem.reason for problem in result.problems)
    assert report_files(tmp_path) == [inner / "a.txt"]


def test_report_files_lists_what_load_reports_reads() -> None:
    files = report_files(FIXTURES / "good")
    assert [file.relative_to(FIXTURES / "good").as_posix() for file in files] == [
        "budget.md",
        "harbour.txt",
        "nested/ferry.md",
        "wire.jsonl",
    ]
    assert report_files(SEED) == [SEED]
    assert report_files(FIXTURES / "no-such-folder") == []


def test_symlinked_folder_outside_the_root_is_followed_only_when_allowed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.md").write_text("# B\n\nText b.", encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(outside, target_is_directory=True)
    result = load_reports(root, follow_outside_links=True)
    assert [report.id for report in result.reports] == ["linked/b"]
    assert result.problems == ()
    # tests/retrieval/test_loader_hardening.py covers the default, which skips it.
    assert load_reports(root).reports == ()


def _load_as_unprivileged_user(folder: Path) -> dict[str, str]:
    """load_reports(folder) in a forked child that has dropped root, if we are root.

    Root reads files whatever their mode, and CI runs as root, so the child
    becomes `nobody` to meet the permission check the way a real operator would.
    """
    # The child cannot read the interpreter's own files once it is `nobody`
    # (they live under /root): warm up the lazily imported codec first.
    b"".decode("utf-8-sig")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            result = load_reports(folder)
            payload = json.dumps({Path(p.path).name: p.reason for p in result.problems})
        except BaseException as exc:  # reported to the parent, which fails the test
            payload = json.dumps({"error": repr(exc)})
        try:
            os.write(write_end, payload.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    loaded: dict[str, str] = json.loads(data)
    return loaded


def test_unreadable_file_is_a_problem() -> None:
    folder = Path(tempfile.mkdtemp(prefix="reports-unreadable-"))
    try:
        folder.chmod(0o755)  # the unprivileged child must be able to list it
        (folder / "open.md").write_text("# Open\n\nText.", encoding="utf-8")
        locked = folder / "locked.txt"
        locked.write_text("Locked\n\nText.", encoding="utf-8")
        locked.chmod(0)
        problems = _load_as_unprivileged_user(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "permission denied" in problems["locked.txt"]
    assert "open.md" not in problems


def test_a_named_pipe_is_skipped_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    result = load_reports(tmp_path)
    assert result.reports == ()
    assert "not a regular file" in reasons(result)["pipe.txt"]


def test_unknown_suffixes_and_temporary_files_are_ignored() -> None:
    result = load_reports(FIXTURES / "ignored")
    assert [report.id for report in result.reports] == ["kept"]
    assert result.problems == ()


@pytest.mark.parametrize(
    ("name", "wanted"),
    [
        ("report.txt", True),
        ("report.MD", True),
        ("report.markdown", True),
        ("feed.jsonl", True),
        ("reports.json", True),
        ("page.html", True),
        ("page.HTM", True),
        ("scan.pdf", True),
        ("memo.docx", True),
        ("report.csv", False),
        ("memo.doc", False),
        ("~$memo.docx", False),
        ("report", False),
        (".report.txt", False),
        (".#report.txt", False),
        ("#report.txt#", False),
        ("report.txt~", False),
        ("report.txt.swp", False),
        ("report.txt.tmp", False),
        ("report.txt.part", False),
        ("report.txt.crdownload", False),
        ("~$report.txt", False),
    ],
)
def test_is_report_file(name: str, wanted: bool) -> None:
    assert is_report_file(Path("reports", name)) is wanted


def test_the_formats_hint_names_every_report_format() -> None:
    aliases = {".markdown": ".md", ".htm": ".html"}
    named = set(FORMATS_HINT.split(", "))
    assert {aliases.get(suffix, suffix) for suffix in REPORT_SUFFIXES} == named


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nid: same\n---\nFirst.", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\nid: same\n---\nSecond.", encoding="utf-8")
    result = load_reports(tmp_path)
    assert [report.paragraphs for report in result.reports] == [("First.",)]
    assert "duplicate id" in reasons(result)["b.md"]


def test_missing_path_raises_with_a_fix() -> None:
    with pytest.raises(ReportsNotFoundError, match=r"does not exist.*folder"):
        load_reports(FIXTURES / "no-such-folder")


def test_load_file_uses_the_root_for_ids(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    file = nested / "story.txt"
    file.write_text("Story\n\nText.", encoding="utf-8")
    assert [r.id for r in load_file(file, tmp_path).reports] == ["a/b/story"]
    assert [r.id for r in load_file(file, nested).reports] == ["story"]


def test_bom_is_fine(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffTitle\n\nText.".encode())
    (report,) = load_reports(tmp_path).reports
    assert report.title == "Title"


def test_mtime_fallback_is_flagged(tmp_path: Path) -> None:
    file = tmp_path / "dated.txt"
    file.write_text("Dated\n\nText.", encoding="utf-8")
    os.utime(file, (1_700_000_000, 1_700_000_000))
    (report,) = load_reports(tmp_path).reports
    assert report.published == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert report.published_from_mtime
