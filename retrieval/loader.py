"""Find report files under a path, read them safely and parse them.

A file that cannot be used is skipped: it becomes a `LoadProblem` (and a
warning on the "retrieval.loader" logger) and every other report still
loads.  Nothing here raises for a bad file, whatever goes wrong in it; only a
path that does not exist at all raises ReportsNotFoundError.

Reports come from the reports root only: a symlink (to a file or a folder,
directly or through a chain of links) whose target lies outside the root's
real path is skipped with a problem saying how to opt in, unless the caller
passes `follow_outside_links=True` (the REPORTS_FOLLOW_OUTSIDE_LINKS setting).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from retrieval.errors import ReportsNotFoundError
from retrieval.formats import (
    json_document_records,
    parse_jsonl_line,
    parse_markdown,
    parse_plain_text,
    report_from_record,
)
from retrieval.listing import OUTSIDE_LINKS_SETTING as OUTSIDE_LINKS_SETTING
from retrieval.listing import REPORT_SUFFIXES as REPORT_SUFFIXES
from retrieval.listing import (
    Lister,
    is_report_name,
    outside_reason,
    within,
)
from retrieval.listing import LoadProblem as LoadProblem
from retrieval.loader_io import MAX_DOCUMENT_BYTES as MAX_DOCUMENT_BYTES
from retrieval.loader_io import MAX_FILE_BYTES as MAX_FILE_BYTES
from retrieval.loader_io import MAX_LINE_BYTES as MAX_LINE_BYTES
from retrieval.loader_io import (
    Unreadable,
    jsonl_lines,
    open_regular,
    read_document,
    read_text,
)
from retrieval.models import Report

logger = logging.getLogger("retrieval.loader")

# One broken export must not flood the log: past this many bad lines (or objects of a
# .json array), a file's further bad ones are counted in one closing problem.
MAX_LINE_PROBLEMS = 50
# The formats read as bytes (each parser decodes its own), and how big a file of each may be.
_DOCUMENT_LIMITS = {
    ".pdf": MAX_DOCUMENT_BYTES,
    ".docx": MAX_DOCUMENT_BYTES,
    ".html": MAX_FILE_BYTES,
    ".htm": MAX_FILE_BYTES,
}
# What the sentences that list the formats say.
FORMATS_HINT = ".txt, .md, .json, .jsonl, .html, .pdf, .docx"


@dataclass(frozen=True, slots=True)
class LoadResult:
    reports: tuple[Report, ...]
    problems: tuple[LoadProblem, ...]


@dataclass(frozen=True, slots=True)
class FolderScan:
    """What a walk of the reports root found."""

    files: list[Path]  # the report files, in load order
    problems: tuple[LoadProblem, ...]  # folders and links that were not followed, and why
    other_files: tuple[Path, ...]  # files of other types (.pdf, .csv…), never read


def is_report_file(path: Path) -> bool:
    """A file of a report format (listing.REPORT_SUFFIXES) that is not hidden, a backup or
    half written."""
    return is_report_name(path.name)


def describe_skipped_types(paths: Iterable[Path]) -> str | None:
    """One log line for files of other types, e.g. 'skipped 3 files of types .csv,
    .pdf: …'; None when there are none."""
    paths = list(paths)
    suffixes = sorted({path.suffix.lower() or "(no extension)" for path in paths})
    count = len(paths)
    if not suffixes:
        return None
    files = "1 file" if count == 1 else f"{count} files"
    kinds = "type" if len(suffixes) == 1 else "types"
    return (
        f"skipped {files} of {kinds} {', '.join(suffixes)}: "
        f"not a report format (use {FORMATS_HINT})"
    )


def load_reports(path: str | Path, *, follow_outside_links: bool = False) -> LoadResult:
    """Load one report file, or every report file under a folder (recursively)."""
    root = Path(path).expanduser()
    if not root.exists() and not root.is_symlink():
        raise ReportsNotFoundError(
            f"no reports at {root}: the path does not exist. "
            f"Point it at a folder of reports or at one report file ({FORMATS_HINT})."
        )
    walk_problems: list[LoadProblem] = []
    if root.is_dir():
        scan = scan_folder(root, follow_outside_links=follow_outside_links)
        walk_problems = list(scan.problems)
        for problem in walk_problems:
            _warn(problem)
        skipped = describe_skipped_types(scan.other_files)
        if skipped:
            logger.warning("%s: %s", root, skipped)
        # The walk has kept only files inside the root (or was told to follow links).
        results = [_load_guarded(file, root, confine=False) for file in scan.files]
    else:
        # The operator named this very file: it is the root, wherever it leads.
        results = [_load_guarded(root, root, confine=False)]
    # Files come in path order and a JSONL file's reports in line order.
    reports = [report for result in results for report in result.reports]
    problems_found = walk_problems + [p for result in results for p in result.problems]
    unique, duplicates = _drop_duplicate_ids(reports)
    for problem in duplicates:
        _warn(problem)
    return LoadResult(reports=tuple(unique), problems=tuple(problems_found + duplicates))


