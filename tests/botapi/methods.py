"""The Bot API methods the bot uses, strict the way Telegram is.

Each handler runs with ``World.cond`` held and returns the ``result`` JSON or raises
``BadRequest`` (400) / ``ApiError`` (any other code) carrying Telegram's description.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.botapi.html_check import BadRequest, message_text
from tests.botapi.params import Params
from tests.botapi.profile import (
    get_my_description,
    get_my_short_description,
    language_code,
    set_my_description,
    set_my_short_description,
)
from tests.botapi.state import DEFAULT_UPDATE_TYPES, World, command_scope_key
from tests.botapi.validate import (
    CHAT_ACTIONS,
    MAX_CALLBACK_ANSWER_CHARS,
    check_commands,
    check_inline_results,
    check_reply_markup,
)
from tests.botapi.webhook import (
    WEBHOOK_CONFLICT,
    delete_webhook,
    get_webhook_info,
    set_webhook,
)

MAX_UPDATES_LIMIT = 100
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class ApiError(Exception):
    """A non-400 Bot API error: ``error_code``, ``description`` and optional ``parameters``."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


class ConnectionDropped(Exception):
    """The listener is going down: close the connection without an answer."""


Handler = Callable[[World, Params, int], Any]


def get_me(world: World, params: Params, generation: int) -> Any:
    return dict(world.bot_user)


def get_updates(world: World, params: Params, generation: int) -> Any:
    if world.webhook is not None:
        raise ApiError(409, WEBHOOK_CONFLICT)
    offset = params.get_int("offset", 0) or 0
    limit = max(1, min(params.get_int("limit", MAX_UPDATES_LIMIT) or MAX_UPDATES_LIMIT, 100))
    timeout = max(0.0, params.get_float("timeout", 0.0))
    allowed = params.get_json("allowed_updates")
    if allowed is not None:
        if not isinstance(allowed, list):
            raise BadRequest("Bad Request: can't parse allowed_updates JSON object")
        # Like Telegram, the setting sticks and filters updates created from now on.
        world.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    # A newer getUpdates ends an older one still waiting, as Telegram does.
    poll = world.sequence()
    world.active_poll = poll
    world.changed()
    if offset < 0:
        world.queue = world.queue[offset:]
    elif offset > 0:
        world.queue = [q for q in world.queue if q.update_id >= offset]
        world.acknowledged_below = max(world.acknowledged_below, offset)
    world.changed()

    def ready() -> bool:
        return bool(world.queue) or world.active_poll != poll or world.generation != generation

    world.waiting_polls += 1
    world.changed()
    try:
        world.cond.wait_for(ready, timeout)
    finally:
        world.waiting_polls -= 1
    if world.generation != generation:
        raise ConnectionDropped
    if world.webhook is not None:  # set while this poll waited
        raise ApiError(409, WEBHOOK_CONFLICT)
    if world.active_poll != poll:
        raise ApiError(409, CONFLICT)
    batch = world.queue[:limit]
    for queued in batch:
        queued.deliveries += 1
    return [queued.update for queued in batch]


def _reply_target(world: World, params: Params, chat_id: int) -> int | None:
    reply = params.get_json("reply_parameters")
    allow_missing = params.get_bool("allow_sending_without_reply")
    message_id: int | None
    if reply is not None:
        if not isinstance(reply, dict) or "message_id" not in reply:
            raise BadRequest("Bad Request: can't parse reply parameters JSON object")
        message_id = int(reply["message_id"])
        allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        other_chat = reply.get("chat_id")
        if other_chat is not None and str(other_chat) != str(chat_id):
            raise BadRequest("Bad Request: this test server does not implement cross-chat replies")
    else:
        message_id = params.get_int("reply_to_message_id")
    if message_id is None:
        return None
    if (chat_id, message_id) not in world.messages:
        if allow_missing:
            return None
        raise BadRequest("Bad Request: message to be replied not found")
    return message_id


