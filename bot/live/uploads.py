"""Reports sent to the bot: a safe file name, an atomic write into REPORTS_DIR, and the
file indexed at once.  Nothing here knows about Telegram (bot/telegram/uploads.py
downloads the document and tells the admin what came of it).

An upload lands in `REPORTS_DIR/uploads/NAME`.  It is written first under
`uploads/.incoming/` (a hidden folder: the folder walk never enters it), read there
once to check that it holds a report, then moved into place with `os.replace`, so the
library never sees half a file and a broken file never replaces a good one.  The same
name uploaded again replaces the file; so does the same name with another report
suffix (`report.md` after `report.txt`), since both would make the same report id.
`Stored` says what was kept: its name, size and sha256 (who sent it is recorded in the
store by bot/telegram/uploads.py) and the names of the uploads it replaced.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from retrieval import listing
from retrieval.changes import Change
from retrieval.library import Library
from retrieval.loader import load_file
from retrieval.models import Report
from retrieval.search import SearchEngine

UPLOADS_FOLDER = "uploads"
INCOMING_FOLDER = ".incoming"
MAX_NAME_CHARS = 120
# File systems allow 255 bytes a name; leave room for what tools add.
MAX_NAME_BYTES = 200
# Longer example questions would be cut when shown, and then not be what was checked.
MAX_EXAMPLE_CHARS = 200
_READ_CHUNK = 1 << 16


class Failure(Enum):
    """Why an upload was not kept (bot/telegram/wording.py says each to the admin)."""

    NO_NAME = "no file name"
    UNSUPPORTED = "not a report format"
    TOO_BIG = "too big"
    NOT_A_FOLDER = "REPORTS_DIR is one file"
    UNREADABLE = "cannot be read"
    WRITE_FAILED = "cannot be written"
    DOWNLOAD_FAILED = "cannot be downloaded"


class UploadFailed(Exception):
    """An upload that was refused or failed; `detail` names the problem (may be empty)."""

    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Stored:
    """An upload that is in the folder and indexed."""

    name: str
    reports: tuple[Report, ...]
    passages: int
    change: Change | None
    replaced: bool
    size: int  # bytes
    sha256: str  # hex
    # Who is quoted in it, for an example question.
    speakers: tuple[str, ...] = ()
    # Other uploads it replaced and deleted: the same stem in another format.
    dropped: tuple[str, ...] = ()


def safe_name(name: str | None) -> str | None:
    """A file name that is safe to write in the uploads folder, or None when nothing is
    left of `name`: its last path component, without control or format characters,
    leading dots, "~" or "#", trailing dots or spaces, at most MAX_NAME_CHARS characters
    and MAX_NAME_BYTES bytes (the suffix kept)."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in name)
    name = " ".join(name.split()).strip(".~# ")
    if not name:
        return None
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 10:
        stem, suffix = name, ""
    suffix = f".{suffix}" if suffix else ""
    while stem and (
        len(stem) + len(suffix) > MAX_NAME_CHARS
        or len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES
    ):
        stem = stem[:-1]
    stem = stem.rstrip(".~# ")
    return f"{stem}{suffix}" if stem else None


def check_name(name: str | None) -> str:
    """The safe name of a document, or UploadFailed (no usable name, or not a format the
    folder walk reads: `listing.REPORT_SUFFIXES`, read now, as formats are added)."""
    safe = safe_name(name)
    if safe is None:
        raise UploadFailed(Failure.NO_NAME)
    if not listing.is_report_name(safe):
        raise UploadFailed(Failure.UNSUPPORTED, listing.suffix_of(safe).lower())
    return safe


def supported_suffixes() -> list[str]:
    return sorted(listing.REPORT_SUFFIXES)


