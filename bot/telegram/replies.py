"""Sending what the render modules built: replies, edits, pushes and "typing…", and
the answers to button presses.

Every message the bot sends goes out here, as Telegram HTML without link
previews (a preview of the report's link would push the quote off screen).

A button press is answered exactly once: whoever answers it (a guard or a
handler) does so with `answer_press`, as the last thing it does, and it never
raises.  So when the error handler (`errors.py`) sees a press, whatever failed
came before the answer, and its apology is the one answer the press gets.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError

from bot.telegram.html import Rendered

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def reply(message: Message, rendered: Rendered, *, quote: bool = True) -> Message:
    """Send `rendered` as a reply to `message`.

    Answers always quote the question: a "More" press reads the question back
    from the message the answer replies to.
    """
    return await message.reply_text(
        rendered.text,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
        reply_parameters=(
            ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
            if quote
            else None
        ),
    )


async def edit(query: CallbackQuery, rendered: Rendered) -> None:
    """Show `rendered` in the message whose button was pressed."""
    try:
        await query.edit_message_text(
            rendered.text,
            parse_mode=ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as error:
        # A double press asks for the text the message already shows.
        if "not modified" not in str(error).lower():
            raise


async def remove_keyboard(query: CallbackQuery) -> None:
    """Drop the buttons of the message whose button was pressed: cosmetic, so a
    failure (the message is gone, or has no buttons left) is only logged."""
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError as error:
        log.info("could not remove the buttons under a pressed message: %s", error)


async def answer_press(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press, the last call for it: a failure is logged, not raised,
    so the error handler never answers the same press a second time."""
    try:
        await query.answer(text)
    except TelegramError as error:
        log.warning("could not answer button press %s: %s", query.id, error)


async def send(bot: Bot, chat_id: int, rendered: Rendered) -> None:
    """A message of the bot's own accord (a push), not a reply."""
    await bot.send_message(
        chat_id,
        rendered.text,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
    )


async def show_typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)
    except TelegramError as error:  # cosmetic: the answer matters, not the indicator
        log.debug("could not show typing in chat %s: %s", message.chat_id, error)
