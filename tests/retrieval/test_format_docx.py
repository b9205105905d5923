"""Word reports (retrieval/format_docx.py) on real .docx files made by python-docx, and
files that only pretend to be one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval import format_docx
from retrieval.format_docx import parse_docx
from retrieval.loader import load_reports
from retrieval.models import Report
from tests.retrieval.documents import Block, Meta, make_docx, make_zip

MTIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CREATED = datetime(2024, 3, 8, 14, 0, tzinfo=UTC)
BLOCKS = [
    Block("Floods close the coast road", heading=True),
    Block("Heavy rain closed the coast road on Friday, and 400 homes were evacuated."),
    Block("Rescue", heading=True),
    Block("Fire crews rescued 35 people from cars trapped by the water, the county said."),
]


def parse(data: bytes) -> Report:
    return parse_docx(data, report_id="floods", path="floods.docx", mtime=MTIME)


def problem_of(tmp_path: Path, data: bytes) -> str:
    (tmp_path / "report.docx").write_bytes(data)
    result = load_reports(tmp_path)
    assert result.reports == ()
    (problem,) = result.problems
    assert problem.path == str(tmp_path / "report.docx")
    return problem.reason


def test_core_properties_give_title_author_and_date() -> None:
    report = parse(make_docx(BLOCKS, Meta(title="Coast floods", author="Sam Lee", created=CREATED)))
    assert report.title == "Coast floods"
    assert report.author == "Sam Lee"
    assert report.published == CREATED and not report.published_from_mtime
    # Headings stay paragraphs of their own, in order, so the report reads as written.
    assert report.paragraphs == tuple(block.text for block in BLOCKS)
    assert report.pages == ()


def test_without_a_title_property_the_first_heading_is_the_title() -> None:
    report = parse(make_docx(BLOCKS, Meta(created=CREATED)))
    assert report.title == "Floods close the coast road"
    assert report.paragraphs == tuple(block.text for block in BLOCKS[1:])


def test_without_a_heading_the_title_comes_from_the_first_sentence() -> None:
    report = parse(make_docx(BLOCKS[1:2], Meta(created=CREATED)))
    assert (
        report.title == "Heavy rain closed the coast road on Friday, and 400 homes were evacuated"
    )


def test_table_rows_are_paragraphs() -> None:
    table = [["Town", "Homes evacuated"], ["Harwick", "250"], ["Stonebay", "150"]]
    report = parse(make_docx(BLOCKS, Meta(title="Coast floods"), table=table))
    assert report.paragraphs[-3:] == (
        "Town | Homes evacuated",
        "Harwick | 250",
        "Stonebay | 150",
    )


def test_a_docx_loads_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "floods.docx").write_bytes(make_docx(BLOCKS, Meta(created=CREATED)))
    result = load_reports(tmp_path)
    assert result.problems == ()
    assert [report.id for report in result.reports] == ["floods"]


# --- files that are no Word document -----------------------------------------------------


def test_a_zip_of_something_else_is_named(tmp_path: Path) -> None:
    data = make_zip({"photos/harbour.jpg": b"\xff\xd8\xff" + b"0" * 100, "notes.txt": b"hi"})
    reason = problem_of(tmp_path, data)
    assert reason.startswith("not a Word document: a zip archive of something else")
    assert "notes.txt" in reason


def test_a_spreadsheet_renamed_docx_is_named(tmp_path: Path) -> None:
    data = make_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    assert problem_of(tmp_path, data).startswith("not a Word document: a zip archive of")


def test_an_old_doc_or_other_file_renamed_is_named(tmp_path: Path) -> None:
    reason = problem_of(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert reason.startswith("not a Word document: a .docx file is a zip archive")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit lowered so the test need not hold 200 MiB of zeros to make the bomb.
    monkeypatch.setattr(format_docx, "MAX_UNPACKED_BYTES", 1024 * 1024)
    bomb = make_zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": b"<w/>",
            "word/media/huge.bin": b"\0" * (2 * 1024 * 1024),
        }
    )
    assert len(bomb) < 20 * 1024  # zeros compress about a thousandfold
    assert problem_of(tmp_path, bomb).startswith("not a usable Word document: it would unpack")


def test_a_damaged_word_document_is_named(tmp_path: Path) -> None:
    broken = make_zip({"[Content_Types].xml": b"<Types", "word/document.xml": b"<w:document"})
    assert problem_of(tmp_path, broken).startswith("not a readable Word document (")


@pytest.mark.parametrize("blocks", [[], [Block("   ")]])
def test_an_empty_document_is_named(tmp_path: Path, blocks: list[Block]) -> None:
    assert problem_of(tmp_path, make_docx(blocks)).startswith("the document holds no text")
