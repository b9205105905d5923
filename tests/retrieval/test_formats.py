"""The pure parsers: plain text, Markdown with front matter, JSON Lines, titles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from retrieval.formats import (
    clean_text,
    derive_title,
    parse_jsonl_line,
    parse_markdown,
    parse_plain_text,
    split_caption_credit,
)
from retrieval.models import Report

MTIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def plain(text: str) -> Report:
    return parse_plain_text(text, report_id="r", path="r.txt", mtime=MTIME)


def markdown(text: str) -> Report:
    return parse_markdown(text, report_id="r", path="r.md", mtime=MTIME)


# --- plain text ------------------------------------------------------------------------


def test_plain_text_title_caption_credit_and_paragraphs() -> None:
    report = parse_plain_text(
        "Syria Battle\r\n"
        "Smoke rises over the city, as seen from the border. Reuters\r\n"
        "\r\n"
        "First paragraph.\r\n"
        "\r\n\r\n"
        "  Second paragraph,\r\nstill the second.  \r\n",
        report_id="syria",
        path="syria.txt",
        mtime=MTIME,
    )
    assert report.id == "syria"
    assert report.title == "Syria Battle"
    assert report.caption == "Smoke rises over the city, as seen from the border."
    assert report.caption_credit == "Reuters"
    assert report.paragraphs == ("First paragraph.", "Second paragraph,\nstill the second.")
    assert report.published == MTIME
    assert report.published_from_mtime
    assert report.path == "syria.txt"


@pytest.mark.parametrize(
    ("line", "caption", "credit"),
    [
        ("Boats return. Reuters", "Boats return.", "Reuters"),
        ("Boats return to port. AFP/Getty Images", "Boats return to port.", "AFP/Getty Images"),
        ("Boats return to port. (Photo: AP)", "Boats return to port.", "AP"),
        ("Boats return to port. Photo: Jane Doe/AP", "Boats return to port.", "Jane Doe/AP"),
        ("Boats return to port.", "Boats return to port.", None),
        ("Boats return to port on Tuesday", "Boats return to port on Tuesday", None),
    ],
)
def test_caption_credit_forms(line: str, caption: str, credit: str | None) -> None:
    assert split_caption_credit(line) == (caption, credit)


def test_a_wrapped_first_paragraph_is_not_a_caption() -> None:
    report = plain("Title\nA short line that wraps\nonto the next line.\n\nMore.")
    assert report.caption is None
    assert report.paragraphs == ("A short line that wraps\nonto the next line.", "More.")


def test_plain_text_without_caption() -> None:
    report = plain("\ufeffTitle\n\nBody one.\n\nBody two.")
    assert report.title == "Title"
    assert report.caption is None
    assert report.paragraphs == ("Body one.", "Body two.")


def test_a_long_first_line_is_prose_not_a_title() -> None:
    prose = "The council met on Monday to debate the budget. " * 6
    report = plain(prose.strip())
    assert report.paragraphs == (prose.strip(),)
    assert report.title == "The council met on Monday to debate the budget"


def test_a_title_and_one_short_line_is_a_report_not_a_caption() -> None:
    report = plain("Title\nThe only line of text.")
    assert report.caption is None
    assert report.paragraphs == ("The only line of text.",)


@pytest.mark.parametrize("text", ["", "   \n\n", "Only a title\n"])
def test_plain_text_without_body_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="text"):
        plain(text)


# --- markdown --------------------------------------------------------------------------


def test_markdown_front_matter() -> None:
    report = markdown(
        "---\ntitle: Budget Passes\nsource: Gazette\npublished: 2024-03-05\n"
        "url: https://example.org/b\nid: budget-2024\n---\n\nFirst.\n\nSecond."
    )
    assert report.id == "budget-2024"
    assert report.title == "Budget Passes"
    assert report.source == "Gazette"
    assert report.url == "https://example.org/b"
    assert report.published == datetime(2024, 3, 5, tzinfo=UTC)
    assert not report.published_from_mtime
    assert report.paragraphs == ("First.", "Second.")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05T10:30:00Z", datetime(2024, 3, 5, 10, 30, tzinfo=UTC)),
        ("2024-03-05 10:30:00", datetime(2024, 3, 5, 10, 30, tzinfo=UTC)),
        ('"2024-03-05T12:30:00+02:00"', datetime(2024, 3, 5, 10, 30, tzinfo=UTC)),
        ('"2024-03-05"', datetime(2024, 3, 5, tzinfo=UTC)),
    ],
)
def test_markdown_dates_become_utc(value: str, expected: datetime) -> None:
    report = markdown(f"---\npublished: {value}\n---\nText.")
    assert report.published == expected
    assert report.published.tzinfo is not None


def test_markdown_heading_is_the_title_and_not_a_paragraph() -> None:
    report = markdown("# New Ferry Ordered\n\nThe ferry company ordered a ship.")
    assert report.title == "New Ferry Ordered"
    assert report.paragraphs == ("The ferry company ordered a ship.",)
    assert report.published_from_mtime
    assert report.id == "r"


def test_markdown_without_any_title_derives_one() -> None:
    report = markdown("(CNN) -- The ferry company ordered a ship. It is big.")
    assert report.title == "The ferry company ordered a ship"


@pytest.mark.parametrize(
    "text",
    [
        '---\ntitle: "unclosed\nsource: [x\n---\nText.',
        "---\n- a\n- list\n---\nText.",
        "---\ntitle: never closed\n\nText.",
        "---\ntitle: [a, b]\n---\nText.",
    ],
)
def test_markdown_broken_front_matter_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"front matter|must be a string"):
        markdown(text)


def test_markdown_bad_date_is_rejected_with_the_fix() -> None:
    with pytest.raises(ValueError, match="ISO"):
        markdown("---\npublished: last Tuesday\n---\nText.")


# --- JSON lines ------------------------------------------------------------------------


def test_jsonl_line_with_every_field() -> None:
    report = parse_jsonl_line(
        '{"id": "a1", "title": "T", "text": "One.\\n\\nTwo.", "source": "S", '
        '"published": "2024-03-01T08:30:00Z", "url": "https://u"}',
        default_id="feed:1",
        path="feed.jsonl",
        mtime=MTIME,
    )
    assert (report.id, report.title, report.source, report.url) == ("a1", "T", "S", "https://u")
    assert report.paragraphs == ("One.", "Two.")
    assert report.published == datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
    assert not report.published_from_mtime


def test_jsonl_line_with_only_text() -> None:
    report = parse_jsonl_line(
        '{"text": "WASHINGTON (CNN) -- The bill passed. More later."}',
        default_id="feed:7",
        path="feed.jsonl",
        mtime=MTIME,
    )
    assert report.id == "feed:7"
    assert report.title == "The bill passed"
    assert report.published == MTIME and report.published_from_mtime
    assert report.source is None and report.url is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"text": "x"', "invalid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"title": "no text"}', "text"),
        ('{"text": "   "}', "text"),
        ('{"text": 5}', "text"),
        ('{"text": "x", "published": "yesterday"}', "ISO"),
        ('{"text": "x", "source": {"a": 1}}', "source"),
        ('{"text": "\\u0000\\u001b"}', "text"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"text": "x", "published": "9999-12-31T23:59:59-05:00"}', "out of range"),
    ],
)
def test_bad_jsonl_lines(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_jsonl_line(line, default_id="f:1", path="f.jsonl", mtime=MTIME)


# --- control characters ----------------------------------------------------------------

# What a hostile or broken exporter leaves in text: NUL, bell, an ANSI colour escape, a
# C1 control (CSI), DEL, and whitespace controls (form feed, vertical tab, NEL).
DIRTY = "Port\x00 re\x07opens \x1b[31mnow\x9b1m\x7f\x0cat\x0bdawn\x85\ttoday"
CLEAN = "Port reopens [31mnow1m at dawn \ttoday"


def test_clean_text_drops_controls_keeps_newline_and_tab_and_spaces_whitespace() -> None:
    assert clean_text(DIRTY) == CLEAN
    assert clean_text("line one\nline\ttwo") == "line one\nline\ttwo"


def test_no_jsonl_field_keeps_a_control_character() -> None:
    line = json.dumps(
        {
            "id": "id\u0000",
            "title": f"Title {DIRTY}",
            "text": f"{DIRTY}.\n\nSecond\u0000 paragraph.",
            "source": f"Source {DIRTY}",
            "url": "https://example.org/\u0000x",
        }
    )
    report = parse_jsonl_line(line, default_id="f:1", path="f.jsonl", mtime=MTIME)
    assert report.id == "id"
    assert report.title == f"Title {CLEAN}"
    assert report.paragraphs == (f"{CLEAN}.", "Second paragraph.")
    assert report.source == f"Source {CLEAN}"
    assert report.url == "https://example.org/x"


def test_no_markdown_or_plain_text_field_keeps_a_control_character() -> None:
    report = markdown(
        f'---\ntitle: "T\\0itle\\e[1m"\nsource: "S\\x07ource"\nurl: "https://u/\\0"\n---\n{DIRTY}\n'
    )
    assert (report.title, report.source, report.url) == ("Title[1m", "Source", "https://u/")
    assert report.paragraphs == (CLEAN,)
    heading = markdown(f"# Head\x1b[2Jing\n\n{DIRTY}\n")
    assert heading.title == "Head[2Jing"
    text = plain(f"Tit\x00le\nSmoke ri\x07ses. Reuter\x1bs\n\n{DIRTY}\n")
    assert (text.title, text.caption, text.caption_credit) == ("Title", "Smoke rises.", "Reuters")
    assert text.paragraphs == (CLEAN,)


# --- derived titles --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "(CNN) -- The end is closer than the beginning. Ron and Harry.",
            "The end is closer than the beginning",
        ),
        ("WASHINGTON (CNN) -- Congress voted. Then left.", "Congress voted"),
        ("LONDON, England (CNN) -- Rain fell on Monday.", "Rain fell on Monday"),
        ("Is it over? Nobody knows.", "Is it over?"),
        ("No full stop at all", "No full stop at all"),
    ],
)
def test_derive_title(text: str, title: str) -> None:
    assert derive_title(text) == title


def test_derive_title_cuts_long_sentences_at_a_word() -> None:
    sentence = (
        "The agency that owns the space where the towers stood is freeing up land for building."
    )
    title = derive_title(sentence, limit=40)
    assert len(title) <= 40
    assert title.endswith("…")
    assert sentence.startswith(title[:-1])
    assert sentence[len(title) - 1] == " "  # the cut falls between words
