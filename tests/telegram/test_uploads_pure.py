"""The pure parts of uploads and admin commands: safe file names, what /forget names,
where a report comes from, who sent the newest upload (/sources), and how the admin
replies are cut to one message."""

from __future__ import annotations

import errno
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.live.sources import Origin, newest_upload, origin_of, sources
from bot.live.uploads import Failure, UploadFailed, check_name, describe, safe_name
from bot.storage.records import UploadRecord
from bot.telegram import html_admin, wording
from bot.telegram.admin import forget_target
from bot.telegram.html import MESSAGE_MAX_CHARS, visible_text
from bot.telegram.uploads import _copy
from retrieval import listing
from retrieval.loader import LoadProblem
from retrieval.models import Report
from tests.conftest import make_report

ROOT = Path("/data/reports")
JAN = datetime(2026, 1, 1, tzinfo=UTC)


def report(
    report_id: str, path: Path | None, source: str | None = None, published: datetime = JAN
) -> Report:
    made = make_report(report_id=report_id, source=source, published=published)
    return replace(made, path=str(path) if path else None)


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..", None),
        ("", None),
        (None, None),
        (".bashrc", "bashrc"),
        ("...txt", "txt"),
        ("~$draft.md", "$draft.md"),
        ("#notes.md#", "notes.md"),
        ("nul\x00byte.txt", "nul byte.txt"),
        ("two\nlines.txt", "two lines.txt"),
        ("\u202etxt.exe", "txt.exe"),
        ("trailing.txt. . ", "trailing.txt"),
        ("  spaced   out .md", "spaced out.md"),
    ],
)
def test_safe_names(given: str | None, safe: str | None) -> None:
    assert safe_name(given) == safe


def test_a_long_name_is_cut_keeping_its_suffix() -> None:
    assert safe_name("a" * 500 + ".txt") == "a" * 116 + ".txt"
    cut = safe_name("é" * 300 + ".md")
    assert cut is not None and cut.endswith(".md") and len(cut.encode()) <= 200


@pytest.mark.parametrize("name", ["x/y.txt", "a\x00.txt", ".hidden.md", "z" * 400 + ".txt"])
def test_every_safe_name_is_one_plain_component_the_walk_reads(name: str) -> None:
    safe = check_name(name)
    assert "/" not in safe and "\x00" not in safe and not safe.startswith(".")
    assert listing.is_report_name(safe) and len(safe) <= 120


def test_names_the_folder_would_not_read_are_refused() -> None:
    with pytest.raises(UploadFailed) as refused:
        check_name("malware.exe")
    assert refused.value.failure is Failure.UNSUPPORTED and refused.value.detail == ".exe"
    with pytest.raises(UploadFailed) as refused:
        check_name("..")
    assert refused.value.failure is Failure.NO_NAME
    with pytest.raises(UploadFailed) as refused:
        check_name("README")
    assert refused.value.failure is Failure.UNSUPPORTED and refused.value.detail == ""


def test_the_supported_suffixes_are_read_from_the_listing_at_run_time() -> None:
    for suffix in listing.REPORT_SUFFIXES:
        assert check_name(f"report{suffix}") == f"report{suffix}"


def test_a_full_disk_is_one_clear_reason(tmp_path: Path) -> None:
    source = tmp_path / "report.txt"
    source.write_text("Report\n\nText.", encoding="utf-8")
    with pytest.raises(OSError) as failed:
        _copy(source, Path("/dev/full"), 1000)
    assert failed.value.errno == errno.ENOSPC
    assert describe(failed.value) == "the disk is full"
    rendered = html_admin.render_upload_failed(
        UploadFailed(Failure.WRITE_FAILED, describe(failed.value)), "report.txt", 1000
    )
    assert rendered.text == "I couldn't save report.txt: the disk is full. It was not added."


def test_a_local_copy_stops_at_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "big.txt"
    source.write_bytes(b"x" * 5000)
    with pytest.raises(UploadFailed) as refused:
        _copy(source, tmp_path / "out.txt", 4000)
    assert refused.value.failure is Failure.TOO_BIG
    assert (tmp_path / "out.txt").stat().st_size <= 4000


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("/forget report.pdf", "report.pdf"),
        ("/forget@reports_test_bot  my report.pdf ", "my report.pdf"),
        ("/forget", ""),
        ("/forget   ", ""),
        ("/forget https://t.me/news/5", "https://t.me/news/5"),
    ],
)
def test_what_forget_names(text: str, target: str) -> None:
    assert forget_target(text) == target


def test_where_reports_come_from() -> None:
    folder = report("a", ROOT / "a.txt")
    upload = report("uploads/b", ROOT / "uploads" / "b.txt")
    nested = report("x/uploads/c", ROOT / "x" / "uploads" / "c.txt")
    feed = report("feed-0123", None, "Wire")
    channel = report("telegram-channel://-1001/2", None, "Chan")
    assert [origin_of(r, ROOT) for r in (folder, upload, nested, feed, channel)] == [
        Origin.FOLDER,
        Origin.UPLOAD,
        Origin.FOLDER,
        Origin.FEED,
        Origin.CHANNEL,
    ]
    later = report("d", ROOT / "d.txt", published=datetime(2026, 6, 1, tzinfo=UTC))
    found = sources([channel, feed, upload, folder, later], ROOT)
    assert [(s.origin, s.label, s.count) for s in found] == [
        (Origin.FOLDER, "", 2),
        (Origin.UPLOAD, "", 1),
        (Origin.FEED, "Wire", 1),
        (Origin.CHANNEL, "Chan", 1),
    ]
    assert found[0].newest == later.published


