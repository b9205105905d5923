"""Who may use the bot (ALLOWED_USER_IDS and ALLOWED_CHAT_IDS): pure, no Telegram.

With both empty the bot is open to everyone.  Otherwise:

- in a listed chat everyone is answered (a listed group lets every member ask);
- in a private chat with the bot, and in inline mode (no chat), a listed user is;
- in a group that is not listed nobody is, listed users included: an answer in
  a group is read by every member, so the group itself must be allowed.

The guard that applies this to every update is `bot/telegram/access.py`; pushes
check it again when they are sent (`bot/telegram/pushes.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.config import Settings
from bot.telegram.rates import Throttle

REFUSAL_INTERVAL_SECONDS = 600.0


class Access(Enum):
    """The policy's verdict on one update."""

    ALLOWED = "allowed"
    # Neither the user nor the chat is listed.
    STRANGER = "stranger"
    # A listed user in a group that is not listed.
    GROUP_NOT_ALLOWED = "group not allowed"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The allowed user and chat ids; both empty means open to everyone."""

    user_ids: frozenset[int] = frozenset()
    chat_ids: frozenset[int] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        return cls(settings.allowed_user_ids, settings.allowed_chat_ids)

    @property
    def restricted(self) -> bool:
        return bool(self.user_ids or self.chat_ids)

    def check(self, user_id: int | None, chat_id: int | None) -> Access:
        """`chat_id` None is inline mode; a private chat's id is its user's id."""
        if not self.restricted or (chat_id is not None and chat_id in self.chat_ids):
            return Access.ALLOWED
        if user_id is None or user_id not in self.user_ids:
            return Access.STRANGER
        if chat_id is None or chat_id == user_id:
            return Access.ALLOWED
        return Access.GROUP_NOT_ALLOWED

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        return self.check(user_id, chat_id) is Access.ALLOWED

    def describe(self) -> str:
        """The access mode, for the start-up log."""
        if not self.restricted:
            return "open to everyone (ALLOWED_USER_IDS and ALLOWED_CHAT_IDS are empty)"
        return (
            f"restricted to {_count(len(self.user_ids), 'user')} "
            f"and {_count(len(self.chat_ids), 'chat')}"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class RefusalThrottle(Throttle):
    """At most one refusal message per chat every `interval` seconds, so a stranger's
    flood costs one message.  Pure (the clock is passed in), so the tests drive time."""

    def __init__(self, interval: float = REFUSAL_INTERVAL_SECONDS) -> None:
        super().__init__(interval)

    def should_refuse(self, chat_id: int, now: float) -> bool:
        return self.allow(chat_id, now)
