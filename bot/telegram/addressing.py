"""Which messages are meant for the bot, and the question inside one: pure decisions.

In a private chat every text is a question.  In a group only what is addressed
to the bot is: /ask, a mention of @bot, or a reply to one of its messages; a
bare /command may be meant for another bot, /command@ours is ours.  Used by
the handlers (`questions.py`, `commands.py`), and through `is_answered` by the
two guards: access refuses aloud only what the bot would answer, and the rate
limit counts only that.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from telegram import Message, MessageEntity
from telegram.constants import ChatType

from bot.telegram import wording

_ASK_PREFIX = re.compile(r"^/ask(?:@\w+)?(?=\s|$)", re.IGNORECASE)
KNOWN_COMMANDS = frozenset(command.name for command in wording.COMMANDS)


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


def command_of(message: Message) -> str | None:
    """The "/command" or "/command@bot" a message starts with, as Telegram marks it (a
    bot_command entity at offset 0, which is what python-telegram-bot goes by too)."""
    text, entities = message.text, message.entities
    if not text or not entities:
        return None
    first = entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    return text[: first.length]  # commands are ASCII: UTF-16 units are characters


def is_answered(
    message: Message,
    bot_username: str | None,
    bot_id: int,
    commands: Collection[str] = KNOWN_COMMANDS,
) -> bool:
    """Whether bot/app.py's handlers reply to this new message: everything in a private
    chat; in a group our commands (bare or /command@us), a text that mentions us, or a
    reply to us.  Must agree with the handlers: the guards go by it."""
    if is_private(message):
        return True
    command = command_of(message)
    if command is not None:
        name, _, target = command[1:].partition("@")
        return command_is_for_us(command, bot_username) if target else name.lower() in commands
    if message.text is not None and mentions_bot(message.text, bot_username):
        return True
    return is_reply_to_bot(message, bot_id)