class Uploads:
    """The uploads folder of one library."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.root = library.root
        self.folder = self.root / UPLOADS_FOLDER

    def relative(self, name: str) -> str:
        return f"{UPLOADS_FOLDER}/{name}"

    def incoming(self, name: str) -> Path:
        """A fresh hidden path to write an upload to before it is checked (made here)."""
        if not self.root.is_dir():
            raise UploadFailed(Failure.NOT_A_FOLDER)
        folder = self.folder / INCOMING_FOLDER
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # A folder of its own per upload: the file keeps its name (formats go by it).
            place = folder / secrets.token_hex(8)
            place.mkdir()
        except OSError as error:
            raise UploadFailed(Failure.WRITE_FAILED, describe(error)) from None
        return place / name

    def discard(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()

    def keep(self, written: Path) -> Stored:
        """Check the file written at `written` (from `incoming`), move it into place and
        index it; UploadFailed when it holds no report (it is then discarded).  Reads the
        file (a worker thread's job), to measure and hash it too."""
        name = written.name
        try:
            loaded = load_file(written, self.root)
            if not loaded.reports:
                reason = loaded.problems[0].reason if loaded.problems else "no report in it"
                raise UploadFailed(Failure.UNREADABLE, reason)
            size, sha256 = measure(written)
            target = self.folder / name
            replaced = target.exists()
            os.replace(written, target)
        except OSError as error:
            raise UploadFailed(Failure.WRITE_FAILED, describe(error)) from None
        finally:
            self.discard(written)
        dropped = tuple(sibling.name for sibling in self._same_stem(name))
        for sibling in dropped:
            replaced = True
            self.forget(sibling)
        change, content = self.library.index_file(self.relative(name))
        if content is None or not content.parts:
            reason = content.problems[0].reason if content and content.problems else ""
            self.forget(name)
            raise UploadFailed(Failure.UNREADABLE, reason)
        reports = tuple(part.reports[0] for part in content.parts)
        passages = [p for part in content.parts for p in part.passages]
        speakers = tuple(dict.fromkeys(p.speaker for p in passages if p.speaker))
        return Stored(
            name, reports, len(passages), change, replaced, size, sha256, speakers, dropped
        )

    def _same_stem(self, name: str) -> list[Path]:
        stem = Path(name).stem
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return []
        return [
            path
            for path in entries
            if path.name != name and path.stem == stem and listing.is_report_name(path.name)
        ]

    def names(self) -> list[str]:
        try:
            return sorted(p.name for p in self.folder.iterdir() if listing.is_report_name(p.name))
        except OSError:
            return []

    def forget(self, name: str) -> Change | None:
        """Delete the upload `name` and drop its reports; None when nothing changed.
        FileNotFoundError when there is no such upload."""
        safe = safe_name(name)
        if safe is None or safe != name:
            raise FileNotFoundError(name)
        (self.folder / safe).unlink()
        change, _ = self.library.index_file(self.relative(safe))
        return change


def measure(path: Path) -> tuple[int, str]:
    """The size in bytes and the hex sha256 of the file at `path` (read once)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(_READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def example_question(
    engine: SearchEngine, reports: tuple[Report, ...], speakers: tuple[str, ...] = ()
) -> str | None:
    """A question `engine` answers from one of `reports` (its best answer comes from
    them), or None: who is quoted in them (`speakers`), or what their titles name."""
    ids = {report.id for report in reports}
    candidates = [f"What did {speaker} say?" for speaker in speakers]
    candidates += [f"What about {report.title}?" for report in reports]
    candidates += [report.first_sentence.rstrip(".") + "?" for report in reports]
    fitting = [q for q in candidates if len(q) <= MAX_EXAMPLE_CHARS]
    for question in dict.fromkeys(fitting[:20]):
        hits = engine.search(question, top=1)
        if hits and hits[0].report.id in ids:
            return question
    return None


def describe(error: OSError) -> str:
    """An OSError for the admin: what went wrong, never a path of ours."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if error.errno is not None:
        return os.strerror(error.errno).lower()
    return type(error).__name__