def send_message(world: World, params: Params, generation: int) -> Any:
    chat = world.chat(params.get_chat_id())
    chat_id = int(chat["id"])
    if chat_id in world.blocked_by:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    formatted = message_text(
        params.get_str("text", "") or "",
        params.get_str("parse_mode"),
        params.get_json("entities"),
        strict_ampersand=world.strict_ampersand,
    )
    markup = check_reply_markup(params.get_json("reply_markup"))
    reply_to = _reply_target(world, params, chat_id)
    message: dict[str, Any] = {
        "message_id": world.new_message_id(chat_id),
        "from": {k: world.bot_user[k] for k in ("id", "is_bot", "first_name", "username")},
        "chat": dict(chat),
        "date": world.now(),
        "text": formatted.text,
    }
    if formatted.entities:
        message["entities"] = formatted.entities
    if markup is not None:
        message["reply_markup"] = markup
    rendered = world.store(message, reply_to)
    world.bot_message_ids.setdefault(chat_id, []).append(int(message["message_id"]))
    world.changed()
    return rendered


def _message_to_edit(world: World, params: Params) -> tuple[int, int, dict[str, Any]]:
    """(chat id, message id, the stored message) of an edit, refused as Telegram does."""
    if params.has("inline_message_id"):
        # Messages sent via inline mode are not simulated, so no inline message id is valid.
        raise BadRequest("Bad Request: MESSAGE_ID_INVALID")
    chat = world.chat(params.get_chat_id())
    chat_id = int(chat["id"])
    message_id = params.get_int("message_id")
    if message_id is None:
        raise BadRequest("Bad Request: message identifier is not specified")
    stored = world.messages.get((chat_id, message_id))
    if stored is None:
        raise BadRequest("Bad Request: message to edit not found")
    if stored["from"]["id"] != world.bot_user["id"]:
        raise BadRequest("Bad Request: message can't be edited")
    return chat_id, message_id, stored


def _inline_keyboard(params: Params) -> dict[str, Any] | None:
    """The inline keyboard an edit asks for (None: none); edits take no other markup."""
    raw_markup = params.get_json("reply_markup")
    if raw_markup is not None and "inline_keyboard" not in raw_markup:
        raise BadRequest("Bad Request: inline keyboard expected")
    return check_reply_markup(raw_markup)


def edit_message_text(world: World, params: Params, generation: int) -> Any:
    chat_id, message_id, stored = _message_to_edit(world, params)
    formatted = message_text(
        params.get_str("text", "") or "",
        params.get_str("parse_mode"),
        params.get_json("entities"),
        strict_ampersand=world.strict_ampersand,
    )
    markup = _inline_keyboard(params)
    same_text = stored["text"] == formatted.text
    same_entities = stored.get("entities", []) == formatted.entities
    if same_text and same_entities and stored.get("reply_markup") == markup:
        raise BadRequest(NOT_MODIFIED)
    stored["text"] = formatted.text
    stored["edit_date"] = world.now()
    stored.pop("entities", None)
    stored.pop("reply_markup", None)
    if formatted.entities:
        stored["entities"] = formatted.entities
    if markup is not None:
        stored["reply_markup"] = markup
    rendered = world.render(chat_id, message_id)
    world.edits.append({"chat_id": chat_id, "message_id": message_id, "message": rendered})
    world.changed()
    return rendered


def edit_message_reply_markup(world: World, params: Params, generation: int) -> Any:
    """Replace a message's inline keyboard; without ``reply_markup`` it is removed."""
    chat_id, message_id, stored = _message_to_edit(world, params)
    markup = _inline_keyboard(params)
    if stored.get("reply_markup") == markup:
        raise BadRequest(NOT_MODIFIED)
    stored["edit_date"] = world.now()
    stored.pop("reply_markup", None)
    if markup is not None:
        stored["reply_markup"] = markup
    world.changed()
    return world.render(chat_id, message_id)


