"""Reading one report file's bytes safely, for the loader.

A .txt, .md, .json or .html file is read whole, up to MAX_FILE_BYTES; a PDF or
Word document (`read_document`), up to MAX_DOCUMENT_BYTES.  A JSONL export can be
far bigger than any single report file, so it is never read whole: each line
is read on its own (at most MAX_LINE_BYTES of it held at once) and checked for
NUL bytes and UTF-8 on its own, so one bad line costs only itself.  Whatever
cannot be used comes back as `Unreadable`, with a reason saying how to fix it.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# For .txt, .md, .json and .html files; a .jsonl file is read as a stream, capped per
# line instead.
MAX_FILE_BYTES = 20 * 1024 * 1024
# PDF and Word files carry fonts and images besides their text, so they may be bigger.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_LINE_BYTES = 4 * 1024 * 1024
_MIB = 1024 * 1024
# How much of an over-long line is read at a time while skipping the rest of it.
_SKIP_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file or a line that cannot be a report, and why."""

    reason: str


def open_regular(path: Path) -> tuple[BinaryIO, os.stat_result] | Unreadable:
    """The open file and its stat, or why it cannot be used."""
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return Unreadable(describe_os_error(path, error))
    try:
        info = os.fstat(fd)
    except OSError as error:
        os.close(fd)
        return Unreadable(describe_os_error(path, error))
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return Unreadable("not a regular file (a pipe, device or socket); skipped")
    return os.fdopen(fd, "rb"), info


def read_text(handle: BinaryIO, path: Path, size: int) -> str | Unreadable:
    """A .txt or .md file's text (`size` bytes long, said its stat), or why not."""
    if size > MAX_FILE_BYTES:
        return Unreadable(_too_big(size))
    try:
        data = handle.read(MAX_FILE_BYTES + 1)  # it may have grown since it was opened
    except OSError as error:
        return Unreadable(describe_os_error(path, error))
    if len(data) > MAX_FILE_BYTES:
        return Unreadable(_too_big(len(data)))
    nul = data.find(b"\0")
    if nul >= 0:
        return Unreadable(f"binary data (a NUL byte at byte {nul}), not a text report")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return Unreadable(f"invalid UTF-8 at byte {error.start}: save the file as UTF-8")
    if not text.strip():
        return Unreadable("empty file: it holds no text")
    return text


def read_document(
    handle: BinaryIO, path: Path, size: int, limit: int = MAX_DOCUMENT_BYTES
) -> bytes | Unreadable:
    """A binary document's bytes (a PDF, a Word file, an HTML page in any encoding)."""
    if size > limit:
        return Unreadable(_too_big(size, limit))
    try:
        data = handle.read(limit + 1)  # it may have grown since it was opened
    except OSError as error:
        return Unreadable(describe_os_error(path, error))
    if len(data) > limit:
        return Unreadable(_too_big(len(data), limit))
    if not data.strip():
        return Unreadable("empty file: it holds no text")
    return data


def jsonl_lines(
    handle: BinaryIO, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, str | Unreadable]]:
    """(line number, text or why not) for every line that is not blank, counted from 1."""
    number = 0
    while raw := handle.readline(max_line_bytes + 1):
        number += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            size = len(raw) + _skip_rest_of_line(handle)
            yield number, Unreadable(_line_too_long(size, max_line_bytes))
            continue
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        nul = raw.find(b"\0")
        if nul >= 0:
            yield number, Unreadable(f"binary data (a NUL byte at byte {nul} of the line)")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            reason = f"invalid UTF-8 at byte {error.start} of the line: save the file as UTF-8"
            yield number, Unreadable(reason)
            continue
        if text.strip():
            yield number, text


def describe_os_error(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop: the link points back to itself"
    if error.errno == errno.ENOENT and path.is_symlink():
        return f"dangling symlink: its target {os.readlink(path)} does not exist"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: make the file readable for the bot's user"
    return f"cannot read: {error.strerror or error}"


def _skip_rest_of_line(handle: BinaryIO) -> int:
    """Read up to and including the next newline; how many bytes that was."""
    skipped = 0
    while chunk := handle.readline(_SKIP_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _too_big(size: int, limit: int = MAX_FILE_BYTES) -> str:
    return (
        f"file too big ({size / _MIB:.1f} MiB; the limit is {limit // _MIB} MiB): "
        "split it into smaller files, or into a .jsonl file with one report a line"
    )


def _line_too_long(size: int, limit: int) -> str:
    return (
        f"line too long ({_size(size)}; the limit is {_size(limit)} a line): "
        "split the report, or drop what it does not need"
    )


def _size(count: int) -> str:
    if count < _MIB:
        return f"{count:,} bytes"
    return f"{count // _MIB} MiB" if count % _MIB == 0 else f"{count / _MIB:.1f} MiB"
