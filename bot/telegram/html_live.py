"""Pure rendering for live reports: subscription replies, pushes and `/latest TOPIC`.

Built on `bot/telegram/html.py` (the same escaping, the same answer HTML, the
same 4096-character budget), so a push looks exactly like an answer to a
question, with a line on top saying which subscription brought it.  The words
come from `bot/telegram/wording.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.telegram import wording
from bot.telegram.html import Rendered, answer_html, esc, fits_message, render_latest
from bot.text import NAME_MAX_CHARS, shorten
from retrieval.models import Hit, Report

# Topics are shown whole up to this, then shortened: a push is about the report.
TOPIC_SHOWN_CHARS = 80
# Topics named in a push's header; the rest are counted.
HEADER_TOPICS = 3


def _topic(topic: str, limit: int = TOPIC_SHOWN_CHARS) -> str:
    return wording.TOPIC.format(topic=esc(shorten(topic, limit)))


def _command(topic: str) -> str:
    """The topic as it goes after a command the user can copy (/latest TOPIC)."""
    return esc(shorten(topic, TOPIC_SHOWN_CHARS))


def _list(topics: Sequence[str]) -> str:
    return "\n".join(f"{n}. {_topic(t)}" for n, t in enumerate(topics, start=1))


# -- /subscribe --------------------------------------------------------------------------


def render_subscribe_usage(current: Sequence[str]) -> Rendered:
    lines = [wording.SUBSCRIBE_USAGE.format(example=wording.EXAMPLE_TOPIC)]
    if current:
        lines += ["", wording.YOU_FOLLOW, _list(current)]
    return Rendered("\n".join(lines))


def render_subscribed(topic: str, *, new: bool) -> Rendered:
    if not new:
        return Rendered(wording.ALREADY_FOLLOWING.format(topic=_topic(topic)))
    return Rendered(wording.SUBSCRIBED.format(topic=_topic(topic), command=_command(topic)))


def render_topic_too_long(limit: int) -> Rendered:
    return Rendered(wording.TOPIC_TOO_LONG.format(limit=limit))


def render_topic_without_words(topic: str) -> Rendered:
    return Rendered(
        wording.TOPIC_WITHOUT_WORDS.format(topic=_topic(topic), example=wording.EXAMPLE_TOPIC)
    )


def render_too_many_subscriptions(limit: int) -> Rendered:
    return Rendered(wording.TOO_MANY_TOPICS.format(limit=limit))


def render_subscriptions_unavailable() -> Rendered:
    return Rendered(wording.SUBSCRIPTIONS_OFF)


# -- /subscriptions and /unsubscribe ----------------------------------------------------------


def render_subscriptions(topics: Sequence[str]) -> Rendered:
    if not topics:
        return Rendered(wording.FOLLOW_NOTHING.format(example=wording.EXAMPLE_TOPIC))
    header = (
        wording.FOLLOWING_ONE
        if len(topics) == 1
        else wording.FOLLOWING_MANY.format(count=len(topics))
    )
    return Rendered(f"{header}\n{_list(topics)}\n\n{wording.UNSUBSCRIBE_HINT}")


def render_unsubscribe_usage(topics: Sequence[str]) -> Rendered:
    if not topics:
        return Rendered(wording.NOTHING_TO_STOP)
    return Rendered(wording.UNSUBSCRIBE_USAGE.format(topics=_list(topics)))


def render_unsubscribed(topics: Sequence[str]) -> Rendered:
    if len(topics) == 1:
        return Rendered(wording.UNSUBSCRIBED_ONE.format(topic=_topic(topics[0])))
    return Rendered(wording.UNSUBSCRIBED_ALL.format(count=len(topics)))


def render_not_subscribed(topic: str, topics: Sequence[str]) -> Rendered:
    if not topics:
        return Rendered(wording.NOT_FOLLOWING_ANY.format(topic=_topic(topic)))
    return Rendered(wording.NOT_FOLLOWING.format(topic=_topic(topic), topics=_list(topics)))


# -- pushes --------------------------------------------------------------------------------


def render_push(hit: Hit, topics: Sequence[str]) -> Rendered:
    """A new report's best passage on the chat's topics, like an answer, under a header."""
    shown = ", ".join(_topic(t, NAME_MAX_CHARS // 2) for t in topics[:HEADER_TOPICS])
    more = (
        wording.PUSH_MORE_TOPICS.format(count=len(topics) - HEADER_TOPICS)
        if len(topics) > HEADER_TOPICS
        else ""
    )
    header = wording.PUSH_HEADER.format(topics=shown, more=more)
    markup = f"{header}\n{answer_html(hit)}"
    if not fits_message(markup):  # the answer alone is built to fit; the header goes first
        markup = answer_html(hit)
    return Rendered(markup)


def render_more_new_reports(topic: str) -> Rendered:
    return Rendered(wording.PUSH_OVERFLOW.format(topic=_topic(topic), command=_command(topic)))


# -- /latest TOPIC -------------------------------------------------------------------------


def render_latest_on_topic(
    reports: Sequence[Report], total_reports: int, topic: str, note: str = ""
) -> Rendered:
    if not reports:
        return Rendered(wording.NONE_ON_TOPIC.format(topic=_topic(topic), command=_command(topic)))
    # The note is escaped by render_latest, so the topic goes in unescaped here.
    about = wording.ON_TOPIC.format(topic=shorten(topic, TOPIC_SHOWN_CHARS))
    return render_latest(reports, total_reports, f"{about} {note}".strip())
