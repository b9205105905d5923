"""Channel posts as reports: each post (its text, or a caption) of a channel listed in
CHANNEL_IDS, where the bot is an admin, becomes a report: the channel's title as
source, the post's date, its t.me link; an edit replaces it.  They are kept in the
state file (`Store.save_channel_post`), so a restart answers from them at once
(`bot/live/reports.py`'s `open_live`), and handed to the library like feed entries (`put_reports`).

A post's report id is `telegram-channel://CHAT/MESSAGE` (bot/live/sources.py says why
no folder report or feed entry can have it).  Posts of channels not listed are
ignored, with one log line each.  What takes the posts from Telegram is
bot/telegram/channel_posts.py; this module knows nothing of Telegram.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.live.reports import LiveReports
from bot.live.sources import CHANNEL_ID_PREFIX
from bot.storage.records import Store
from retrieval.formats import clean_text, derive_title
from retrieval.models import Report

TITLE_LINE_MAX_CHARS = 120
_PRIVATE_PREFIX = "-100"
_LINK = re.compile(
    r"(?:https?://)?(?:t|telegram)\.me/(?:(?P<c>c)/(?P<internal>[0-9]{1,20})|"
    r"(?P<username>[A-Za-z][A-Za-z0-9_]{3,31}))/(?P<message>[0-9]{1,12})/?(?:\?.*)?",
    re.IGNORECASE,
)


def internal_id(chat_id: int) -> int | None:
    """The channel's id in t.me/c/ links: its chat id without the -100 prefix."""
    text = str(chat_id)
    return int(text[4:]) if text.startswith(_PRIVATE_PREFIX) and len(text) > 4 else None


def post_link(chat_id: int, username: str | None, message_id: int) -> str | None:
    """https://t.me/USERNAME/ID for a public channel, https://t.me/c/INTERNAL/ID else."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    internal = internal_id(chat_id)
    return None if internal is None else f"https://t.me/c/{internal}/{message_id}"


def post_id(chat_id: int, message_id: int) -> str:
    return f"{CHANNEL_ID_PREFIX}{chat_id}/{message_id}"


def parse_post_id(report_id: str) -> tuple[int, int] | None:
    """(chat id, message id) of a channel post's report id, or None."""
    if not report_id.startswith(CHANNEL_ID_PREFIX):
        return None
    chat, _, message = report_id.removeprefix(CHANNEL_ID_PREFIX).partition("/")
    try:
        return int(chat), int(message)
    except ValueError:
        return None


def normalize_link(text: str) -> str | None:
    """A t.me post link as `post_link` spells it (any case of scheme and host,
    telegram.me, a trailing slash or query), or None when `text` is not one."""
    match = _LINK.fullmatch(text.strip())
    if match is None:
        return None
    if match["c"]:
        return f"https://t.me/c/{int(match['internal'])}/{int(match['message'])}"
    return f"https://t.me/{match['username']}/{int(match['message'])}"


def post_report(
    chat_id: int,
    channel_title: str | None,
    username: str | None,
    message_id: int,
    date: datetime,
    text: str,
) -> Report | None:
    """The report of one post; None when it has no words.  A short first line above
    more text is its title; otherwise the title is made from the first sentence."""
    lines = [" ".join(line.split()) for line in clean_text(text).splitlines()]
    paragraphs = [line for line in lines if line]
    if not paragraphs:
        return None
    if len(paragraphs) > 1 and len(paragraphs[0]) <= TITLE_LINE_MAX_CHARS:
        title, body = paragraphs[0], paragraphs[1:]
    else:
        title, body = derive_title(" ".join(paragraphs)), paragraphs
    return Report(
        id=post_id(chat_id, message_id),
        title=title or paragraphs[0][:TITLE_LINE_MAX_CHARS],
        paragraphs=tuple(body),
        published=date if date.tzinfo else date.replace(tzinfo=UTC),
        source=" ".join((channel_title or "").split()) or None,
        url=post_link(chat_id, username, message_id),
    )


def forget_post(store: Store, live: LiveReports, report_id: str) -> bool:
    """Drop a channel post's report (from the state file and, at the next refresh, from
    the answers); False when `report_id` is no kept post."""
    parsed = parse_post_id(report_id)
    if parsed is None:
        return False
    forgot = store.forget_channel_post(*parsed)
    live.library.remove_reports([report_id])
    return forgot