def report_files(path: str | Path, *, follow_outside_links: bool = False) -> list[Path]:
    """The files load_reports(path) would read, in the same order (e.g. for cache keys)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return [root] if root.exists() and is_report_file(root) else []
    return scan_folder(root, follow_outside_links=follow_outside_links).files


def scan_folder(path: str | Path, *, follow_outside_links: bool = False) -> FolderScan:
    """Walk a reports folder: its report files in load order, the folders and links it
    did not follow (nothing logged: the caller decides when to), and other files.
    The walk is `retrieval.listing.Lister`'s, the one the live library uses too."""
    root = Path(path).expanduser()
    lister = Lister(root, follow_outside_links=follow_outside_links)
    walk = lister.walk()
    files = [Path(file) for file in sorted(walk.files, key=lister.order_key)]
    others = tuple(sorted(Path(file) for file in walk.other_files))
    return FolderScan(files, tuple(walk.problems), others)


def load_file(path: Path, root: Path, *, follow_outside_links: bool = False) -> LoadResult:
    """Load one file; `root` makes the relative path that stable ids are built from
    (`root` may be the file itself).  A file whose real path lies outside root's real
    path is a problem unless `follow_outside_links`."""
    return _load_guarded(path, root, confine=not follow_outside_links)


def _load_guarded(path: Path, root: Path, *, confine: bool) -> LoadResult:
    try:
        return _load_file(path, root, confine)
    except Exception as error:
        # A parser bug or an input nobody foresaw must cost this file, never the load.
        return _problem(path, f"{_unexpected(error)}; fix or remove the file")


def _load_file(path: Path, root: Path, confine: bool) -> LoadResult:
    if not is_report_file(path):
        return _problem(
            path,
            f"not a report file: use one of {', '.join(sorted(REPORT_SUFFIXES))} "
            "(hidden, backup and partial files are ignored)",
        )
    if confine and not _is_inside(path, root):
        return _problem(path, outside_reason(path, root))
    relative = _relative_id_path(path, root)
    opened = open_regular(path)
    if isinstance(opened, Unreadable):
        return _problem(path, opened.reason)
    handle, info = opened
    suffix = path.suffix.lower()
    limit = _DOCUMENT_LIMITS.get(suffix)
    with handle:
        mtime = datetime.fromtimestamp(info.st_mtime, tz=UTC)
        if suffix == ".jsonl":
            return _load_jsonl(handle, path, relative, mtime)
        content: str | bytes | Unreadable = (
            read_text(handle, path, info.st_size)
            if limit is None
            else read_document(handle, path, info.st_size, limit)
        )
    if isinstance(content, Unreadable):
        return _problem(path, content.reason)
    if isinstance(content, str) and suffix == ".json":
        return _load_json(content, path, relative, mtime)
    parse = _parser(suffix)
    try:
        report = parse(content, report_id=relative, path=str(path), mtime=mtime)
    except ValueError as error:
        return _problem(path, str(error))
    return LoadResult((report,), ())


def _parser(suffix: str) -> Callable[..., Report]:
    """The parser of a report format; those of documents are imported when first needed,
    so a folder without such files costs start-up nothing for them."""
    if suffix == ".txt":
        return parse_plain_text
    if suffix == ".pdf":
        from retrieval.format_pdf import parse_pdf

        return parse_pdf
    if suffix == ".docx":
        from retrieval.format_docx import parse_docx

        return parse_docx
    if suffix in (".html", ".htm"):
        from retrieval.format_html import parse_html

        return parse_html
    return parse_markdown


