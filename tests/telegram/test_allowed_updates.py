"""ALLOWED_UPDATES (what setWebhook and getUpdates ask Telegram for) is exactly what HANDLERS
act on: a type left out would never reach a handler, a type asked for in vain costs traffic
and brings updates the library may fail to parse (polls have been seen to)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, InlineQueryHandler, MessageHandler

from bot.app import ALLOWED_UPDATES, HANDLERS
from tests.telegram.updates import ANN, GROUP, message_dict, update, user_dict

# Every update type that carries a message, the only kind the message handlers look at.
MESSAGE_TYPES = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.BUSINESS_MESSAGE,
    Update.EDITED_BUSINESS_MESSAGE,
)
# Handler classes whose update types the samples below cover; any other kind of handler
# must be added here, with its samples, and its type to ALLOWED_UPDATES.
COVERED = (CommandHandler, MessageHandler, CallbackQueryHandler, InlineQueryHandler)


def samples(kind: str) -> list[Update]:
    """Updates of `kind` the bot might get: text, a document, a sticker.  (Commands too are
    messages with text; the CommandHandlers take no update type the others do not.)"""
    if kind == Update.CALLBACK_QUERY:
        query = {"id": "1", "from": user_dict(ANN), "chat_instance": "c", "data": "more:1"}
        query["message"] = message_dict(ANN, "an answer")
        return [update(callback_query=query)]
    if kind == Update.INLINE_QUERY:
        return [
            update(inline_query={"id": "1", "from": user_dict(ANN), "query": "q", "offset": ""})
        ]
    contents: list[dict[str, Any]] = [
        message_dict(ANN, "a question"),
        message_dict(GROUP, "a question in a group"),
        message_dict(ANN, None, document={"file_id": "f", "file_unique_id": "u"}),
        message_dict(ANN, None, sticker={
            "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
            "is_animated": False, "is_video": False,
        }),
    ]  # fmt: skip
    if kind in (Update.BUSINESS_MESSAGE, Update.EDITED_BUSINESS_MESSAGE):
        contents = [{**c, "business_connection_id": "b"} for c in contents]
    return [update(**{kind: content}) for content in contents]


def handled(kind: str) -> bool:
    return any(handler.check_update(u) for handler in HANDLERS for u in samples(kind))


def test_every_handler_is_of_a_kind_whose_update_types_are_checked_here() -> None:
    assert all(isinstance(handler, COVERED) for handler in HANDLERS)


def test_allowed_updates_are_exactly_the_types_a_handler_takes() -> None:
    kinds = (*MESSAGE_TYPES, Update.CALLBACK_QUERY, Update.INLINE_QUERY)
    taken = {kind for kind in kinds if handled(kind)}
    assert taken == set(ALLOWED_UPDATES)
    assert len(ALLOWED_UPDATES) == len(set(ALLOWED_UPDATES))
    assert set(ALLOWED_UPDATES) <= set(Update.ALL_TYPES)


def test_edited_messages_are_left_out_because_no_handler_answers_them() -> None:
    assert not handled(Update.EDITED_MESSAGE)
    assert Update.EDITED_MESSAGE not in ALLOWED_UPDATES
    assert handled(Update.EDITED_CHANNEL_POST)  # an edited post replaces its report
