"""The report files under a folder, with their sizes and modification times, fast:
the one walk of a reports folder, for the loader (`loader.scan_folder`), the index
cache's key and the live library alike, and the rules of what it lists.

`Lister` walks with plain strings and `os.scandir` (one stat per report file, for
the signature the index cache is keyed by): building and comparing a `Path` for
every file would take 2.5 s for 100,000 files, more than a restart may take in
all.  It can also walk one folder under the root alone, for a watcher that saw a
folder appear.

The rules: symlinks are followed, but a folder already walked under another name
(a loop, an alias) is walked once; hidden folders are not entered; a symlink whose
target lies outside the root's real path is skipped unless `follow_outside_links`;
hidden, backup and partial files are never mentioned; files of other types are
listed apart, for one line in the log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.loader_io import describe_os_error

REPORT_SUFFIXES = frozenset(
    {".txt", ".md", ".markdown", ".json", ".jsonl", ".html", ".htm", ".pdf", ".docx"}
)
# Names that editors, downloads and sync tools give to files still being written.
_PARTIAL_SUFFIXES = (".swp", ".swo", ".tmp", ".temp", ".part", ".partial", ".crdownload")
OUTSIDE_LINKS_SETTING = "REPORTS_FOLLOW_OUTSIDE_LINKS"

# What says a file changed: (size, mtime_ns), as the index cache's key has them.  A plain
# tuple: a restart makes 100,000s of them, and a record class costs ten times more.
Signature = tuple[int, int]


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A file, folder or link that was not read, and why (the reason says how to fix it)."""

    path: str
    reason: str


def is_report_name(name: str) -> bool:
    """A report file's name (REPORT_SUFFIXES) that is not hidden, a backup or half written."""
    return not is_ignored_name(name) and suffix_of(name).lower() in REPORT_SUFFIXES


def is_ignored_name(name: str) -> bool:
    """Hidden, backup and partial files: nobody meant them as reports, so never mention them."""
    if name.startswith((".", "~", "#")) or name.endswith(("~", "#")):
        return True  # ".x", "~$x.txt", "#x.txt#", "x.txt~", ".#x.txt"
    return name.lower().endswith(_PARTIAL_SUFFIXES)


def within(real: str, real_root: str) -> bool:
    """Whether the real path `real` is `real_root` or below it."""
    return real == real_root or os.path.commonpath((real, real_root)) == real_root


def outside_reason(path: Path | str, root: Path | str) -> str:
    return (
        f"outside the reports folder {root} (it leads to {os.path.realpath(path)}): "
        f"set {OUTSIDE_LINKS_SETTING}=true to read symlinks that lead out of it"
    )


@dataclass(slots=True)
class Walk:
    """What one walk found."""

    files: dict[str, Signature] = field(default_factory=dict)  # path → signature
    folders: dict[str, str] = field(default_factory=dict)  # each folder walked → its real path
    problems: list[LoadProblem] = field(default_factory=list)  # folders and links not followed
    other_files: list[str] = field(default_factory=list)  # files of other types, never read


def suffix_of(name: str) -> str:
    """`Path(name).suffix`, without making a Path."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def signature_of(path: str) -> Signature | None:
    """The file's signature (links followed); None when it is gone."""
    info = stat_of(path)
    return None if info is None else (info.st_size, info.st_mtime_ns)


def stat_of(path: str) -> os.stat_result | None:
    """`os.stat`, or for a link that leads nowhere (dangling, a loop) the link's own, so
    that it is listed and its load says what is wrong with it; None when it is gone."""
    try:
        return os.stat(path)
    except ValueError:
        return None
    except OSError:
        try:
            return os.lstat(path)
        except (OSError, ValueError):
            return None


