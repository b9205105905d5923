"""What Telegram shows of the bot before anyone writes to it, in every language with a
catalogue: the command menu (setMyCommands), the description of an empty chat
(setMyDescription) and the profile's short description (setMyShortDescription).

Each is set for each language's `language_code`, and English without one: that is
the list or text every other language falls back to.  The descriptions are read
first and written only when they differ, since Telegram limits how often a bot may
change them and the bot starts often (each restart, each replica).  All of it is a
convenience: a failure is one warning line and the bot answers all the same.
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import TelegramError

from bot.telegram import wording
from bot.telegram.html import command_menu, visible_text
from bot.telegram.i18n import Words, every_language

log = logging.getLogger(__name__)


async def set_profile(bot: Bot) -> None:
    """The menu and both descriptions, in every language (from the start-up hook)."""
    for words in every_language():
        try:
            await bot.set_my_commands(
                command_menu(wording.COMMANDS, words), language_code=words.code
            )
            await _set_descriptions(bot, words)
        except TelegramError as error:
            log.warning("could not set the bot's menu or description (%s): %s", words, error)


async def _set_descriptions(bot: Bot, words: Words) -> None:
    # Plain text in Telegram: no markup, and nothing to escape.
    description = visible_text(words(wording.DESCRIPTION))
    short = visible_text(words(wording.SHORT_DESCRIPTION))
    current = await bot.get_my_description(language_code=words.code)
    if current.description != description:
        await bot.set_my_description(description, language_code=words.code)
    current_short = await bot.get_my_short_description(language_code=words.code)
    if current_short.short_description != short:
        await bot.set_my_short_description(short, language_code=words.code)
