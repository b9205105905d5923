"""Where each report comes from: the folder, an upload, a feed or a channel (pure).

What /sources counts and what /forget may remove.  A report without a file is a
feed entry, or a channel post when its id starts with `CHANNEL_ID_PREFIX`, whose
"//" no id made from a file's path can hold (the loader makes those from a relative
path, which never has two slashes in a row); an upload's file lies in
`REPORTS_DIR/uploads/`.  Who sent the newest upload comes from the store's upload
records (`newest_upload`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from bot.live.uploads import UPLOADS_FOLDER
from bot.storage.records import UploadRecord
from retrieval.models import Report

CHANNEL_ID_PREFIX = "telegram-channel://"


class Origin(Enum):
    FOLDER = "folder"
    UPLOAD = "upload"
    FEED = "feed"
    CHANNEL = "channel"


def origin_of(report: Report, root: Path) -> Origin:
    if report.path is None:
        return Origin.CHANNEL if report.id.startswith(CHANNEL_ID_PREFIX) else Origin.FEED
    if Path(report.path).parent == root / UPLOADS_FOLDER:
        return Origin.UPLOAD
    return Origin.FOLDER


@dataclass(frozen=True, slots=True)
class Source:
    """One line of /sources: a folder, the uploads, one feed or one channel."""

    origin: Origin
    label: str  # a feed's or channel's title; empty for the folder and the uploads
    count: int
    newest: datetime


def sources(reports: Iterable[Report], root: Path) -> list[Source]:
    """The reports counted per source, in the order folder, uploads, feeds, channels (each
    by title), with the newest date of each."""
    counts: dict[tuple[Origin, str], int] = {}
    newest: dict[tuple[Origin, str], datetime] = {}
    for report in reports:
        origin = origin_of(report, root)
        key = (origin, (report.source or "") if origin in (Origin.FEED, Origin.CHANNEL) else "")
        counts[key] = counts.get(key, 0) + 1
        newest[key] = max(newest.get(key, report.published), report.published)
    order = list(Origin)
    found = [
        Source(origin, label, count, newest[origin, label])
        for (origin, label), count in counts.items()
    ]
    return sorted(found, key=lambda s: (order.index(s.origin), s.label.casefold()))


def newest_upload(
    reports: Iterable[Report], root: Path, records: Iterable[UploadRecord]
) -> UploadRecord | None:
    """The newest record of an upload still answered from (a report of `reports` is in its
    file), or None: no upload was recorded (those before reports-bot recorded them)."""
    kept = {Path(r.path).name for r in reports if r.path and origin_of(r, root) is Origin.UPLOAD}
    return max((r for r in records if r.name in kept), key=lambda r: r.uploaded_at, default=None)
