"""What tests do to the fake Telegram: act as users, read what the bot did, inject faults.

``Control`` is used in-process (``FakeBotAPI.control``) and behind the HTTP control endpoints
(``BotAPIClient`` mirrors it method for method). Every result is plain JSON data.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.botapi.control_files import FilesAndChannels
from tests.botapi.faults import FaultConfigError, make_fault
from tests.botapi.html_check import utf16_len
from tests.botapi.methods import canonical_method
from tests.botapi.profile import description_of
from tests.botapi.state import ControlError, World, command_scope_key
from tests.botapi.validate import callback_buttons
from tests.botapi.webhook import WebhookControl

DEFAULT_WAIT = 10.0
MAX_INLINE_QUERY_CHARS = 256
CHAT_TYPES = ("private", "group", "supergroup")

# Telegram marks "/command" (optionally "@bot") after a start or a non-word character.
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@])")


def auto_entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities Telegram would attach, with UTF-16 offsets."""
    found: list[dict[str, Any]] = []
    for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION)):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
    return sorted(found, key=lambda e: (e["offset"], -e["length"]))


class Control(FilesAndChannels, WebhookControl):
    """The test-facing API over one ``World``. Each method takes the world's lock."""

    def __init__(self, world: World) -> None:
        self.world = world

    # --- acting as users -----------------------------------------------------------------

    def reset(self) -> None:
        """Forget chats, messages, queued updates, answers, calls and faults."""
        with self.world.cond:
            self.world.clear()
            self.world.changed()

    def _user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> dict[str, Any]:
        if user_id <= 0:
            raise ControlError("user_id must be a positive integer, as Telegram user ids are")
        if user_id == self.world.bot_user["id"]:
            raise ControlError("user_id is the bot's own id; pick another user")
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.world.users[user_id] = user
        return user

    def _chat(
        self, chat_id: int, user: dict[str, Any], chat_type: str, chat_title: str | None
    ) -> dict[str, Any]:
        if chat_type not in CHAT_TYPES:
            raise ControlError(f"chat_type must be one of {', '.join(CHAT_TYPES)}")
        if chat_type == "private":
            if chat_id != user["id"]:
                raise ControlError("in a private chat, chat_id must equal the user's id")
            fields = ("id", "first_name", "last_name", "username")
            chat: dict[str, Any] = {k: user[k] for k in fields if k in user}
            chat["type"] = "private"
        else:
            if chat_id >= 0:
                raise ControlError("group and supergroup chat ids are negative in Telegram")
            known = self.world.chats.get(chat_id)
            title = chat_title or (known or {}).get("title") or f"Test {chat_type} {-chat_id}"
            chat = {"id": chat_id, "title": title, "type": chat_type}
        known = self.world.chats.get(chat_id)
        if known is not None and known["type"] != chat["type"]:
            raise ControlError(f"chat {chat_id} is a {known['type']}, not a {chat_type}")
        self.world.chats[chat_id] = chat
        return chat

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        content: dict[str, Any],
        *,
        chat_type: str,
        reply_to_message_id: int | None,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        chat_title: str | None,
    ) -> dict[str, Any]:
        world = self.world
        with world.cond:
            user = self._user(user_id, first_name, last_name, username, language_code)
            chat = self._chat(chat_id, user, chat_type, chat_title)
            if reply_to_message_id is not None and (chat_id, reply_to_message_id) not in (
                world.messages
            ):
                raise ControlError(
                    f"no message {reply_to_message_id} in chat {chat_id} to reply to"
                )
            message = {
                "message_id": world.new_message_id(chat_id),
                "from": dict(user),
                "chat": dict(chat),
                "date": world.now(),
                **content,
            }
            rendered = world.store(message, reply_to_message_id)
            world.enqueue("message", rendered)
            return copy.deepcopy(rendered)

    def send_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        first_name: str = "Tester",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """A user writes ``text``; returns the message as the bot will receive it.

        Without ``entities``, bot_command and mention entities are computed like Telegram's.
        """
        if not text:
            raise ControlError("Telegram clients cannot send an empty text message")
        content: dict[str, Any] = {"text": text}
        found = auto_entities(text) if entities is None else entities
        if found:
            content["entities"] = found
        return self._user_message(
            chat_id, user_id, content, chat_type=chat_type,
            reply_to_message_id=reply_to_message_id, first_name=first_name,
            last_name=last_name, username=username, language_code=language_code,
            chat_title=chat_title,
        )  # fmt: skip

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or, with ``blocked=False``, unblocks) the bot: sendMessage to
        their private chat fails with 403 "Forbidden: bot was blocked by the user"."""
        with self.world.cond:
            if blocked:
                self.world.blocked_by.add(user_id)
            else:
                self.world.blocked_by.discard(user_id)

    def send_sticker(
        self,
        chat_id: int,
        user_id: int,
        emoji: str = "👍",
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        first_name: str = "Tester",
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """A user sends a sticker (a message without text)."""
        sequence = self.world.sequence()
        sticker = {
            "file_id": f"CAACAgIAAxkBAAE{sequence:08d}",
            "file_unique_id": f"AgAD{sequence:06d}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(
            chat_id, user_id, {"sticker": sticker}, chat_type=chat_type,
            reply_to_message_id=reply_to_message_id, first_name=first_name, last_name=None,
            username=None, language_code="en", chat_title=chat_title,
        )  # fmt: skip

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        caption: str | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        first_name: str = "Tester",
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """A user sends a photo, optionally with a caption (a message without text)."""
        sequence = self.world.sequence()
        photo = [
            {
                "file_id": f"AgACAgIAAxkBAAE{sequence:08d}{size}",
                "file_unique_id": f"AQAD{sequence:06d}{size}",
                "width": size,
                "height": size * 3 // 4,
                "file_size": size * 40,
            }
            for size in (90, 320, 800)
        ]
        content: dict[str, Any] = {"photo": photo}
        if caption:
            content["caption"] = caption
            found = auto_entities(caption)
            if found:
                content["caption_entities"] = found
        return self._user_message(
            chat_id, user_id, content, chat_type=chat_type,
            reply_to_message_id=reply_to_message_id, first_name=first_name, last_name=None,
            username=None, language_code="en", chat_title=chat_title,
        )  # fmt: skip

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str | None = None,
        text: str | None = None,
        first_name: str = "Tester",
    ) -> dict[str, Any]:
        """A user presses an inline button (chosen by callback ``data`` or by its ``text``)
        on a bot message; returns the callback_query, whose ``message`` is the full message
        with its reply_to_message."""
        world = self.world
        with world.cond:
            if (chat_id, message_id) not in world.messages:
                raise ControlError(f"no message {message_id} in chat {chat_id}")
            message = world.render(chat_id, message_id)
            buttons = callback_buttons(message.get("reply_markup"))
            chosen = [
                b
                for b in buttons
                if (data is None or b["callback_data"] == data)
                and (text is None or b["text"] == text)
            ]
            if data is None and text is None:
                raise ControlError("say which button: give its callback data or its text")
            if not chosen:
                shown = [(b["text"], b["callback_data"]) for b in buttons] or "no callback buttons"
                raise ControlError(
                    f"message {message_id} has no such button (text={text!r}, data={data!r}); "
                    f"it shows {shown}"
                )
            chat = world.chats[chat_id]
            if chat["type"] == "private" and chat_id != user_id:
                raise ControlError("only the private chat's own user can press its buttons")
            known = world.users.get(user_id)
            user = known or self._user(user_id, first_name, None, None, "en")
            query = {
                "id": str(4_300_000_000_000_000_000 + world.sequence()),
                "from": dict(user),
                "message": message,
                "chat_instance": str(-(abs(chat_id) * 7919 % 10**18) - 1),
                "data": chosen[0]["callback_data"],
            }
            world.callback_queries[query["id"]] = query
            world.enqueue("callback_query", query)
            return copy.deepcopy(query)

    def inline_query(
        self,
        user_id: int,
        query: str,
        offset: str = "",
        chat_type: str = "private",
        first_name: str = "Tester",
    ) -> dict[str, Any]:
        """A user types ``@bot query``; returns the inline_query (its ``id`` finds the answer)."""
        if len(query) > MAX_INLINE_QUERY_CHARS:
            raise ControlError(
                f"Telegram clients send at most {MAX_INLINE_QUERY_CHARS} characters inline"
            )
        world = self.world
        with world.cond:
            known = world.users.get(user_id)
            user = known or self._user(user_id, first_name, None, None, "en")
            inline: dict[str, Any] = {
                "id": str(5_100_000_000_000_000_000 + world.sequence()),
                "from": dict(user),
                "query": query,
                "offset": offset,
                "chat_type": "sender" if chat_type == "private" else chat_type,
            }
            world.inline_queries[inline["id"]] = inline
            world.enqueue("inline_query", inline)
            return copy.deepcopy(inline)

    def inject_raw_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``payload`` for getUpdates exactly as given (its ``update_id`` is assigned),
        unchecked: e.g. ``{"poll": {"id": "1"}}``, a poll lacking the fields a bot library
        requires, as Telegram has been seen to send. Returns the update as delivered."""
        with self.world.cond:
            return self.world.enqueue_raw(payload)

    # --- reading what the bot did --------------------------------------------------------

    def sent_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat, in sending order, each as it is now (after edits)."""
        with self.world.cond:
            return self.world.bot_messages(chat_id)

    def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = DEFAULT_WAIT, after_message_id: int = 0
    ) -> list[dict[str, Any]]:
        """Wait until the bot has sent ``count`` messages in the chat after ``after_message_id``
        (e.g. the user's question); return all of them so far."""
        world = self.world

        def newer() -> list[dict[str, Any]]:
            return [m for m in world.bot_messages(chat_id) if m["message_id"] > after_message_id]

        def explain() -> str:
            return (
                f"the bot sent {len(newer())} of {count} messages in chat {chat_id} after message "
                f"{after_message_id} within {timeout}s; latest refused calls: "
                f"{world.failed_calls(chat_id)}"
            )

        with world.cond:
            world.wait(lambda: len(newer()) >= count, timeout, explain)
            return newer()

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """Any message (user's or bot's) as it is now."""
        with self.world.cond:
            if (chat_id, message_id) not in self.world.messages:
                raise ControlError(f"no message {message_id} in chat {chat_id}")
            return self.world.render(chat_id, message_id)

    def edits(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Every successful editMessageText: chat_id, message_id and the message after it."""
        with self.world.cond:
            return [
                copy.deepcopy(e)
                for e in self.world.edits
                if chat_id is None or e["chat_id"] == chat_id
            ]

    def wait_for_edits(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = DEFAULT_WAIT,
        message_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` edits happened in the chat (of one message, if given)."""
        world = self.world

        def matching() -> list[dict[str, Any]]:
            return [
                e
                for e in world.edits
                if e["chat_id"] == chat_id and (message_id is None or e["message_id"] == message_id)
            ]

        def explain() -> str:
            return (
                f"{len(matching())} of {count} edits in chat {chat_id} within {timeout}s; "
                f"latest refused calls: {world.failed_calls(chat_id)}"
            )

        with world.cond:
            world.wait(lambda: len(matching()) >= count, timeout, explain)
            return copy.deepcopy(matching())

    def callback_answers(self) -> list[dict[str, Any]]:
        """Every answerCallbackQuery, with its parameters."""
        with self.world.cond:
            return copy.deepcopy(self.world.callback_answers)

    def wait_for_callback_answer(
        self, callback_query_id: str, timeout: float = DEFAULT_WAIT
    ) -> dict[str, Any]:
        world = self.world

        def found() -> list[dict[str, Any]]:
            return [
                a for a in world.callback_answers if a["callback_query_id"] == callback_query_id
            ]

        with world.cond:
            world.wait(
                lambda: bool(found()),
                timeout,
                lambda: (
                    f"callback query {callback_query_id} not answered within {timeout}s; "
                    f"latest refused calls: {world.failed_calls()}"
                ),
            )
            return copy.deepcopy(found()[0])

    def inline_answers(self) -> dict[str, dict[str, Any]]:
        """answerInlineQuery parameters by inline query id (results decoded)."""
        with self.world.cond:
            return copy.deepcopy(self.world.inline_answers)

    def wait_for_inline_answer(
        self, inline_query_id: str, timeout: float = DEFAULT_WAIT
    ) -> dict[str, Any]:
        world = self.world
        with world.cond:
            world.wait(
                lambda: inline_query_id in world.inline_answers,
                timeout,
                lambda: (
                    f"inline query {inline_query_id} not answered within {timeout}s; "
                    f"latest refused calls: {world.failed_calls()}"
                ),
            )
            return copy.deepcopy(world.inline_answers[inline_query_id])

    def chat_actions(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendChatAction calls that succeeded ("typing", ...), oldest first."""
        with self.world.cond:
            return [
                dict(a)
                for a in self.world.chat_actions
                if chat_id is None or a["chat_id"] == chat_id
            ]

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command menu set with setMyCommands for a scope (default scope by default)."""
        with self.world.cond:
            key = command_scope_key(scope, language_code)
            return copy.deepcopy(self.world.commands.get(key, []))

    def my_description(self, language_code: str = "", short: bool = False) -> str:
        """The description (or short description) a user with `language_code` is shown:
        their language's, else the one set without a language."""
        with self.world.cond:
            kind = "short_description" if short else "description"
            return description_of(self.world, kind, language_code)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every Bot API request (method, params, status, description, fault), oldest first."""
        with self.world.cond:
            return [
                c.to_json()
                for c in self.world.calls
                if method is None or c.method.lower() == method.lower()
            ]

    def wait_for_calls(
        self, method: str, count: int = 1, timeout: float = DEFAULT_WAIT
    ) -> list[dict[str, Any]]:
        """Wait until ``method`` was called ``count`` times (answered or not)."""
        world = self.world

        def matching() -> list[dict[str, Any]]:
            return [c.to_json() for c in world.calls if c.method.lower() == method.lower()]

        with world.cond:
            world.wait(
                lambda: len(matching()) >= count,
                timeout,
                lambda: f"{method} called {len(matching())} of {count} times within {timeout}s",
            )
            return matching()

    def updates(self) -> list[dict[str, Any]]:
        """Every update created since reset: id, type, times delivered, acknowledged or not."""
        world = self.world
        with world.cond:
            return [
                {
                    "update_id": q.update_id,
                    "type": q.kind,
                    "deliveries": q.deliveries,
                    "acknowledged": q.update_id < world.acknowledged_below,
                    "pending": q in world.queue,
                }
                for q in world.update_history
            ]

    def wait_for_polling(self, timeout: float = DEFAULT_WAIT) -> None:
        """Wait until a getUpdates long poll is waiting: the bot is up and idle."""
        world = self.world
        with world.cond:
            world.wait(
                lambda: world.waiting_polls > 0,
                timeout,
                lambda: (
                    f"no getUpdates long poll waiting within {timeout}s; "
                    f"latest refused calls: {world.failed_calls()}"
                ),
            )

    def wait_until_acknowledged(self, timeout: float = DEFAULT_WAIT) -> None:
        """Wait until the bot confirmed every queued update (getUpdates with a higher offset)."""
        world = self.world
        with world.cond:
            world.wait(
                lambda: not world.queue,
                timeout,
                lambda: (
                    f"{len(world.queue)} updates still unconfirmed after {timeout}s: "
                    f"{[q.update_id for q in world.queue]}"
                ),
            )

    # --- faults ----------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        kind: str,
        count: int = 1,
        retry_after: int = 1,
        seconds: float = 1.0,
        process: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (or ``"*"``) fail with ``kind``:
        flood (429, retry_after), server_error (500), bad_gateway (502) or timeout (hold
        ``seconds`` then close; with ``process`` the call takes effect before that)."""
        self._check_method(method)
        fault = self._fault(kind, retry_after, seconds, process)
        with self.world.cond:
            self.world.faults.inject(method, fault, count)

    def inject_random(
        self,
        method: str,
        probability: float,
        kinds: list[str],
        seed: int = 0,
        retry_after: int = 1,
        seconds: float = 1.0,
        process: bool = False,
    ) -> None:
        """From now on, each call of ``method`` fails with ``probability``, with a kind drawn
        from ``kinds`` by a generator seeded with ``seed``. ``clear_faults`` stops it."""
        self._check_method(method)
        template = self._fault(kinds[0] if kinds else "", retry_after, seconds, process)
        with self.world.cond:
            try:
                self.world.faults.inject_random(method, probability, kinds, seed, template)
            except FaultConfigError as error:
                raise ControlError(str(error)) from None

    def clear_faults(self) -> None:
        """Stop all queued and random faults (the record of fired ones stays)."""
        with self.world.cond:
            self.world.faults.clear()

    def fired_faults(self) -> list[dict[str, Any]]:
        """Faults that fired, oldest first: method, kind and their settings."""
        with self.world.cond:
            return [f.to_json() for f in self.world.faults.fired]

    @staticmethod
    def _check_method(method: str) -> None:
        if method != "*" and canonical_method(method) is None:
            raise ControlError(
                f"this server does not implement {method!r}; faults need a method it serves"
            )

    @staticmethod
    def _fault(kind: str, retry_after: int, seconds: float, process: bool) -> Any:
        try:
            return make_fault(kind, retry_after=retry_after, seconds=seconds, process=process)
        except FaultConfigError as error:
            raise ControlError(str(error)) from None


CONTROL_METHODS = frozenset(
    name
    for cls in (Control, FilesAndChannels, WebhookControl)
    for name in vars(cls)
    if not name.startswith("_") and callable(getattr(Control, name))
)
