"""Test-side client of the fake Bot API's control endpoints (act as users, read, inject).

Method for method the same as ``Control``, but over HTTP, so it also drives a server running
in another process (``python -m tests.botapi``). Blocking calls: use them from plain tests
or from ``asyncio.to_thread`` when an event loop must keep running.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

# Slack on top of a wait's own timeout for the HTTP round trip.
_HTTP_SLACK = 10.0


class ControlRequestError(RuntimeError):
    """The server refused a control request; the message says why."""


class BotAPIClient:
    """``BotAPIClient("http://127.0.0.1:PORT")``; see ``Control`` for what each method does."""

    def __init__(self, control_url: str) -> None:
        self.control_url = control_url.rstrip("/")

    def _call(self, name: str, wait: float = 0.0, **arguments: Any) -> Any:
        body = json.dumps(arguments).encode()
        request = urllib.request.Request(
            f"{self.control_url}/control/{name}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=wait + _HTTP_SLACK) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            payload = json.loads(error.read().decode("utf-8") or "{}")
            message = payload.get("error", f"HTTP {error.code}")
            if payload.get("timeout"):
                raise TimeoutError(message) from None
            raise ControlRequestError(f"control {name}: {message}") from None
        return payload["result"]

    # --- server --------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """base_url, control_url, port, token and bot_user of the server."""
        result: dict[str, Any] = self._call("info")
        return result

    def outage(self, seconds: float) -> None:
        """Make the server unreachable for ``seconds`` (stop listening, then start again)."""
        self._call("outage", seconds=seconds)

    def reset(self) -> None:
        self._call("reset")

    # --- acting as users -----------------------------------------------------------------

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
        result: dict[str, Any] = self._call(
            "send_message", chat_id=chat_id, user_id=user_id, text=text, chat_type=chat_type,
            reply_to_message_id=reply_to_message_id, entities=entities, first_name=first_name,
            last_name=last_name, username=username, language_code=language_code,
            chat_title=chat_title,
        )  # fmt: skip
        return result

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        self._call("block_bot", user_id=user_id, blocked=blocked)

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
        result: dict[str, Any] = self._call(
            "send_sticker", chat_id=chat_id, user_id=user_id, emoji=emoji, chat_type=chat_type,
            reply_to_message_id=reply_to_message_id, first_name=first_name, chat_title=chat_title,
        )  # fmt: skip
        return result

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
        result: dict[str, Any] = self._call(
            "send_photo", chat_id=chat_id, user_id=user_id, caption=caption, chat_type=chat_type,
            reply_to_message_id=reply_to_message_id, first_name=first_name, chat_title=chat_title,
        )  # fmt: skip
        return result

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str | None = None,
        text: str | None = None,
        first_name: str = "Tester",
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "press_button", chat_id=chat_id, user_id=user_id, message_id=message_id, data=data,
            text=text, first_name=first_name,
        )  # fmt: skip
        return result

    def inline_query(
        self,
        user_id: int,
        query: str,
        offset: str = "",
        chat_type: str = "private",
        first_name: str = "Tester",
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "inline_query", user_id=user_id, query=query, offset=offset, chat_type=chat_type,
            first_name=first_name,
        )  # fmt: skip
        return result

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        file_name: str | None = "report.txt",
        text: str | None = None,
        content_base64: str | None = None,
        mime_type: str | None = None,
        declared_size: int | None = None,
        omit_size: bool = False,
        caption: str | None = None,
        download_status: int = 200,
        chat_type: str = "private",
        first_name: str = "Tester",
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "send_document", chat_id=chat_id, user_id=user_id, file_name=file_name, text=text,
            content_base64=content_base64, mime_type=mime_type, declared_size=declared_size,
            omit_size=omit_size, caption=caption, download_status=download_status,
            chat_type=chat_type, first_name=first_name,
        )  # fmt: skip
        return result

    def file_downloads(self, file_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("file_downloads", file_id=file_id)
        return result

    def channel_post(
        self,
        chat_id: int,
        text: str | None = None,
        caption: str | None = None,
        title: str | None = None,
        username: str | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "channel_post", chat_id=chat_id, text=text, caption=caption, title=title,
            username=username, date=date,
        )  # fmt: skip
        return result

    def edit_channel_post(
        self, chat_id: int, message_id: int, text: str | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "edit_channel_post", chat_id=chat_id, message_id=message_id, text=text,
            caption=caption,
        )  # fmt: skip
        return result

    # --- webhooks (see webhook.py) ----------------------------------------------------------

    def webhook(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._call("webhook")
        return result

    def wait_for_webhook(self, timeout: float = 10.0) -> dict[str, Any]:
        result: dict[str, Any] = self._call("wait_for_webhook", wait=timeout, timeout=timeout)
        return result

    def webhook_deliveries(self, update_id: int | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("webhook_deliveries", update_id=update_id)
        return result

    def wait_for_webhook_deliveries(
        self, update_id: int, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "wait_for_webhook_deliveries", wait=timeout, update_id=update_id, count=count,
            timeout=timeout,
        )  # fmt: skip
        return result

    def redeliver_update(self, update_id: int) -> None:
        self._call("redeliver_update", update_id=update_id)

    def route_webhook(self, urls: list[str], duplicate_every: int = 0) -> None:
        self._call("route_webhook", urls=urls, duplicate_every=duplicate_every)

    def forge_webhook_request(
        self, update: dict[str, Any], secret: str | None = None, url: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "forge_webhook_request", wait=10.0, update=update, secret=secret, url=url
        )
        return result

    def inject_raw_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("inject_raw_update", payload=payload)
        return result

    # --- reading what the bot did --------------------------------------------------------

    def sent_messages(self, chat_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("sent_messages", chat_id=chat_id)
        return result

    def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 10.0, after_message_id: int = 0
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "wait_for_messages", wait=timeout, chat_id=chat_id, count=count, timeout=timeout,
            after_message_id=after_message_id,
        )  # fmt: skip
        return result

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call("message", chat_id=chat_id, message_id=message_id)
        return result

    def edits(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("edits", chat_id=chat_id)
        return result

    def wait_for_edits(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 10.0,
        message_id: int | None = None,
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "wait_for_edits", wait=timeout, chat_id=chat_id, count=count, timeout=timeout,
            message_id=message_id,
        )  # fmt: skip
        return result

    def callback_answers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("callback_answers")
        return result

    def wait_for_callback_answer(
        self, callback_query_id: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "wait_for_callback_answer", wait=timeout, callback_query_id=callback_query_id,
            timeout=timeout,
        )  # fmt: skip
        return result

    def inline_answers(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self._call("inline_answers")
        return result

    def wait_for_inline_answer(self, inline_query_id: str, timeout: float = 10.0) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "wait_for_inline_answer", wait=timeout, inline_query_id=inline_query_id,
            timeout=timeout,
        )  # fmt: skip
        return result

    def chat_actions(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("chat_actions", chat_id=chat_id)
        return result

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self._call(
            "my_commands", scope=scope, language_code=language_code
        )
        return result

    def my_description(self, language_code: str = "", short: bool = False) -> str:
        result: str = self._call("my_description", language_code=language_code, short=short)
        return result

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("calls", method=method)
        return result

    def wait_for_calls(
        self, method: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "wait_for_calls", wait=timeout, method=method, count=count, timeout=timeout
        )
        return result

    def updates(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("updates")
        return result

    def wait_for_polling(self, timeout: float = 10.0) -> None:
        self._call("wait_for_polling", wait=timeout, timeout=timeout)

    def wait_until_acknowledged(self, timeout: float = 10.0) -> None:
        self._call("wait_until_acknowledged", wait=timeout, timeout=timeout)

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
        self._call(
            "inject", method=method, kind=kind, count=count, retry_after=retry_after,
            seconds=seconds, process=process,
        )  # fmt: skip

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
        self._call(
            "inject_random", method=method, probability=probability, kinds=kinds, seed=seed,
            retry_after=retry_after, seconds=seconds, process=process,
        )  # fmt: skip

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def fired_faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("fired_faults")
        return result
