"""Pure parsers: the text of one report file (or one JSONL line) → `Report`.

No I/O here; the loader reads files and hands us their text.  Bad input
raises ValueError whose message says what is wrong and how to fix it.
Every text field a parser produces is free of control characters (see
`clean_text`): a NUL from a JSON escape or a stray terminal escape never
reaches a chat.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any

from retrieval.languages import normalize_code
from retrieval.models import Report
from retrieval.sentences import split_sentences

# A caption is a short line right under the title.
MAX_CAPTION_CHARS = 300
# A first line longer than this is prose, not a title.
MAX_TITLE_LINE_CHARS = 200

_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n\s*")
# "(CNN) -- ", "WASHINGTON (CNN) -- ", "LONDON, England (CNN) -- "
_DATELINE = re.compile(r"^\s*(?:[^\W\d_][^()\n]{0,60}?\s)?\([^()\n]{1,40}\)\s*(?:--|—|–)\s*")
_CREDIT_WORD = r"[A-Z][\w&'’.-]*"
_CREDIT_NAME = rf"{_CREDIT_WORD}(?:/{_CREDIT_WORD})*"
# "… border. Reuters", "… border. AFP/Getty Images": 1-4 capitalised words after the last full stop.
_TRAILING_CREDIT = re.compile(
    rf"(?<=[.!?])\s+(?P<credit>{_CREDIT_NAME}(?:\s+{_CREDIT_NAME}){{0,3}})$"
)
# "(Photo: AP)", "(Credit: Jane Doe/Reuters)"
_PAREN_CREDIT = re.compile(
    r"\s*\((?:photo|photograph|picture|image|credit)s?\s*:\s*(?P<credit>[^()]{1,80})\)$",
    re.IGNORECASE,
)
# "Photo: Jane Doe/AP"
_LABELLED_CREDIT = re.compile(
    r"(?:^|\s+)(?:photo|photograph|picture|image|credit)s?\s*:\s*(?P<credit>[^:]{1,80})$",
    re.IGNORECASE,
)
_FRONT_MATTER_FENCE = re.compile(r"^---[ \t]*$")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$")
_HEADING = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t#]*$")
# C0 and C1 control characters and DEL, except tab (0x09) and newline (0x0a).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` without control characters other than newline and tab.

    Those that are whitespace (form feed, vertical tab, the separators, NEL)
    become a space, so the words on either side stay apart; the rest go.
    """
    return _CONTROL.sub(lambda match: " " if match.group().isspace() else "", text)


def parse_plain_text(text: str, *, report_id: str, path: str, mtime: datetime) -> Report:
    """First line the title, an optional short caption line under it, then paragraphs."""
    lines = clean_text(_normalize_newlines(text)).strip().split("\n")
    if not lines or not lines[0].strip():
        raise ValueError("the file holds no text; put a title on the first line, then the report")
    title = lines[0].strip()
    if len(title) > MAX_TITLE_LINE_CHARS:
        # One long line of prose: no title line, so the whole file is the body.
        body, title = "\n".join(lines), ""
        caption = credit = None
    else:
        caption, credit = None, None
        rest = lines[1:]
        # A short line under the title is a caption, unless it is all the text there is.
        if _is_caption_line(rest) and split_paragraphs("\n".join(rest[1:])):
            caption, credit = split_caption_credit(rest[0].strip())
            rest = rest[1:]
        body = "\n".join(rest)
    paragraphs = split_paragraphs(body)
    if not paragraphs:
        raise ValueError(
            "there is a title line but no report text; add the text below it after a blank line"
        )
    return Report(
        id=report_id,
        title=title or derive_title(paragraphs[0]),
        paragraphs=paragraphs,
        published=mtime,
        published_from_mtime=True,
        caption=caption,
        caption_credit=credit,
        path=path,
    )


def _is_caption_line(lines: list[str]) -> bool:
    """A caption is one short line straight under the title, followed by a blank line."""
    if not lines or not lines[0].strip() or len(lines[0].strip()) > MAX_CAPTION_CHARS:
        return False
    return len(lines) == 1 or not lines[1].strip()


