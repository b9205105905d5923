"""Who may use the bot (ALLOWED_USER_IDS and ALLOWED_CHAT_IDS): pure, no Telegram.

With both empty the bot is open to everyone.  Otherwise an update is let in
when its user is listed, or its chat is (a listed group lets every member ask
there).  Inline queries carry no chat, so only the user counts for them.  The
guard that applies this to every update is `bot/telegram/access.py`; pushes
check it again when they are sent (`bot/telegram/pushes.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings

REFUSAL_INTERVAL_SECONDS = 600.0
# Remembered refusals are pruned when there are more than this many chats.
_MAX_REMEMBERED_CHATS = 10_000


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

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        if not self.restricted:
            return True
        return (user_id is not None and user_id in self.user_ids) or (
            chat_id is not None and chat_id in self.chat_ids
        )

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


class RefusalThrottle:
    """At most one refusal message per chat every `interval` seconds, so a stranger's
    flood costs one message.  Pure (the clock is passed in), so the tests drive time."""

    def __init__(self, interval: float = REFUSAL_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}

    def should_refuse(self, chat_id: int, now: float) -> bool:
        last = self._last.get(chat_id)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) >= _MAX_REMEMBERED_CHATS:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        self._last[chat_id] = now
        return True
