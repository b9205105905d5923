"""Which messages are meant for the bot, and the question inside one: pure decisions.

In a private chat every text is a question.  In a group only what is addressed
to the bot is: /ask, a mention of @bot, or a reply to one of its messages; a
bare /command may be meant for another bot, /command@ours is ours.  Used by
the handlers (`questions.py`, `commands.py`) and by the access guard, which
refuses aloud only what was addressed to the bot.
"""

from __future__ import annotations

import re

from telegram import Message
from telegram.constants import ChatType

_ASK_PREFIX = re.compile(r"^/ask(?:@\w+)?(?=\s|$)", re.IGNORECASE)


def mention_pattern(bot_username: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@{re.escape(bot_username)}(?!\w)", re.IGNORECASE)


def clean_question(text: str, bot_username: str | None) -> str:
    """The question inside a message: without a leading /ask and without mentions of us.

    Used both for a new message and for the message a "More" press points back
    to, so both always search for the same words.
    """
    question = _ASK_PREFIX.sub("", text.strip(), count=1)
    if bot_username:
        question = mention_pattern(bot_username).sub(" ", question)
    return " ".join(question.split())


def mentions_bot(text: str, bot_username: str | None) -> bool:
    return bool(bot_username) and mention_pattern(str(bot_username)).search(text) is not None


def is_reply_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def command_is_for_us(command: str, bot_username: str | None) -> bool:
    """In groups a bare /command may be meant for another bot; /command@us is ours."""
    _, _, target = command.partition("@")
    return bool(target) and bool(bot_username) and target.lower() == str(bot_username).lower()