class Lister:
    """Walks one reports folder by the loader's rules and names paths as it does."""

    def __init__(self, root: Path, *, follow_outside_links: bool = False) -> None:
        self.root = str(root)
        self.follow_outside_links = follow_outside_links
        self.real_root = os.path.realpath(root)
        # How the loader's Path(folder, name) spells a file under the root.
        self._prefix = "" if self.root == "." else self.root.rstrip("/") + "/"

    def path_of(self, relative: str) -> str:
        return self._prefix + relative if relative else self.root

    def relative(self, path: str) -> str:
        return path[len(self._prefix) :] if path != self.root else ""

    def join(self, folder: str, name: str) -> str:
        """A path in `folder` as the loader spells it (`join(folder, "")`: its prefix)."""
        return name if folder == "." else f"{folder.rstrip('/')}/{name}"

    def split(self, path: str) -> tuple[str, str]:
        """(folder, name) of a path below the root; the root's own folder is itself."""
        folder, _, name = self.relative(path).rpartition("/")
        return self.path_of(folder), name

    def order_key(self, path: str) -> tuple[str, str]:
        """The loader's file order: the report id path (relative, no suffix), then the name."""
        relative = self.relative(path)
        name = relative.rsplit("/", 1)[-1]
        suffix = suffix_of(name)
        return (relative[: len(relative) - len(suffix)] if suffix else relative), name

    def inside(self, path: str) -> bool:
        """Whether `path`, all links followed, lies within the root's real path."""
        real = os.path.realpath(path)
        return real == self.real_root or real.startswith(self.real_root.rstrip("/") + "/")

    def admits_file(self, path: str) -> bool:
        """Whether a walk of the folder `path` is in would list it (the folder passed)."""
        if not is_report_name(path.rsplit("/", 1)[-1]):
            return False
        return self.follow_outside_links or not os.path.islink(path) or self.inside(path)

    def walk(self, start: str = "", seen: dict[str, str] | None = None) -> Walk:
        """Every report file under the root, or under the folder `start` (relative to the
        root, its parent already walked); `seen` maps the real paths of folders walked
        before to their names, so that an alias of one of them is not walked again."""
        walk = Walk()
        top = self.path_of(start)
        if start:
            if any(part.startswith(".") for part in start.split("/")):
                return walk  # the loader never enters a hidden folder
            if self._leaves(top, walk):
                return walk
        seen = dict(seen or {})
        stack = [top]
        while stack:
            folder = stack.pop()
            subfolders = self._folder(folder, seen, walk)
            stack.extend(reversed(subfolders))  # depth first, in name order, as os.walk
        return walk

    def _folder(self, folder: str, seen: dict[str, str], walk: Walk) -> list[str]:
        """List one folder into `walk`; the subfolders to walk next, in order."""
        real = os.path.realpath(folder)
        first = seen.get(real)
        if first is not None:
            if folder == first or folder.startswith(first.rstrip("/") + "/"):
                reason = f"symlink loop: leads back to {first}, which is already being read"
            else:
                reason = f"same folder as {first}, which is already read"
            walk.problems.append(LoadProblem(folder, reason + "; skipped"))
            return []
        seen[real] = folder
        walk.folders[folder] = real
        try:
            with os.scandir(folder) as listed:
                entries = sorted(listed, key=lambda entry: entry.name)
        except OSError as error:
            where = Path(error.filename) if error.filename else Path(folder)
            walk.problems.append(LoadProblem(str(where), describe_os_error(where, error)))
            return []
        prefix = self.join(folder, "")
        subfolders: list[str] = []
        for entry in entries:
            name = entry.name
            path = prefix + name
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                if not name.startswith(".") and not self._leaves(path, walk, entry.is_symlink()):
                    subfolders.append(path)
            elif is_report_name(name):
                if not self._leaves(path, walk, entry.is_symlink()):
                    signature = signature_of(path)
                    if signature is not None:  # else gone since it was listed
                        walk.files[path] = signature
            elif not is_ignored_name(name):
                walk.other_files.append(path)
        return subfolders

    def _leaves(self, path: str, walk: Walk, is_link: bool | None = None) -> bool:
        """A link out of the root (a problem for `walk`), unless those are followed."""
        if self.follow_outside_links:
            return False
        if not (os.path.islink(path) if is_link is None else is_link) or self.inside(path):
            return False
        walk.problems.append(LoadProblem(path, outside_reason(path, self.root)))
        return True


def list_reports(root: Path, *, follow_outside_links: bool = False) -> list[tuple[str, Signature]]:
    """(path, signature) of every report file `loader.report_files(root)` names, in its order."""
    if not root.is_dir():
        signature = signature_of(str(root)) if is_report_name(root.name) else None
        return [] if signature is None else [(str(root), signature)]
    lister = Lister(root, follow_outside_links=follow_outside_links)
    files = lister.walk().files
    return sorted(files.items(), key=lambda item: lister.order_key(item[0]))