def split_caption_credit(line: str) -> tuple[str, str | None]:
    """'Smoke rises … border. Reuters' → ('Smoke rises … border.', 'Reuters')."""
    for pattern in (_PAREN_CREDIT, _LABELLED_CREDIT, _TRAILING_CREDIT):
        match = pattern.search(line)
        if match:
            caption = line[: match.start()].strip()
            if caption:
                return caption, match.group("credit").strip()
    return line, None


def parse_markdown(text: str, *, report_id: str, path: str, mtime: datetime) -> Report:
    """Optional YAML front matter (title, source, published, url, id, language), then
    the body."""
    text = clean_text(_normalize_newlines(text))
    meta, body = _split_front_matter(text)
    lines = body.strip().split("\n")
    title = _optional_str(meta, "title")
    heading = _HEADING.match(lines[0]) if lines else None
    if heading:
        lines = lines[1:]  # the heading is the title, not a paragraph
        title = title or heading.group("title").strip()
    paragraphs = split_paragraphs("\n".join(lines))
    if not paragraphs:
        raise ValueError("the report has no text; write the report below the front matter")
    published = _optional_date(meta.get("published"), "published")
    return Report(
        id=_optional_id(meta) or report_id,
        title=title or derive_title(paragraphs[0]),
        paragraphs=paragraphs,
        published=published or mtime,
        published_from_mtime=published is None,
        source=_optional_str(meta, "source"),
        url=_optional_str(meta, "url"),
        path=path,
        language=normalize_code(meta.get("language", meta.get("lang"))),
    )


# What libyaml says past 1,000 levels of nesting (the pure-Python parser recurses instead).
_TOO_DEEP = "exceeded maximum nesting depth"
_NESTED_TOO_DEEPLY = "broken front matter: nested too deeply to read; use plain 'key: value' lines"


@cache
def yaml_loader() -> Any:
    """libyaml's parser, where PyYAML has it (its wheels do), with the same safe
    constructor: ten times faster than the pure-Python one, which was a twentieth of a
    cold start."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _split_front_matter(text: str) -> tuple[Mapping[str, object], str]:
    lines = text.split("\n")
    if not lines or not _FRONT_MATTER_FENCE.match(lines[0]):
        return {}, text
    end = next((i for i in range(1, len(lines)) if _FRONT_MATTER_END.match(lines[i])), None)
    if end is None:
        raise ValueError(
            "broken front matter: the '---' on line 1 is never closed; "
            "end the front matter with a line holding only '---'"
        )
    import yaml  # here, not at start-up: a restart from the index cache reads no file

    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=yaml_loader())  # a safe loader
    except yaml.YAMLError as error:
        if _TOO_DEEP in str(error):
            raise ValueError(_NESTED_TOO_DEEPLY) from error
        detail = " ".join(str(error).split())
        raise ValueError(f"broken front matter: {detail}") from error
    except RecursionError as error:  # the pure-Python parser's limit
        raise ValueError(_NESTED_TOO_DEEPLY) from error
    except (ValueError, OverflowError) as error:  # e.g. "published: 2024-13-45"
        raise ValueError(
            f"broken front matter: a value cannot be read ({error}); "
            "write dates in ISO format such as 2012-07-23"
        ) from error
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValueError(
            f"broken front matter: expected 'key: value' lines, got a {type(meta).__name__}"
        )
    return {str(key): value for key, value in meta.items()}, "\n".join(lines[end + 1 :])


def parse_jsonl_line(line: str, *, default_id: str, path: str, mtime: datetime) -> Report:
    """One JSON object: text (required), id, title, source, published, url, lang."""
    return report_from_record(_load_json(line), default_id=default_id, path=path, mtime=mtime)


def json_document_records(text: str) -> list[object] | dict[str, object]:
    """A .json file's reports: one object, or an array of them (each checked on its own
    by `report_from_record`, so one bad object costs only itself)."""
    document = _load_json(text)
    if isinstance(document, list):
        if not document:
            raise ValueError("an empty array: put report objects in it")
        return document
    if isinstance(document, dict):
        return document
    raise ValueError(f"expected a report object or an array of them, got {type(document).__name__}")


def _load_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # A JSON Lines line is one line: its column alone says where.
        where = f"column {error.colno}"
        if error.lineno > 1:
            where = f"line {error.lineno} {where}"
        raise ValueError(f"invalid JSON ({error.msg} at {where})") from error
    except RecursionError as error:
        raise ValueError(
            "invalid JSON: nested too deeply to read; a report is one flat JSON object"
        ) from error


def report_from_record(record: object, *, default_id: str, path: str, mtime: datetime) -> Report:
    """One decoded JSON report object (a JSONL line, an item of a .json file) → `Report`."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if isinstance(text, str):
        text = clean_text(_normalize_newlines(text))
    if not isinstance(text, str) or not text.strip():
        raise ValueError('missing "text": each report needs "text" as a non-empty string')
    paragraphs = split_paragraphs(text)
    published = _optional_date(record.get("published"), "published")
    return Report(
        id=_optional_id(record) or default_id,
        title=_optional_str(record, "title") or derive_title(paragraphs[0]),
        paragraphs=paragraphs,
        published=published or mtime,
        published_from_mtime=published is None,
        source=_optional_str(record, "source"),
        url=_optional_str(record, "url"),
        path=path,
        language=normalize_code(record.get("lang", record.get("language"))),
    )


