"""PDF reports (retrieval/format_pdf.py) on real PDFs made by fpdf2 and pypdf, good and broken."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.format_pdf import _pdf_date, parse_pdf
from retrieval.loader import MAX_DOCUMENT_BYTES, load_reports
from retrieval.models import Report
from retrieval.passages import make_passages
from tests.retrieval.documents import Block, Meta, encrypt_pdf, make_pdf, make_scanned_pdf

MTIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CREATED = datetime(2024, 1, 5, 10, 30, tzinfo=UTC)
HEADER = "Aid Monitor - Quarterly Field Report"

FIELD_REPORT = [
    Block("Harvest and hunger in the north", heading=True),
    Block(
        "Aid agencies say the harvest in the northern provinces was the worst in a decade, and "
        "that more than 200,000 families will need food aid before the spring. The drought "
        "began in March and lasted until the end of August."
    ),
    Block(
        "The regional governor asked for emergency supplies on Tuesday. Lorries carrying flour "
        "and cooking oil reached the first villages on Thursday, the World Food Programme said."
    ),
    Block("Water", heading=True),
    Block(
        "Wells have run dry in dozens of villages, and the infor-\nmation the agencies "
        "collected suggests that water trucks reach only a third of them. Engineers are "
        "drilling new boreholes near the river."
    ),
    Block("Schools", heading=True, new_page=True),
    Block(
        "Many schools have closed because children help their families carry water, teachers "
        "said. The education ministry plans to open temporary classrooms in the camps by the "
        "end of the month."
    ),
    Block("Clinics", heading=True, new_page=True),
    Block(
        "Health workers reported cases of cholera in two camps. A mobile clinic opened in the "
        "largest camp, which holds 12,000 people, and vaccinations begin next week."
    ),
]


def parse(data: bytes) -> Report:
    return parse_pdf(data, report_id="field", path="field.pdf", mtime=MTIME)


def problem_of(tmp_path: Path, data: bytes) -> str:
    (tmp_path / "report.pdf").write_bytes(data)
    result = load_reports(tmp_path)
    assert result.reports == ()
    (problem,) = result.problems
    assert problem.path == str(tmp_path / "report.pdf")
    return problem.reason


@pytest.fixture(scope="module")
def field_pdf() -> bytes:
    return make_pdf(
        FIELD_REPORT, Meta(title="Harvest and hunger", author="Jane Doe", created=CREATED)
    )


def test_paragraphs_are_rebuilt_without_headers_footers_or_page_numbers(field_pdf: bytes) -> None:
    report = parse(field_pdf)
    # Each block whole, the hyphenated "infor-" + "mation" joined again.
    assert report.paragraphs == tuple(
        block.text.replace("infor-\nmation", "information") for block in FIELD_REPORT
    )
    assert not any(HEADER in p or "Page " in p for p in report.paragraphs)


def test_metadata_gives_title_author_and_date(field_pdf: bytes) -> None:
    report = parse(field_pdf)
    assert report.title == "Harvest and hunger"
    assert report.author == "Jane Doe"
    assert report.published == CREATED and not report.published_from_mtime
    assert report.source is None and report.url is None


def test_each_paragraph_and_passage_knows_its_page(field_pdf: bytes) -> None:
    report = parse(field_pdf)
    pages = dict(zip(report.paragraphs, report.pages, strict=True))
    assert pages["Water"] == 1 and pages["Schools"] == 2 and pages["Clinics"] == 3
    passages = make_passages(report)
    assert {p.page for p in passages} == {1, 2, 3}
    assert all(p.page == pages[p.text] for p in passages)


def test_without_metadata_the_title_is_the_first_line_and_the_date_the_file_date() -> None:
    report = parse(make_pdf(FIELD_REPORT))
    assert report.title == "Harvest and hunger in the north"
    assert report.paragraphs[0].startswith("Aid agencies say")
    assert report.published == MTIME and report.published_from_mtime
    assert report.pages[0] == 1


def test_a_paragraph_running_on_to_the_next_page_stays_one_and_starts_on_its_first() -> None:
    long = " ".join(
        f"Convoy {n} left the depot at dawn with flour, cooking oil, blankets and tents for "
        "the families who had walked for days across the hills, and reached the camp before "
        "the rain began."
        for n in range(1, 16)
    )
    blocks = [Block("Convoys", heading=True), Block(long), Block("The end.")]
    report = parse(make_pdf(blocks, Meta(title="Convoys")))
    assert report.paragraphs == (long, "The end.")
    assert report.pages[0] == 1 and report.pages[1] > 1


def test_a_one_page_pdf_keeps_its_first_lines() -> None:
    """On a single page nothing repeats: no line is taken for a running header."""
    report = parse(
        make_pdf([Block("Port reopens"), Block("The port reopened on Monday.")], header=None)
    )
    assert report.title == "Port reopens"
    assert report.paragraphs == ("The port reopened on Monday.",)


def test_a_pdf_loads_from_a_folder(tmp_path: Path, field_pdf: bytes) -> None:
    (tmp_path / "field.pdf").write_bytes(field_pdf)
    result = load_reports(tmp_path)
    assert result.problems == ()
    (report,) = result.reports
    assert report.id == "field" and report.path == str(tmp_path / "field.pdf")


def test_a_pdf_opened_with_an_empty_password_is_read(field_pdf: bytes) -> None:
    """Only printing or copying restricted: every viewer opens it, so do we."""
    report = parse(encrypt_pdf(field_pdf, user_password=""))
    assert report.title == "Harvest and hunger"


# --- broken PDFs -----------------------------------------------------------------------


def test_a_scan_without_a_text_layer_is_named(tmp_path: Path) -> None:
    assert problem_of(tmp_path, make_scanned_pdf()).startswith("no text layer: needs OCR")


def test_a_truncated_pdf_is_named(tmp_path: Path, field_pdf: bytes) -> None:
    reason = problem_of(tmp_path, field_pdf[: len(field_pdf) // 2])
    assert reason.startswith("truncated PDF:")


def test_an_encrypted_pdf_is_named(tmp_path: Path, field_pdf: bytes) -> None:
    reason = problem_of(tmp_path, encrypt_pdf(field_pdf, user_password="secret"))
    assert reason.startswith("encrypted PDF: it needs a password")


@pytest.mark.parametrize(
    ("data", "start"),
    [
        (b"GIF89a not a pdf at all", "not a PDF"),
        (b"%PDF-1.7\n garbage garbage garbage\n%%EOF\n", "not a readable PDF"),
    ],
)
def test_a_file_that_is_no_pdf_is_named(tmp_path: Path, data: bytes, start: str) -> None:
    assert problem_of(tmp_path, data).startswith(start)


def test_broken_bytes_anywhere_never_crash_the_load(tmp_path: Path, field_pdf: bytes) -> None:
    """Damage in the middle of the file: whatever pypdf makes of it, one file is the cost."""
    for offset in range(200, len(field_pdf) - 200, len(field_pdf) // 12):
        damaged = field_pdf[:offset] + b"\x00\xff garbage )>> endobj" + field_pdf[offset + 40 :]
        (tmp_path / "report.pdf").write_bytes(damaged)
        result = load_reports(tmp_path)
        assert len(result.reports) + len(result.problems) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("D:20240105103000Z", datetime(2024, 1, 5, 10, 30, tzinfo=UTC)),
        ("D:20240105103000+01'00'", datetime(2024, 1, 5, 9, 30, tzinfo=UTC)),
        ("D:20240105103000-05'30", datetime(2024, 1, 5, 16, 0, tzinfo=UTC)),
        ("D:2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("D:20241345", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_pdf_dates(value: object, expected: datetime | None) -> None:
    assert _pdf_date(value) == expected


def test_a_pdf_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "report.pdf").open("wb") as handle:
        handle.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: no disk used
    (problem,) = load_reports(tmp_path).problems
    assert problem.reason.startswith("file too big (50.0 MiB; the limit is 50 MiB)")
