"""Find report files under a path, read them safely and parse them.

A file that cannot be used is skipped: it becomes a `LoadProblem` (and a
warning on the "retrieval.loader" logger) and every other report still
loads.  Nothing here raises for a bad file; only a path that does not exist
at all raises ReportsNotFoundError.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from retrieval.errors import ReportsNotFoundError
from retrieval.formats import parse_jsonl_line, parse_markdown, parse_plain_text
from retrieval.models import Report

logger = logging.getLogger("retrieval.loader")

MAX_FILE_BYTES = 20 * 1024 * 1024
REPORT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".jsonl"})
# Names that editors, downloads and sync tools give to files still being written.
_PARTIAL_SUFFIXES = (".swp", ".swo", ".tmp", ".temp", ".part", ".partial", ".crdownload")


@dataclass(frozen=True, slots=True)
class LoadProblem:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class LoadResult:
    reports: tuple[Report, ...]
    problems: tuple[LoadProblem, ...]


def is_report_file(path: Path) -> bool:
    """A .txt/.md/.markdown/.jsonl file that is not hidden, a backup or half written."""
    name = path.name
    if name.startswith((".", "~", "#")) or name.endswith(("~", "#")):
        return False  # ".x", "~$x.txt", "#x.txt#", "x.txt~", ".#x.txt"
    if name.lower().endswith(_PARTIAL_SUFFIXES):
        return False
    return path.suffix.lower() in REPORT_SUFFIXES


def load_reports(path: str | Path) -> LoadResult:
    """Load one report file, or every report file under a folder (recursively)."""
    root = Path(path).expanduser()
    if not root.exists() and not root.is_symlink():
        raise ReportsNotFoundError(
            f"no reports at {root}: the path does not exist. "
            "Point it at a folder of reports or at one .txt, .md or .jsonl file."
        )
    walk_problems: list[LoadProblem] = []
    if root.is_dir():
        results = [load_file(file, root) for file in _sorted_files(root, walk_problems)]
        for problem in walk_problems:
            _warn(problem)
    else:
        results = [load_file(root, root.parent)]
    # Files come in path order and a JSONL file's reports in line order.
    reports = [report for result in results for report in result.reports]
    problems_found = walk_problems + [p for result in results for p in result.problems]
    unique, duplicates = _drop_duplicate_ids(reports)
    for problem in duplicates:
        _warn(problem)
    return LoadResult(reports=tuple(unique), problems=tuple(problems_found + duplicates))


def report_files(path: str | Path) -> list[Path]:
    """The files load_reports(path) would read, in the same order (e.g. for cache keys)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return [root] if root.exists() and is_report_file(root) else []
    return _sorted_files(root, [])


def _sorted_files(root: Path, problems: list[LoadProblem]) -> list[Path]:
    return sorted(
        _walk(root, problems), key=lambda file: (_relative_id_path(file, root), file.name)
    )


def load_file(path: Path, root: Path) -> LoadResult:
    """Load one file; `root` makes the relative path that stable ids are built from."""
    relative = _relative_id_path(path, root)
    if not is_report_file(path):
        return _problem(
            path,
            f"not a report file: use one of {', '.join(sorted(REPORT_SUFFIXES))} "
            "(hidden, backup and partial files are ignored)",
        )
    read = _read_text(path)
    if isinstance(read, LoadProblem):
        _warn(read)
        return LoadResult((), (read,))
    text, mtime = read
    if path.suffix.lower() == ".jsonl":
        return _load_jsonl(text, path, relative, mtime)
    parse: Callable[..., Report] = (
        parse_plain_text if path.suffix.lower() == ".txt" else parse_markdown
    )
    try:
        report = parse(text, report_id=relative, path=str(path), mtime=mtime)
    except ValueError as error:
        return _problem(path, str(error))
    return LoadResult((report,), ())


def _load_jsonl(text: str, path: Path, relative: str, mtime: datetime) -> LoadResult:
    reports: list[Report] = []
    problems: list[LoadProblem] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            reports.append(
                parse_jsonl_line(
                    line, default_id=f"{relative}:{number}", path=str(path), mtime=mtime
                )
            )
        except ValueError as error:
            problem = LoadProblem(f"{path}:{number}", str(error))
            _warn(problem)
            problems.append(problem)
    return LoadResult(tuple(reports), tuple(problems))


def _read_text(path: Path) -> tuple[str, datetime] | LoadProblem:
    """The file's text and modification time, or why it cannot be used."""
    try:
        info = path.stat()  # follows symlinks: a dangling or looping one fails here
    except OSError as error:
        return LoadProblem(str(path), _describe_os_error(path, error))
    if not stat.S_ISREG(info.st_mode):
        return LoadProblem(str(path), "not a regular file (a pipe, device or socket); skipped")
    if info.st_size > MAX_FILE_BYTES:
        return LoadProblem(str(path), _too_big(info.st_size))
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # it may have grown since stat()
    except OSError as error:
        return LoadProblem(str(path), _describe_os_error(path, error))
    if len(data) > MAX_FILE_BYTES:
        return LoadProblem(str(path), _too_big(len(data)))
    nul = data.find(b"\0")
    if nul >= 0:
        return LoadProblem(str(path), f"binary data (a NUL byte at byte {nul}), not a text report")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return LoadProblem(
            str(path), f"invalid UTF-8 at byte {error.start}: save the file as UTF-8"
        )
    if not text.strip():
        return LoadProblem(str(path), "empty file: it holds no text")
    return text, datetime.fromtimestamp(info.st_mtime, tz=UTC)


def _too_big(size: int) -> str:
    mib = 1024 * 1024
    return (
        f"file too big ({size / mib:.1f} MiB; the limit is {MAX_FILE_BYTES // mib} MiB): "
        "split it into smaller files"
    )


def _describe_os_error(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop: the link points back to itself"
    if error.errno == errno.ENOENT and path.is_symlink():
        return f"dangling symlink: its target {os.readlink(path)} does not exist"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: make the file readable for the bot's user"
    return f"cannot read: {error.strerror or error}"


def _walk(root: Path, problems: list[LoadProblem]) -> Iterator[Path]:
    """Report files under `root`, sorted, following symlinks but never in circles."""
    visited: dict[str, str] = {}

    def on_error(error: OSError) -> None:
        where = Path(error.filename) if error.filename else root
        problems.append(LoadProblem(str(where), _describe_os_error(where, error)))

    for folder, subfolders, files in os.walk(root, onerror=on_error, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:
            subfolders[:] = []
            first = visited[real]
            if Path(folder).is_relative_to(first):
                reason = f"symlink loop: leads back to {first}, which is already being read"
            else:
                reason = f"same folder as {first}, which is already read"
            problems.append(LoadProblem(folder, reason + "; skipped"))
            continue
        visited[real] = folder
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            candidate = Path(folder, name)
            if is_report_file(candidate):
                yield candidate


def _relative_id_path(path: Path, root: Path) -> str:
    """'sub/report' for root/sub/report.txt: the stable id of a file's report."""
    try:
        relative = path.relative_to(root)
    except ValueError:
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
    problem = LoadProblem(str(path), reason)
    _warn(problem)
    return LoadResult((), (problem,))


def _warn(problem: LoadProblem) -> None:
    logger.warning("skipped %s: %s", problem.path, problem.reason)