def test_problems_fit_one_message_and_say_how_many_are_left_out() -> None:
    problems = [
        LoadProblem(str(ROOT / f"f{i}.pdf"), "no text layer: needs OCR " * 10) for i in range(200)
    ]
    rendered = html_admin.render_problems(problems, ROOT)
    shown = visible_text(rendered.text)
    assert len(shown) <= MESSAGE_MAX_CHARS and shown.startswith("200 files could not be read")
    assert "f0.pdf" in shown and str(ROOT) not in shown
    assert "more (the log lists them all)" in shown
    assert html_admin.render_problems([], ROOT).text == wording.NO_PROBLEMS


def test_problem_paths_and_reasons_are_escaped() -> None:
    problem = LoadProblem(str(ROOT / "<b>.txt"), "bad & <worse>")
    text = html_admin.render_problems([problem], ROOT).text
    assert "&lt;b&gt;.txt" in text and "bad &amp; &lt;worse&gt;" in text


def test_sizes_are_shown_in_the_unit_they_were_set_in() -> None:
    assert html_admin.size_text(10 * 1024 * 1024) == "10 MiB"
    assert html_admin.size_text(4000) == "4,000 bytes"


def test_sources_are_listed_with_their_counts_and_newest_dates() -> None:
    found = sources(
        [
            report("a", ROOT / "a.txt"),
            report("feed-1", None, None),
            report("telegram-channel://-1001/1", None, "News <&> Co"),
        ],
        ROOT,
    )
    text = html_admin.render_sources(found).text
    assert text.splitlines() == [
        "<b>Sources</b> (3 reports)",
        "📁 <b>the reports folder</b>: 1, newest 1 Jan 2026",
        "📰 <b>a feed without a title</b>: 1, newest 1 Jan 2026",
        "📣 <b>News &lt;&amp;&gt; Co</b>: 1, newest 1 Jan 2026",
    ]
    assert html_admin.render_sources([]).text == wording.NO_SOURCES


# 1 December 2026, 10:00 UTC, and a day later.
DEC_1, DEC_2 = 1_796_119_200.0, 1_796_205_600.0


def upload_record(name: str, user_id: int, at: float) -> UploadRecord:
    return UploadRecord(name, user_id, user_id, 100, "0" * 64, at)


def uploaded_reports() -> list[Report]:
    return [
        report("a", ROOT / "a.txt"),
        report("uploads/b", ROOT / "uploads" / "b.txt"),
        report("uploads/c:1", ROOT / "uploads" / "c.jsonl"),
        report("uploads/c:2", ROOT / "uploads" / "c.jsonl"),
    ]


def test_the_newest_upload_is_the_newest_record_of_a_file_still_answered_from() -> None:
    reports = uploaded_reports()
    records = [
        upload_record("gone.txt", 3, DEC_2),  # its file was removed by hand: not shown
        upload_record("b.txt", 1, DEC_1 - 10),
        upload_record("c.jsonl", 2, DEC_1),
        upload_record("a.txt", 4, DEC_2),  # a folder file of that name is no upload
    ]
    assert newest_upload(reports, ROOT, records) == records[2]
    assert newest_upload(reports, ROOT, records[::-1]) == records[2]  # whatever the order
    assert newest_upload(reports, ROOT, [records[0], records[3]]) is None
    assert newest_upload(reports, ROOT, []) is None  # uploaded before records were kept
    assert newest_upload(reports[:1], ROOT, records) is None  # no uploads at all


def test_sources_say_who_sent_the_newest_upload_and_when() -> None:
    found = sources(uploaded_reports(), ROOT)
    newest = upload_record("c.jsonl", 12345, DEC_1)
    assert html_admin.render_sources(found, newest).text.splitlines() == [
        "<b>Sources</b> (4 reports)",
        "📁 <b>the reports folder</b>: 1, newest 1 Jan 2026",
        "📥 <b>uploaded here</b>: 3, newest 1 Jan 2026 (last upload from admin 12345, 1 Dec 2026)",
    ]
    # No record (uploads from before they were recorded): the line says nothing more.
    assert html_admin.render_sources(found).text.splitlines()[2] == (
        "📥 <b>uploaded here</b>: 3, newest 1 Jan 2026"
    )
    assert html_admin.render_sources(found, None) == html_admin.render_sources(found)


def test_the_uploader_is_told_on_the_uploads_line_only() -> None:
    reports = [report("a", ROOT / "a.txt"), report("feed-1", None, "Wire")]
    found = sources(reports, ROOT)
    newest = upload_record("b.txt", 12345, DEC_1)
    assert "12345" not in html_admin.render_sources(found, newest).text
    assert html_admin.render_sources([], newest).text == wording.NO_SOURCES