def document_report(
    paragraphs: Sequence[str],
    *,
    report_id: str,
    path: str,
    mtime: datetime,
    title: str | None,
    published: datetime | None,
    source: str | None = None,
    url: str | None = None,
    author: str | None = None,
    pages: Sequence[int] = (),
    language: object = None,
) -> Report:
    """The report of a document (a web page, a PDF, a Word file): titled by its first
    paragraph when it names no title, dated by the file when it carries no date."""
    return Report(
        id=report_id,
        title=title or derive_title(paragraphs[0]),
        paragraphs=tuple(paragraphs),
        published=published or mtime,
        published_from_mtime=published is None,
        source=source,
        url=url,
        path=path,
        author=author,
        pages=tuple(pages),
        language=normalize_code(language),
    )


def derive_title(text: str, limit: int = 90) -> str:
    """A display title from the first sentence, without a '(CNN) -- ' dateline."""
    text = _DATELINE.sub("", text.strip(), count=1)
    sentences = split_sentences(text)
    title = " ".join(sentences[0].split()) if sentences else ""
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]
    if len(title) > limit:
        cut = title[: limit - 1]
        if " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        title = cut.rstrip(" ,;:-–—") + "…"
    return title or "Untitled report"


def split_paragraphs(body: str) -> tuple[str, ...]:
    """Paragraphs are separated by blank lines; each is stripped, empty ones dropped."""
    return tuple(part.strip() for part in _BLANK_LINES.split(body) if part.strip())


def _normalize_newlines(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _optional_str(record: Mapping[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'"{key}" must be a string, got {type(value).__name__}')
    return clean_text(str(value)).strip() or None


def _optional_id(record: Mapping[str, object]) -> str | None:
    return _optional_str(record, "id")


def parse_date(value: object, key: str = "published") -> datetime | None:
    """An ISO date or datetime (or a date object) → aware UTC datetime; None for none.
    Raises ValueError saying how to write it."""
    return _optional_date(value, key)


def _optional_date(value: object, key: str) -> datetime | None:
    """ISO date or datetime → aware UTC datetime; a date means midnight UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(), tzinfo=UTC)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(
                f'"{key}": cannot read {value!r} as a date; use ISO format such as '
                f"2012-07-23 or 2012-07-23T14:30:00Z"
            ) from error
    else:
        raise ValueError(f'"{key}" must be an ISO date string, got {type(value).__name__}')
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as error:  # 9999-12-31T23:59:59-05:00 is past year 9999 in UTC
        raise ValueError(
            f'"{key}": {value!s} is out of range once converted to UTC; '
            "use a real date between the years 1 and 9999"
        ) from error
