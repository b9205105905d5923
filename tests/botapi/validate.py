"""Pure checks of Bot API objects, each failing with Telegram's own error text."""

from __future__ import annotations

import re
from typing import Any

from tests.botapi.html_check import BadRequest, FormattedText, message_text

MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_COMMANDS = 100
MAX_CALLBACK_ANSWER_CHARS = 200

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_RESULT_TYPES = frozenset(
    {
        "article",
        "photo",
        "gif",
        "mpeg4_gif",
        "video",
        "audio",
        "voice",
        "document",
        "location",
        "venue",
        "contact",
        "game",
        "sticker",
    }
)

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def _button_error(detail: str) -> BadRequest:
    return BadRequest(f"Bad Request: can't parse inline keyboard button: {detail}")


def check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _button_error('Field "text" must be of type String')
    if not text.strip():
        raise BadRequest("Bad Request: BUTTON_TEXT_INVALID")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _button_error("InlineKeyboardButton must have exactly one optional field")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str):
            raise _button_error('Field "callback_data" must be of type String')
        size = len(data.encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise BadRequest("Bad Request: BUTTON_DATA_INVALID")
    if "url" in button and not (isinstance(button["url"], str) and button["url"].strip()):
        raise BadRequest("Bad Request: BUTTON_URL_INVALID")


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate any reply markup; return the inline keyboard a message would carry, if any."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise BadRequest("Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise BadRequest("Bad Request: can't parse reply keyboard markup JSON object")
        return None  # Reply keyboards are not part of the message object.
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BadRequest('Bad Request: field "inline_keyboard" must be an Array of Arrays')
    for row in rows:
        for button in row:
            check_inline_button(button)
    # Telegram leaves out an empty keyboard.
    if not any(rows):
        return None
    return {"inline_keyboard": rows}


def callback_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every button of an inline keyboard that sends callback data."""
    if not markup:
        return []
    return [b for row in markup["inline_keyboard"] for b in row if "callback_data" in b]


def check_input_message_content(content: Any, strict_ampersand: bool) -> FormattedText | None:
    if not isinstance(content, dict):
        raise BadRequest("Bad Request: can't parse InputMessageContent: must be an Object")
    if "message_text" not in content:
        return None  # Location, venue, contact and invoice contents carry no text.
    text = content["message_text"]
    if not isinstance(text, str):
        raise BadRequest('Bad Request: field "message_text" must be of type String')
    entities = content.get("entities")
    return message_text(
        text, content.get("parse_mode"), entities, strict_ampersand=strict_ampersand
    )


def check_inline_results(results: Any, strict_ampersand: bool) -> None:
    if not isinstance(results, list):
        raise BadRequest("Bad Request: can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise BadRequest("Bad Request: RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise BadRequest("Bad Request: can't parse inline query result: must be an Object")
        result_id = result.get("id")
        if not isinstance(result_id, str) or not (
            1 <= len(result_id.encode("utf-8")) <= MAX_RESULT_ID_BYTES
        ):
            raise BadRequest("Bad Request: RESULT_ID_INVALID")
        if result_id in seen:
            raise BadRequest("Bad Request: RESULT_ID_DUPLICATE")
        seen.add(result_id)
        result_type = result.get("type")
        if result_type not in _RESULT_TYPES:
            raise BadRequest("Bad Request: RESULT_TYPE_INVALID")
        if result_type == "article":
            title = result.get("title")
            if not isinstance(title, str) or not title.strip():
                raise BadRequest("Bad Request: RESULT_TITLE_EMPTY")
            if "input_message_content" not in result:
                raise BadRequest("Bad Request: MESSAGE_EMPTY")
        if "input_message_content" in result:
            check_input_message_content(result["input_message_content"], strict_ampersand)
        if "reply_markup" in result:
            markup = result["reply_markup"]
            if not isinstance(markup, dict) or "inline_keyboard" not in markup:
                raise BadRequest("Bad Request: inline keyboard expected")
            check_reply_markup(markup)


def check_commands(commands: Any) -> list[dict[str, str]]:
    if not isinstance(commands, list):
        raise BadRequest("Bad Request: can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise BadRequest("Bad Request: BOT_COMMANDS_TOO_MUCH")
    checked: list[dict[str, str]] = []
    for command in commands:
        if not isinstance(command, dict):
            raise BadRequest("Bad Request: can't parse BotCommand: must be an Object")
        name = command.get("command")
        description = command.get("description")
        if not isinstance(name, str) or not _COMMAND.fullmatch(name):
            raise BadRequest("Bad Request: BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise BadRequest("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": name, "description": description})
    return checked
