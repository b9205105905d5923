"""Pure rendering for live reports: subscription replies, pushes and `/latest TOPIC`.

Built on `bot/telegram/html.py` (the same escaping, the same answer HTML, the
same 4096-character budget), so a push looks exactly like an answer to a
question, with a line on top saying which subscription brought it.  The words
come from `bot/telegram/wording.py`, translated by the `Words` each function is handed.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.telegram import wording
from bot.telegram.html import Rendered, answer_html, esc, fits_message, render_latest
from bot.telegram.i18n import ENGLISH, Words
from bot.text import NAME_MAX_CHARS, shorten
from retrieval.models import Hit, Report

# Topics are shown whole up to this, then shortened: a push is about the report.
TOPIC_SHOWN_CHARS = 80
# Topics named in a push's header; the rest are counted.
HEADER_TOPICS = 3


def _topic(topic: str, words: Words, limit: int = TOPIC_SHOWN_CHARS) -> str:
    return words(wording.TOPIC).format(topic=esc(shorten(topic, limit)))


def _command(topic: str) -> str:
    """The topic as it goes after a command the user can copy (/latest TOPIC)."""
    return esc(shorten(topic, TOPIC_SHOWN_CHARS))


def _list(topics: Sequence[str], words: Words) -> str:
    return "\n".join(f"{n}. {_topic(t, words)}" for n, t in enumerate(topics, start=1))


_EXAMPLE = esc(wording.EXAMPLE_TOPIC)

# -- /subscribe --------------------------------------------------------------------------


def render_subscribe_usage(current: Sequence[str], *, words: Words = ENGLISH) -> Rendered:
    lines = [words(wording.SUBSCRIBE_USAGE).format(example=_EXAMPLE)]
    if current:
        lines += ["", words(wording.YOU_FOLLOW), _list(current, words)]
    return Rendered("\n".join(lines))


def render_subscribed(topic: str, *, new: bool, words: Words = ENGLISH) -> Rendered:
    if not new:
        return Rendered(words(wording.ALREADY_FOLLOWING).format(topic=_topic(topic, words)))
    return Rendered(
        words(wording.SUBSCRIBED).format(topic=_topic(topic, words), command=_command(topic))
    )


def render_topic_too_long(limit: int, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.TOPIC_TOO_LONG).format(limit=limit))


def render_topic_without_words(topic: str, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(
        words(wording.TOPIC_WITHOUT_WORDS).format(topic=_topic(topic, words), example=_EXAMPLE)
    )


def render_too_many_subscriptions(limit: int, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.TOO_MANY_TOPICS).format(limit=limit))


def render_subscriptions_unavailable(*, words: Words = ENGLISH) -> Rendered:
    return Rendered(words(wording.SUBSCRIPTIONS_OFF))


# -- /subscriptions and /unsubscribe ----------------------------------------------------------


def render_subscriptions(topics: Sequence[str], *, words: Words = ENGLISH) -> Rendered:
    if not topics:
        return Rendered(words(wording.FOLLOW_NOTHING).format(example=_EXAMPLE))
    header = words.plural(wording.FOLLOWING_TOPICS, len(topics)).format(count=len(topics))
    hint = words(wording.UNSUBSCRIBE_HINT)
    return Rendered(f"{header}\n{_list(topics, words)}\n\n{hint}")


def render_unsubscribe_usage(topics: Sequence[str], *, words: Words = ENGLISH) -> Rendered:
    if not topics:
        return Rendered(words(wording.NOTHING_TO_STOP))
    return Rendered(words(wording.UNSUBSCRIBE_USAGE).format(topics=_list(topics, words)))


def render_unsubscribed(topics: Sequence[str], *, words: Words = ENGLISH) -> Rendered:
    if len(topics) == 1:
        return Rendered(words(wording.UNSUBSCRIBED_ONE).format(topic=_topic(topics[0], words)))
    return Rendered(words(wording.UNSUBSCRIBED_ALL).format(count=len(topics)))


def render_not_subscribed(topic: str, topics: Sequence[str], *, words: Words = ENGLISH) -> Rendered:
    if not topics:
        return Rendered(words(wording.NOT_FOLLOWING_ANY).format(topic=_topic(topic, words)))
    return Rendered(
        words(wording.NOT_FOLLOWING).format(topic=_topic(topic, words), topics=_list(topics, words))
    )


# -- pushes --------------------------------------------------------------------------------


def render_push(hit: Hit, topics: Sequence[str], *, words: Words = ENGLISH) -> Rendered:
    """A new report's best passage on the chat's topics, like an answer, under a header."""
    shown = words(wording.LIST_SEPARATOR).join(
        _topic(t, words, NAME_MAX_CHARS // 2) for t in topics[:HEADER_TOPICS]
    )
    more = (
        words(wording.PUSH_MORE_TOPICS).format(count=len(topics) - HEADER_TOPICS)
        if len(topics) > HEADER_TOPICS
        else ""
    )
    header = words(wording.PUSH_HEADER).format(topics=shown, more=more)
    answer = answer_html(hit, words=words)
    markup = f"{header}\n{answer}"
    if not fits_message(markup):  # the answer alone is built to fit; the header goes first
        markup = answer
    return Rendered(markup)


def render_more_new_reports(topic: str, *, words: Words = ENGLISH) -> Rendered:
    return Rendered(
        words(wording.PUSH_OVERFLOW).format(topic=_topic(topic, words), command=_command(topic))
    )


# -- /latest TOPIC -------------------------------------------------------------------------


def render_latest_on_topic(
    reports: Sequence[Report],
    total_reports: int,
    topic: str,
    note: str = "",
    *,
    words: Words = ENGLISH,
) -> Rendered:
    if not reports:
        return Rendered(
            words(wording.NONE_ON_TOPIC).format(topic=_topic(topic, words), command=_command(topic))
        )
    # The note is escaped by render_latest, so the topic goes in unescaped here.
    about = words(wording.ON_TOPIC).format(topic=shorten(topic, TOPIC_SHOWN_CHARS))
    return render_latest(reports, total_reports, f"{about} {note}".strip(), words=words)
