"""Where each report comes from: the folder, an upload, a feed or a channel (pure).

What /sources counts and what /forget may remove.  A report without a file is a
feed entry, or a channel post when its id starts with `CHANNEL_ID_PREFIX`, whose
"//" no id made from a file's path can hold (the loader makes those from a relative
path, which never has two slashes in a row); an upload's file lies in
`REPORTS_DIR/uploads/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from bot.live.uploads import UPLOADS_FOLDER
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