def _load_json(text: str, path: Path, relative: str, mtime: datetime) -> LoadResult:
    """A .json file: one report object, or an array of them, each on its own like a
    JSON Lines file's lines (a bad one costs only itself)."""
    try:
        records = json_document_records(text)
    except ValueError as error:
        return _problem(path, str(error))
    if not isinstance(records, list):
        try:
            report = report_from_record(records, default_id=relative, path=str(path), mtime=mtime)
        except ValueError as error:
            return _problem(path, str(error))
        return LoadResult((report,), ())
    reports: list[Report] = []
    problems = _Problems(path, "objects")
    for number, record in enumerate(records, start=1):
        try:
            reports.append(
                report_from_record(
                    record, default_id=f"{relative}:{number}", path=str(path), mtime=mtime
                )
            )
        except Exception as error:
            # One object nobody foresaw costs that object, never the rest of the array.
            reason = str(error) if isinstance(error, ValueError) else _unexpected(error)
            problems.add(f"{path}[{number}]", reason)
    return LoadResult(tuple(reports), problems.closed())


def _load_jsonl(handle: BinaryIO, path: Path, relative: str, mtime: datetime) -> LoadResult:
    reports: list[Report] = []
    problems = _Problems(path, "lines")
    any_line = False

    def bad(number: int, reason: str) -> None:
        problems.add(f"{path}:{number}", reason)

    for number, line in jsonl_lines(handle):
        any_line = True
        if isinstance(line, Unreadable):
            bad(number, line.reason)
            continue
        try:
            reports.append(
                parse_jsonl_line(
                    line, default_id=f"{relative}:{number}", path=str(path), mtime=mtime
                )
            )
        except ValueError as error:
            bad(number, str(error))
        except Exception as error:
            # One line nobody foresaw costs that line, never the rest of the file.
            bad(number, _unexpected(error))
    found = problems.closed()
    if not any_line:
        found += (_warned(path, "empty file: it holds no text"),)
    return LoadResult(tuple(reports), found)


def _unexpected(error: Exception) -> str:
    detail = " ".join(str(error).split())
    if len(detail) > 200:
        detail = detail[:199] + "…"
    return f"cannot be read as a report ({type(error).__name__}: {detail})"


def _is_inside(path: Path | str, root: Path | str) -> bool:
    """Whether `path`, all links followed, lies within `root`'s real path."""
    try:
        below = Path(path).relative_to(root).parts
    except ValueError:
        below = ("..",)
    if ".." not in below:
        # No link between the root and the file: it is where its path says.  A few
        # lstat calls, where realpath costs one per component of the whole path.
        step = Path(root)
        for part in below:
            step /= part
            if step.is_symlink():
                break
        else:
            return True
    return within(os.path.realpath(path), os.path.realpath(root))


def _relative_id_path(path: Path, root: Path) -> str:
    """'sub/report' for root/sub/report.txt: the stable id of a file's report."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = Path(path.name)
    if not relative.name:  # root is the file itself
        relative = Path(path.name)
    return relative.with_suffix("").as_posix()


def _drop_duplicate_ids(reports: list[Report]) -> tuple[list[Report], list[LoadProblem]]:
    """Keep the first report with each id, in (path, position) order."""
    seen: dict[str, str] = {}
    unique: list[Report] = []
    problems: list[LoadProblem] = []
    for report in reports:
        if report.id in seen:
            problems.append(
                LoadProblem(
                    report.path or report.id,
                    f"duplicate id {report.id!r} (already used in {seen[report.id]}): "
                    "give each report its own id",
                )
            )
            continue
        seen[report.id] = report.path or report.id
        unique.append(report)
    return unique, problems


def _problem(path: Path, reason: str) -> LoadResult:
    return LoadResult((), (_warned(path, reason),))


class _Problems:
    """The bad lines (or objects) of one file, each logged; past MAX_LINE_PROBLEMS they
    are only counted, and `closed` ends the list with one "N more" problem."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self.listed: list[LoadProblem] = []
        self.unlisted = 0

    def add(self, where: str, reason: str) -> None:
        if len(self.listed) >= MAX_LINE_PROBLEMS:
            self.unlisted += 1
            return
        problem = LoadProblem(where, reason)
        _warn(problem)
        self.listed.append(problem)

    def closed(self) -> tuple[LoadProblem, ...]:
        if not self.unlisted:
            return tuple(self.listed)
        more = f"{self.unlisted} more bad {self.what}, not listed one by one"
        return (*self.listed, _warned(self.path, more))


def _warned(path: Path, reason: str) -> LoadProblem:
    problem = LoadProblem(str(path), reason)
    _warn(problem)
    return problem


def _warn(problem: LoadProblem) -> None:
    logger.warning("skipped %s: %s", problem.path, problem.reason)
