"""Updates as Telegram sends them, built for the pure tests of what the bot answers."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update

BOT_ID = 1000001
BOT_NAME = "reports_test_bot"
ANN = 111
GROUP = -100_555
# As Telegram marks a command: "/name" or "/name@bot" at the very start.
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")


def user_dict(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "U"}


def chat_dict(chat_id: int) -> dict[str, Any]:
    """A private chat for a positive id, a supergroup for a negative one."""
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "U"}
    return {"id": chat_id, "type": "supergroup", "title": "G"}


def message_dict(
    chat_id: int, text: str | None = None, *, reply_to_bot: bool = False, **extra: Any
) -> dict[str, Any]:
    """A message from ANN (`extra` may replace any field), a command marked as Telegram
    marks it, optionally replying to one of the bot's answers."""
    built: dict[str, Any] = {
        "message_id": 7,
        "date": 0,
        "chat": chat_dict(chat_id),
        "from": user_dict(ANN),
        **extra,
    }
    if text is not None:
        built["text"] = text
        command = _COMMAND.match(text)
        if command:
            built["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
    if reply_to_bot:
        built["reply_to_message"] = {
            "message_id": 6,
            "date": 0,
            "chat": chat_dict(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Reports"},
            "text": "an answer",
        }
    return built


def update(**fields: Any) -> Update:
    made = Update.de_json({"update_id": 1, **fields}, None)
    assert made is not None
    return made
