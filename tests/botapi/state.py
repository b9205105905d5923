"""The fake Telegram world: chats, users, messages, the update queue and the call log.

Every read and write happens under ``World.cond`` (a condition over one lock); every change
notifies it, so waiters (long polls, tests waiting for replies) wake without sleep loops.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.botapi.faults import FaultPlan
from tests.botapi.html_check import BadRequest

BOT_USER: dict[str, Any] = {
    "id": 1000001,
    "is_bot": True,
    "first_name": "Reports",
    "username": "reports_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}

# Telegram's default when allowed_updates is not set (or set to []).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)

MessageKey = tuple[int, int]


@dataclass
class StoredFile:
    """A file a user sent: what getFile tells and what its download serves."""

    content: bytes
    unique_id: str
    path: str  # the file_path of getFile, e.g. documents/file_3.txt
    declared_size: int | None  # the file_size told (None: not told, as Telegram may do)
    # The HTTP status its download answers with (a test makes it fail with e.g. 500).
    download_status: int = 200
    served: bool = False  # getFile was asked for it
    downloads: int = 0


def command_scope_key(scope: Any, language_code: str | None) -> str:
    """setMyCommands stores one list per (scope, language); this is the key."""
    return json.dumps([scope or {"type": "default"}, language_code or ""], sort_keys=True)


class ControlError(ValueError):
    """A control request that cannot happen in Telegram (the test is wrong, not the bot)."""


@dataclass
class Call:
    """One Bot API request as the server saw it."""

    method: str
    params: dict[str, Any]
    status: int | None  # None: the connection was dropped without an answer.
    description: str | None = None
    fault: str | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "params": self.params,
            "status": self.status,
            "ok": self.status == 200,
            "description": self.description,
            "fault": self.fault,
            "at": self.at,
        }


@dataclass
class QueuedUpdate:
    update: dict[str, Any]
    deliveries: int = 0

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next(k for k in self.update if k != "update_id")


@dataclass
class Webhook:
    """What setWebhook set, and how delivering to it goes (tests/botapi/webhook.py)."""

    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    last_error_date: int | None = None
    last_error_message: str | None = None
    # Failed deliveries in a row of the update at the head of the queue, and when to retry.
    failures: int = 0
    retry_at: float = 0.0


class World:
    """All state of the fake Bot API. Callers hold ``cond`` for every method below."""

    def __init__(
        self,
        token: str,
        *,
        bot_user: dict[str, Any] | None = None,
        strict_ampersand: bool = True,
        allow_http_webhook: bool = False,
    ) -> None:
        self.cond = threading.Condition()
        self.token = token
        self.bot_user = dict(bot_user or BOT_USER)
        self.strict_ampersand = strict_ampersand
        self.faults = FaultPlan()
        # Update ids never go back, even across reset(): a running bot's offset stays valid.
        self.next_update_id = 1
        # Bumped when the listener stops, so requests held open give up.
        self.generation = 0
        self._sequence = 0
        # Long-poll bookkeeping survives reset(), so a running bot is not disturbed by it.
        self.active_poll = 0
        self.waiting_polls = 0
        # The webhook survives reset() too: the running bot set it.  Telegram wants https on
        # ports 443, 80, 88 or 8443 at a public address; the test switch also lets a bot on
        # this machine be reached over http on any port.
        self.webhook: Webhook | None = None
        self.allow_http_webhook = allow_http_webhook
        # Several replicas behind one webhook URL (tests/botapi/webhook.py): where each
        # delivery goes instead of the URL, in turn, and which updates are sent twice.
        self.webhook_routes: list[str] = []
        self.duplicate_every = 0
        self.deliveries_made = 0
        self.clear()

    def clear(self) -> None:
        self.chats: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[MessageKey, dict[str, Any]] = {}
        self.reply_to: dict[MessageKey, int] = {}
        self.next_message_id: dict[int, int] = {}
        self.bot_message_ids: dict[int, list[int]] = {}
        self.queue: list[QueuedUpdate] = []
        self.update_history: list[QueuedUpdate] = []
        self.acknowledged_below = 0
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.edits: list[dict[str, Any]] = []
        self.chat_actions: list[dict[str, Any]] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.inline_queries: dict[str, dict[str, Any]] = {}
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        # setMyDescription / setMyShortDescription: (kind, language_code) → text.
        self.descriptions: dict[tuple[str, str], str] = {}
        # Files users sent, by file_id (getFile and /file/bot<token>/<path>).
        self.files: dict[str, StoredFile] = {}
        # Users who blocked the bot: sending to their private chat is Forbidden.
        self.blocked_by: set[int] = set()
        self.calls: list[Call] = []
        self.dropped_updates = 0
        # Each POST of an update to the webhook: update_id, status, error, at.
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.faults.reset()

    # --- small helpers -------------------------------------------------------------------

    def now(self) -> int:
        return int(time.time())

    def changed(self) -> None:
        self.cond.notify_all()

    def sequence(self) -> int:
        with self.cond:
            self._sequence += 1
            return self._sequence

    def wait(self, ready: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        """Wait until ``ready()``; raise ``TimeoutError(what())`` after ``timeout`` seconds."""
        if not self.cond.wait_for(ready, timeout):
            raise TimeoutError(what())

    def chat(self, chat_id: int | str | None) -> dict[str, Any]:
        if chat_id is None:
            raise BadRequest("Bad Request: chat_id is empty")
        if isinstance(chat_id, str) or chat_id not in self.chats:
            raise BadRequest("Bad Request: chat not found")
        return self.chats[chat_id]

    def new_message_id(self, chat_id: int) -> int:
        message_id = self.next_message_id.get(chat_id, 0) + 1
        self.next_message_id[chat_id] = message_id
        return message_id

    def render(self, chat_id: int, message_id: int, *, with_reply: bool = True) -> dict[str, Any]:
        """A message as the Bot API shows it now; a reply carries the message it answers,
        itself without its own reply_to_message, as Telegram does."""
        message = copy.deepcopy(self.messages[(chat_id, message_id)])
        replied = self.reply_to.get((chat_id, message_id))
        if with_reply and replied is not None and (chat_id, replied) in self.messages:
            message["reply_to_message"] = self.render(chat_id, replied, with_reply=False)
        return message

    def store(self, message: dict[str, Any], reply_to_message_id: int | None) -> dict[str, Any]:
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self.messages[key] = message
        if reply_to_message_id is not None:
            self.reply_to[key] = reply_to_message_id
        return self.render(*key)

    def enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates, unless allowed_updates filters its type out."""
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        queued = QueuedUpdate(update)
        self.update_history.append(queued)
        if kind in self.allowed_updates:
            self.queue.append(queued)
        else:
            self.dropped_updates += 1
        self.changed()
        return update

    def enqueue_raw(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``payload`` as it is, under the next update id: an update Telegram might
        send that a bot library cannot parse (allowed_updates does not filter it)."""
        kinds = [k for k in payload if k != "update_id"]
        if not kinds:
            raise ControlError("a raw update needs a field besides update_id, e.g. 'poll'")
        update = {"update_id": self.next_update_id, **copy.deepcopy(payload)}
        self.next_update_id += 1
        queued = QueuedUpdate(update)
        self.update_history.append(queued)
        self.queue.append(queued)
        self.changed()
        return copy.deepcopy(update)

    def log(self, call: Call) -> None:
        self.calls.append(call)
        self.changed()

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return [self.render(chat_id, mid) for mid in self.bot_message_ids.get(chat_id, [])]

    def failed_calls(self, chat_id: int | None = None, limit: int = 5) -> list[dict[str, Any]]:
        """The latest refused calls (for a chat), to explain a wait that timed out."""
        failed = [
            c.to_json()
            for c in self.calls
            if c.status != 200 and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]
        return failed[-limit:]
