"""Pure: what admins read, as Telegram HTML: an upload's outcome, /sources, /problems,
/forget and the admins' /help lines.  Built on `html.py`; every sentence is in
`wording.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.live.sources import Origin, Source
from bot.live.uploads import Failure, Stored, UploadFailed, supported_suffixes
from bot.storage.records import UploadRecord
from bot.telegram import wording
from bot.telegram.html import EXAMPLE_MAX_CHARS, Rendered, esc, fits_message
from bot.text import TITLE_MAX_CHARS, UNTITLED, day, shorten
from retrieval.loader import LoadProblem

NAME_SHOWN_CHARS = 80
REASON_SHOWN_CHARS = 300
PATH_SHOWN_CHARS = 120


def _name(name: str) -> str:
    return esc(shorten(name, NAME_SHOWN_CHARS))


def size_text(size: int) -> str:
    """10485760 → "10 MiB", 2000 → "2,000 bytes"."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


def passages_text(count: int) -> str:
    return wording.ONE_PASSAGE if count == 1 else wording.PASSAGES.format(count=count)


def render_upload_failed(failed: UploadFailed, name: str, limit: int) -> Rendered:
    """One line naming what went wrong with an upload."""
    reason = esc(shorten(failed.detail, REASON_SHOWN_CHARS))
    suffixes = ", ".join(supported_suffixes())
    kind = failed.failure
    if kind is Failure.NO_NAME:
        text = wording.UPLOAD_NO_NAME
    elif kind is Failure.UNSUPPORTED:
        text = (
            wording.UPLOAD_UNSUPPORTED.format(suffix=esc(failed.detail[:12]), suffixes=suffixes)
            if failed.detail
            else wording.UPLOAD_NO_SUFFIX.format(suffixes=suffixes)
        )
    elif kind is Failure.TOO_BIG:
        text = wording.UPLOAD_TOO_BIG.format(limit=size_text(limit))
    elif kind is Failure.NOT_A_FOLDER:
        text = wording.UPLOAD_NOT_A_FOLDER
    elif kind is Failure.UNREADABLE:
        text = wording.UPLOAD_UNREADABLE.format(name=_name(name), reason=reason or "no report")
    elif kind is Failure.WRITE_FAILED:
        text = wording.UPLOAD_WRITE_FAILED.format(name=_name(name), reason=reason)
    else:
        text = wording.UPLOAD_DOWNLOAD_FAILED.format(name=_name(name), reason=reason)
    return Rendered(text)


def render_stored(stored: Stored, example: str | None) -> Rendered:
    """The upload is in: its title, how many passages, a question it answers now."""
    first = stored.reports[0]
    title = esc(shorten(first.title or UNTITLED, TITLE_MAX_CHARS))
    if len(stored.reports) > 1:
        title += wording.UPLOAD_MORE_REPORTS.format(count=len(stored.reports) - 1)
    template = wording.UPLOAD_REPLACED if stored.replaced else wording.UPLOAD_ADDED
    lines = [
        template.format(
            title=title, passages=passages_text(stored.passages), name=_name(stored.name)
        )
    ]
    if example:
        lines.append(wording.UPLOAD_TRY.format(question=esc(shorten(example, EXAMPLE_MAX_CHARS))))
    else:
        lines.append(wording.UPLOAD_NO_EXAMPLE)
    lines.append(wording.UPLOAD_FORGET_HINT.format(name=_name(stored.name)))
    return Rendered("\n".join(lines))


_KINDS = {
    Origin.FOLDER: (wording.SOURCE_FOLDER, wording.FOLDER_LABEL),
    Origin.UPLOAD: (wording.SOURCE_UPLOADS, wording.UPLOADS_LABEL),
    Origin.FEED: (wording.SOURCE_FEED, wording.FEED_LABEL),
    Origin.CHANNEL: (wording.SOURCE_CHANNEL, wording.CHANNEL_LABEL),
}


def render_sources(found: Sequence[Source], newest_upload: UploadRecord | None = None) -> Rendered:
    """A line per source; the uploads' line says who sent `newest_upload` and when (no
    record: nothing more)."""
    if not found:
        return Rendered(wording.NO_SOURCES)
    lines = [wording.SOURCES_TITLE.format(total=sum(s.count for s in found))]
    for source in found:
        kind, label = _KINDS[source.origin]
        line = wording.SOURCE_LINE.format(
            kind=kind,
            label=f"<b>{esc(shorten(source.label or label, NAME_SHOWN_CHARS))}</b>",
            count=source.count,
            day=day(source.newest),
        )
        if source.origin is Origin.UPLOAD and newest_upload is not None:
            line += wording.SOURCE_UPLOADER.format(
                user_id=newest_upload.user_id,
                day=day(datetime.fromtimestamp(newest_upload.uploaded_at, UTC)),
            )
        lines.append(line)
    return _fitted(lines, len(lines))


def render_problems(problems: Sequence[LoadProblem], root: Path) -> Rendered:
    """Each file that could not be read and why, as many as fit one message."""
    if not problems:
        return Rendered(wording.NO_PROBLEMS)
    title = (
        wording.ONE_PROBLEM_TITLE
        if len(problems) == 1
        else wording.PROBLEMS_TITLE.format(count=len(problems))
    )
    prefix = str(root).rstrip("/") + "/"
    lines = [title]
    for problem in problems:
        path = problem.path.removeprefix(prefix)
        lines.append(
            wording.PROBLEM_LINE.format(
                path=esc(shorten(path, PATH_SHOWN_CHARS)),
                reason=esc(shorten(problem.reason, REASON_SHOWN_CHARS)),
            )
        )
    return _fitted(lines, len(lines))


def _fitted(lines: list[str], total: int) -> Rendered:
    """`lines` (a title, then items) cut to one message, saying how many were left out."""
    shown = list(lines)
    while len(shown) > 1:
        left = total - len(shown)
        text = "\n".join(shown + ([wording.PROBLEMS_MORE.format(count=left)] if left else []))
        if fits_message(text):
            return Rendered(text)
        shown.pop()
    return Rendered(shown[0])


def render_admin_help() -> str:
    """The admins' lines under /help."""
    lines = ["", wording.HELP_ADMIN]
    lines += [wording.HELP_LINE.format(usage=c.usage, does=c.does) for c in wording.ADMIN_COMMANDS]
    return "\n".join(lines)


def render_forget_usage() -> Rendered:
    return Rendered(wording.FORGET_USAGE)


def render_forgot_upload(name: str) -> Rendered:
    return Rendered(wording.FORGOT_UPLOAD.format(name=_name(name)))


def render_forgot_post(link: str) -> Rendered:
    return Rendered(wording.FORGOT_POST.format(link=esc(link)))


def render_forget_refused(name: str, origin: Origin | None) -> Rendered:
    if origin is Origin.FOLDER:
        return Rendered(wording.FORGET_FOLDER_REPORT.format(name=_name(name)))
    if origin is Origin.FEED:
        return Rendered(wording.FORGET_FEED_REPORT.format(name=_name(name)))
    return Rendered(wording.FORGET_UNKNOWN.format(name=_name(name)))
