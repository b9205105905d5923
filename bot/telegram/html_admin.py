"""Pure: what admins read, as Telegram HTML: an upload's outcome, /sources (with the
reports' languages), /problems, /forget and the admins' /help lines.  Built on
`html.py`; every sentence is in `wording.py`, translated by the `Words` each function
is handed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.live.sources import Origin, Source
from bot.live.uploads import Failure, Stored, UploadFailed, supported_suffixes
from bot.storage.records import UploadRecord
from bot.telegram import wording
from bot.telegram.html import EXAMPLE_MAX_CHARS, Rendered, esc, fits_message, help_lines
from bot.telegram.html_languages import languages_line
from bot.telegram.i18n import ENGLISH, Words
from bot.text import TITLE_MAX_CHARS, shorten
from retrieval.loader import LoadProblem

NAME_SHOWN_CHARS = 80
REASON_SHOWN_CHARS = 300
PATH_SHOWN_CHARS = 120


def _name(name: str) -> str:
    return esc(shorten(name, NAME_SHOWN_CHARS))


def size_text(size: int, words: Words = ENGLISH) -> str:
    """10485760 → "10 MiB", 2000 → "2,000 bytes"."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return words.plural(wording.BYTES, size).format(count=size)


def passages_text(count: int, words: Words = ENGLISH) -> str:
    return words.plural(wording.PASSAGES, count).format(count=count)


def render_upload_failed(
    failed: UploadFailed, name: str, limit: int, *, words: Words = ENGLISH
) -> Rendered:
    """One line naming what went wrong with an upload."""
    reason = esc(shorten(failed.detail, REASON_SHOWN_CHARS))
    suffixes = words(wording.LIST_SEPARATOR).join(supported_suffixes())
    kind = failed.failure
    if kind is Failure.NO_NAME:
        text = words(wording.UPLOAD_NO_NAME)
    elif kind is Failure.UNSUPPORTED:
        text = (
            words(wording.UPLOAD_UNSUPPORTED).format(
                suffix=esc(failed.detail[:12]), suffixes=suffixes
            )
            if failed.detail
            else words(wording.UPLOAD_NO_SUFFIX).format(suffixes=suffixes)
        )
    elif kind is Failure.TOO_BIG:
        text = words(wording.UPLOAD_TOO_BIG).format(limit=size_text(limit, words))
    elif kind is Failure.NOT_A_FOLDER:
        text = words(wording.UPLOAD_NOT_A_FOLDER)
    elif kind is Failure.UNREADABLE:
        reason = reason or words(wording.NO_REPORT_IN_FILE)
        text = words(wording.UPLOAD_UNREADABLE).format(name=_name(name), reason=reason)
    elif kind is Failure.WRITE_FAILED:
        text = words(wording.UPLOAD_WRITE_FAILED).format(name=_name(name), reason=reason)
    else:
        text = words(wording.UPLOAD_DOWNLOAD_FAILED).format(name=_name(name), reason=reason)
    return Rendered(text)


def render_stored(stored: Stored, example: str | None, *, words: Words = ENGLISH) -> Rendered:
    """The upload is in: its title, how many passages, a question it answers now."""
    first = stored.reports[0]
    title = esc(shorten(first.title, TITLE_MAX_CHARS)) or words(wording.UNTITLED)
    if len(stored.reports) > 1:
        more = len(stored.reports) - 1
        title += words.plural(wording.UPLOAD_MORE_REPORTS, more).format(count=more)
    template = words(wording.UPLOAD_REPLACED if stored.replaced else wording.UPLOAD_ADDED)
    passages = passages_text(stored.passages, words)
    lines = [template.format(title=title, passages=passages, name=_name(stored.name))]
    if example:
        question = esc(shorten(example, EXAMPLE_MAX_CHARS))
        lines.append(words(wording.UPLOAD_TRY).format(question=question))
    else:
        lines.append(words(wording.UPLOAD_NO_EXAMPLE))
    lines.append(words(wording.UPLOAD_FORGET_HINT).format(name=_name(stored.name)))
    return Rendered("\n".join(lines))