def answer_callback_query(world: World, params: Params, generation: int) -> Any:
    query_id = params.get_str("callback_query_id")
    if not query_id or query_id not in world.callback_queries:
        raise BadRequest(QUERY_INVALID)
    if any(a["callback_query_id"] == query_id for a in world.callback_answers):
        raise BadRequest(QUERY_INVALID)
    text = params.get_str("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER_CHARS:
        raise BadRequest("Bad Request: MESSAGE_TOO_LONG")
    answer = {"callback_query_id": query_id, **params.normalized()}
    world.callback_answers.append(answer)
    world.changed()
    return True


def answer_inline_query(world: World, params: Params, generation: int) -> Any:
    query_id = params.get_str("inline_query_id")
    if not query_id or query_id not in world.inline_queries or query_id in world.inline_answers:
        raise BadRequest(QUERY_INVALID)
    results = params.get_json("results")
    check_inline_results(results, world.strict_ampersand)
    next_offset = params.get_str("next_offset", "") or ""
    if len(next_offset.encode("utf-8")) > 64:
        raise BadRequest("Bad Request: NEXT_OFFSET_INVALID")
    answer = params.normalized()
    answer["results"] = results
    world.inline_answers[query_id] = answer
    world.changed()
    return True


def send_chat_action(world: World, params: Params, generation: int) -> Any:
    chat = world.chat(params.get_chat_id())
    action = params.get_str("action")
    if action not in CHAT_ACTIONS:
        raise BadRequest("Bad Request: wrong parameter action in request")
    world.chat_actions.append({"chat_id": chat["id"], "action": action, "date": world.now()})
    world.changed()
    return True


_SCOPES_WITHOUT_CHAT = (
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
)
_SCOPES_WITH_CHAT = ("chat", "chat_administrators", "chat_member")


def _scope(world: World, params: Params) -> str:
    """The key of a command scope, checked as Telegram does: a known type, and for the
    chat scopes a chat the bot knows (a user who never wrote to it is "chat not found")."""
    scope = params.get_json("scope")
    if scope is not None:
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise BadRequest("Bad Request: can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in _SCOPES_WITH_CHAT:
            chat = world.chat(Params({"chat_id": scope.get("chat_id")}).get_chat_id())
            scope = {"type": kind, "chat_id": chat["id"]}
            if kind == "chat_member":
                user_id = Params({"user_id": scope.get("user_id")}).get_int("user_id")
                if user_id is None or user_id not in world.users:
                    raise BadRequest("Bad Request: user not found")
                scope["user_id"] = user_id
        elif kind in _SCOPES_WITHOUT_CHAT:
            scope = {"type": kind}
        else:
            raise BadRequest("Bad Request: wrong parameter scope of type BotCommandScope")
    return command_scope_key(scope, language_code(params))


def set_my_commands(world: World, params: Params, generation: int) -> Any:
    commands = check_commands(params.get_json("commands"))
    key = _scope(world, params)
    world.commands[key] = commands
    world.changed()
    return True


def get_my_commands(world: World, params: Params, generation: int) -> Any:
    return list(world.commands.get(_scope(world, params), []))


def delete_my_commands(world: World, params: Params, generation: int) -> Any:
    key = _scope(world, params)
    world.commands.pop(key, None)
    world.changed()
    return True


MAX_GET_FILE_BYTES = 20 * 1000 * 1000


def get_file(world: World, params: Params, generation: int) -> Any:
    """A file's path for the download URL (`/file/bot<token>/<file_path>`), as Telegram's:
    at most 20 MB are served."""
    file_id = params.get_str("file_id")
    if not file_id:
        raise BadRequest("Bad Request: file_id is empty")
    stored = world.files.get(file_id)
    if stored is None:
        raise BadRequest("Bad Request: invalid file_id")
    if len(stored.content) > MAX_GET_FILE_BYTES:
        raise BadRequest("Bad Request: file is too big")
    result: dict[str, Any] = {
        "file_id": file_id,
        "file_unique_id": stored.unique_id,
        "file_path": stored.path,
    }
    if stored.declared_size is not None:
        result["file_size"] = stored.declared_size
    stored.served = True
    world.changed()
    return result


# Method names are case-insensitive in the Bot API.
METHODS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for name, handler in (
        ("getMe", get_me),
        ("getUpdates", get_updates),
        ("setWebhook", set_webhook),
        ("deleteWebhook", delete_webhook),
        ("getWebhookInfo", get_webhook_info),
        ("sendMessage", send_message),
        ("editMessageText", edit_message_text),
        ("editMessageReplyMarkup", edit_message_reply_markup),
        ("answerCallbackQuery", answer_callback_query),
        ("answerInlineQuery", answer_inline_query),
        ("sendChatAction", send_chat_action),
        ("setMyCommands", set_my_commands),
        ("getMyCommands", get_my_commands),
        ("deleteMyCommands", delete_my_commands),
        ("setMyDescription", set_my_description),
        ("getMyDescription", get_my_description),
        ("setMyShortDescription", set_my_short_description),
        ("getMyShortDescription", get_my_short_description),
        ("getFile", get_file),
    )
}


def canonical_method(name: str) -> str | None:
    """The Bot API spelling of a method this server implements, or None."""
    entry = METHODS.get(name.lower())
    return entry[0] if entry else None
