"""Pure rendering for live reports: subscription replies, pushes and `/latest TOPIC`.

Built on `bot.render` (the same escaping, the same answer HTML, the same
4096-character budget), so a push looks exactly like an answer to a question,
with a line on top saying which subscription brought it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.render import (
    NAME_MAX_CHARS,
    Rendered,
    answer_html,
    esc,
    fits_message,
    render_latest,
    shorten,
)
from retrieval.models import Hit, Report

# Topics are shown whole up to this, then shortened: a push is about the report.
TOPIC_SHOWN_CHARS = 80
EXAMPLE_TOPIC = "refugees Turkey"


def _topic(topic: str, limit: int = TOPIC_SHOWN_CHARS) -> str:
    return f"“{esc(shorten(topic, limit))}”"


def _list(topics: Sequence[str]) -> str:
    return "\n".join(f"{n}. {_topic(t)}" for n, t in enumerate(topics, start=1))


# -- /subscribe --------------------------------------------------------------------------


def render_subscribe_usage(current: Sequence[str]) -> Rendered:
    lines = [
        "Tell me what to follow, e.g. "
        f"<code>/subscribe {EXAMPLE_TOPIC}</code>. When a new report on it arrives "
        "I send you the passage that matches, quoted, with where it comes from."
    ]
    if current:
        lines += ["", "You follow:", _list(current)]
    return Rendered("\n".join(lines))


def render_subscribed(topic: str, *, new: bool) -> Rendered:
    if not new:
        return Rendered(f"You already follow {_topic(topic)}. /subscriptions lists them all.")
    return Rendered(
        f"🔔 Subscribed to {_topic(topic)}. When a new report on it arrives I'll send "
        "you the passage that matches.\n"
        f"/latest {esc(shorten(topic, TOPIC_SHOWN_CHARS))} shows the newest ones already here; "
        "/subscriptions lists yours; /unsubscribe stops them."
    )


def render_topic_too_long(limit: int) -> Rendered:
    return Rendered(f"That topic is too long: keep it under {limit} characters, a few key words.")


def render_topic_without_words(topic: str) -> Rendered:
    return Rendered(
        f"{_topic(topic)} has no words I can search for. Use names, places or other key "
        f"words, e.g. <code>/subscribe {EXAMPLE_TOPIC}</code>."
    )


def render_too_many_subscriptions(limit: int) -> Rendered:
    return Rendered(
        f"You already follow {limit} topics, the most I keep per chat. "
        "Drop one with /unsubscribe TOPIC first (/subscriptions lists them)."
    )


def render_subscriptions_unavailable() -> Rendered:
    return Rendered("Subscriptions are not available on this bot right now.")


# -- /subscriptions and /unsubscribe ----------------------------------------------------------


def render_subscriptions(topics: Sequence[str]) -> Rendered:
    if not topics:
        return Rendered(
            f"You follow no topics. Start with e.g. <code>/subscribe {EXAMPLE_TOPIC}</code>."
        )
    noun = "topic" if len(topics) == 1 else "topics"
    return Rendered(
        f"<b>You follow {len(topics)} {noun}</b>\n{_list(topics)}\n\n"
        "/unsubscribe TOPIC (or its number) stops one; /unsubscribe all stops every one."
    )


def render_unsubscribe_usage(topics: Sequence[str]) -> Rendered:
    if not topics:
        return Rendered("You follow no topics, so there is nothing to stop.")
    return Rendered(
        "Which one? <code>/unsubscribe TOPIC</code>, its number, or "
        f"<code>/unsubscribe all</code>.\n\n{_list(topics)}"
    )


def render_unsubscribed(topics: Sequence[str]) -> Rendered:
    if len(topics) == 1:
        return Rendered(f"🔕 Unsubscribed from {_topic(topics[0])}.")
    return Rendered(f"🔕 Unsubscribed from all {len(topics)} topics.")


def render_not_subscribed(topic: str, topics: Sequence[str]) -> Rendered:
    if not topics:
        return Rendered(f"You don't follow {_topic(topic)}; you follow no topics at all.")
    return Rendered(f"You don't follow {_topic(topic)}. You follow:\n{_list(topics)}")


# -- pushes --------------------------------------------------------------------------------


def render_push(hit: Hit, topics: Sequence[str]) -> Rendered:
    """A new report's best passage on the chat's topics, like an answer, under a header."""
    shown = ", ".join(_topic(t, NAME_MAX_CHARS // 2) for t in topics[:3])
    more = f" and {len(topics) - 3} more" if len(topics) > 3 else ""
    header = f"🔔 <b>New report</b> on {shown}{more}"
    markup = f"{header}\n{answer_html(hit)}"
    if not fits_message(markup):  # the answer alone is built to fit; the header goes first
        markup = answer_html(hit)
    return Rendered(markup)


def render_more_new_reports(topic: str) -> Rendered:
    command = esc(shorten(topic, TOPIC_SHOWN_CHARS))
    return Rendered(
        f"🔔 More new reports on {_topic(topic)} arrived at once. /latest {command} lists them."
    )


# -- /latest TOPIC -------------------------------------------------------------------------


def render_latest_on_topic(
    reports: Sequence[Report], total_reports: int, topic: str, note: str = ""
) -> Rendered:
    if not reports:
        return Rendered(
            f"No reports on {_topic(topic)} yet. "
            f"<code>/subscribe {esc(shorten(topic, TOPIC_SHOWN_CHARS))}</code> and I'll tell "
            "you when one arrives."
        )
    about = f"On “{shorten(topic, TOPIC_SHOWN_CHARS)}”."
    return render_latest(reports, total_reports, f"{about} {note}".strip())