_KINDS = {
    Origin.FOLDER: (wording.SOURCE_FOLDER, wording.FOLDER_LABEL),
    Origin.UPLOAD: (wording.SOURCE_UPLOADS, wording.UPLOADS_LABEL),
    Origin.FEED: (wording.SOURCE_FEED, wording.FEED_LABEL),
    Origin.CHANNEL: (wording.SOURCE_CHANNEL, wording.CHANNEL_LABEL),
}


def render_sources(
    found: Sequence[Source],
    newest_upload: UploadRecord | None = None,
    languages: Mapping[str, int] | None = None,
    *,
    words: Words = ENGLISH,
) -> Rendered:
    """A line per source; the uploads' line says who sent `newest_upload` and when (no
    record: nothing more).  Under the title, the reports' `languages` with how many
    reports each has (`SearchEngine.languages()`), when given."""
    if not found:
        return Rendered(words(wording.NO_SOURCES))
    total = sum(s.count for s in found)
    lines = [words.plural(wording.SOURCES_TITLE, total).format(count=total)]
    if languages:
        lines.append(languages_line(languages, words))
    for source in found:
        kind, label = _KINDS[source.origin]
        shown = esc(shorten(source.label, NAME_SHOWN_CHARS)) or words(label)
        line = words(wording.SOURCE_LINE).format(
            kind=kind, label=f"<b>{shown}</b>", count=source.count, day=words.day(source.newest)
        )
        if source.origin is Origin.UPLOAD and newest_upload is not None:
            line += words(wording.SOURCE_UPLOADER).format(
                user_id=newest_upload.user_id,
                day=words.day(datetime.fromtimestamp(newest_upload.uploaded_at, UTC)),
            )
        lines.append(line)
    return _fitted(lines, len(lines), words)


def render_problems(
    problems: Sequence[LoadProblem], root: Path, *, words: Words = ENGLISH
) -> Rendered:
    """Each file that could not be read and why, as many as fit one message."""
    if not problems:
        return Rendered(words(wording.NO_PROBLEMS))
    title = words.plural(wording.PROBLEMS_TITLE, len(problems)).format(count=len(problems))
    prefix = str(root).rstrip("/") + "/"
    lines = [title]
    for problem in problems:
        path = problem.path.removeprefix(prefix)
        lines.append(
            words(wording.PROBLEM_LINE).format(
                path=esc(shorten(path, PATH_SHOWN_CHARS)),
                reason=esc(shorten(problem.reason, REASON_SHOWN_CHARS)),
            )
        )
    return _fitted(lines, len(lines), words)


def _fitted(lines: list[str], total: int, words: Words) -> Rendered:
    """`lines` (a title, then items) cut to one message, saying how many were left out."""
    shown = list(lines)
    while len(shown) > 1:
        left = total - len(shown)
        more = [words(wording.PROBLEMS_MORE).format(count=left)] if left else []
        text = "\n".join(shown + more)
        if fits_message(text):
            return Rendered(text)
        shown.pop()
    return Rendered(shown[0])


def render_admin_help(*, words: Words = ENGLISH) -> str:
    """The admins' lines under /help."""
    return "\n".join(["", words(wording.HELP_ADMIN), *help_lines(wording.ADMIN_COMMANDS, words)])


def render_forget_usage(*, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.FORGET_USAGE))


def render_forgot_upload(name: str, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.FORGOT_UPLOAD).format(name=_name(name)))


def render_forgot_post(link: str, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.FORGOT_POST).format(link=esc(link)))


def render_forget_refused(name: str, origin: Origin | None, *, words: Words = ENGLISH) -> Rendered:
    if origin is Origin.FOLDER:
        return Rendered(words(wording.FORGET_FOLDER_REPORT).format(name=_name(name)))
    if origin is Origin.FEED:
        return Rendered(words(wording.FORGET_FEED_REPORT).format(name=_name(name)))
    return Rendered(words(wording.FORGET_UNKNOWN).format(name=_name(name)))
