"""Webhooks in the fake Bot API: setWebhook, deleteWebhook, getWebhookInfo, and delivering
queued updates to the webhook by HTTP POST, as Telegram does.

Strict like Telegram: an https URL on port 443, 80, 88 or 8443 at a host that is not a
reserved address, a secret_token of 1-256 characters A-Z a-z 0-9 _ -.  The test switch
(`FakeBotAPI(allow_http_webhook=True)`) also accepts http and any port, for a host on this
machine only (127.0.0.1, localhost, ::1), where the bot under test listens.

Delivery: oldest first, up to `WORKERS` (and the webhook's max_connections) POSTs at
once but one at a time per chat, each POSTed as JSON with the header
X-Telegram-Bot-Api-Secret-Token when a secret was set.  A 2xx answer confirms it; any
other answer, or none, is recorded as getWebhookInfo's last error and the update is sent
again after a pause (growing from `RETRY_FIRST_SECONDS` to `RETRY_MAX_SECONDS`), the
ones behind it waiting; after `MAX_ATTEMPTS` failures it is given up, as Telegram gives up
"after a reasonable amount of attempts".  While a webhook is set, getUpdates fails with
409 Conflict.

Several replicas: `route_webhook(urls, duplicate_every)` makes the fake stand for Telegram
*and* the reverse proxy in front of the replicas: each delivery goes to the next of `urls`
in turn (round robin, as nginx does), and every `duplicate_every`-th update is POSTed to
the next replica too once the first answered, as when Telegram re-sends an update whose
answer it did not get and the proxy hands it to another replica.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from tests.botapi.html_check import BadRequest
from tests.botapi.params import Params
from tests.botapi.state import DEFAULT_UPDATE_TYPES, ControlError, Webhook, World

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
HTTPS_REQUIRED = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
BAD_PORT = "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
WEBHOOK_PORTS = (443, 80, 88, 8443)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_MAX_CONNECTIONS = 40
MAX_ATTEMPTS = 8
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 0.5
DELIVERY_TIMEOUT = 10.0
# POSTs in flight at most (Telegram: up to the webhook's max_connections, default 40).
WORKERS = 8


def _check_url(world: World, url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise BadRequest("Bad Request: bad webhook: Failed to parse port number") from None
    if world.allow_http_webhook and host in LOCAL_HOSTS and parts.scheme in ("http", "https"):
        return
    if parts.scheme != "https" or not host:
        raise BadRequest(HTTPS_REQUIRED)
    if (port or 443) not in WEBHOOK_PORTS:
        raise BadRequest(BAD_PORT)
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host == "localhost":
            raise BadRequest("Bad Request: bad webhook: Failed to resolve host") from None
        return
    if not address.is_global:
        raise BadRequest(f"Bad Request: bad webhook: IP address {address} is reserved")


def set_webhook(world: World, params: Params, generation: int) -> Any:
    url = (params.get_str("url", "") or "").strip()
    if not url:  # setWebhook with an empty url removes the webhook, as deleteWebhook does
        return delete_webhook(world, params, generation)
    _check_url(world, url)
    secret = params.get_str("secret_token") or None  # empty: none, as Telegram reads it
    if secret is not None and not _SECRET.fullmatch(secret):
        raise BadRequest("Bad Request: secret token contains unallowed characters")
    allowed = params.get_json("allowed_updates")
    if allowed is not None:
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise BadRequest("Bad Request: can't parse allowed_updates JSON object")
        # As with getUpdates: the setting sticks and filters updates created from now on.
        world.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    connections = params.get_int("max_connections", DEFAULT_MAX_CONNECTIONS)
    if params.get_bool("drop_pending_updates"):
        world.queue.clear()
    world.webhook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=max(1, min(100, connections or DEFAULT_MAX_CONNECTIONS)),
        allowed_updates=list(allowed) if allowed else None,
    )
    # A long poll still waiting is ended (it gets the 409 of get_updates).
    world.active_poll = world.sequence()
    world.changed()
    return True


def delete_webhook(world: World, params: Params, generation: int) -> Any:
    world.webhook = None
    if params.get_bool("drop_pending_updates"):
        world.queue.clear()
    world.changed()
    return True


def get_webhook_info(world: World, params: Params, generation: int) -> Any:
    hook = world.webhook
    info: dict[str, Any] = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(world.queue),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            info["allowed_updates"] = list(hook.allowed_updates)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


def _chat_of(update: dict[str, Any]) -> Any:
    """The chat (else the user) an update belongs to: its deliveries keep their order."""
    for value in update.values():
        if not isinstance(value, dict):
            continue
        for holder in (value, value.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
                return ("chat", holder["chat"].get("id"))
        if isinstance(value.get("from"), dict):
            return ("user", value["from"].get("id"))
    return None


def post_update(
    url: str, body: bytes, secret: str | None, timeout: float = DELIVERY_TIMEOUT
) -> tuple[int | None, str | None, str]:
    """POST one update as Telegram does: (status or None, Telegram's error text or None,
    the answer's body)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), None, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        return error.code, f"Wrong response from the webhook: {error.code} {error.reason}", text
    except TimeoutError:
        return None, "Read timeout expired", ""
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ConnectionRefusedError):
            return None, "Connection refused", ""
        return None, str(reason), ""
    except OSError as error:  # a connection reset or closed without an answer
        return None, str(error) or type(error).__name__, ""


class WebhookDeliverer:
    """The threads that deliver the world's queued updates to its webhook: up to
    `max_connections` POSTs at once (at most `WORKERS`), as Telegram opens several
    connections, but one at a time per chat, so each chat's updates arrive in order."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._stopping = False
        self._threads: list[threading.Thread] = []
        # Update ids and chats with a POST in flight now.
        self._flying: set[int] = set()
        self._flying_chats: set[Any] = set()

    def start(self) -> None:
        with self.world.cond:
            if self._threads:
                return
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._run, name=f"fake-webhook-{n}", daemon=True)
                for n in range(WORKERS)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        with self.world.cond:
            threads, self._threads = self._threads, []
            self._stopping = True
            self.world.changed()
        for thread in threads:
            thread.join(DELIVERY_TIMEOUT + 2)

    def _next(self) -> tuple[Webhook, Any, Any] | None:
        """Wait (holding the lock) for an update to deliver now, oldest first, whose chat
        has none in flight; None when stopping."""
        world = self.world
        while not self._stopping:
            hook = world.webhook
            if hook is None or not world.queue:
                world.cond.wait()
                continue
            pause = hook.retry_at - time.monotonic()
            if pause > 0:
                world.cond.wait(pause)
                continue
            if len(self._flying) < min(hook.max_connections, WORKERS):
                for queued in world.queue:
                    chat = _chat_of(queued.update)
                    if queued.update_id in self._flying or chat in self._flying_chats:
                        continue
                    self._flying.add(queued.update_id)
                    if chat is not None:
                        self._flying_chats.add(chat)
                    return hook, queued, chat
            world.cond.wait()
        return None

    def _run(self) -> None:
        world = self.world
        while True:
            with world.cond:
                found = self._next()
                if found is None:
                    return
                hook, queued, chat = found
                queued.deliveries += 1
                body = json.dumps(queued.update).encode("utf-8")
                targets = self._targets(hook, queued)
            try:
                self._deliver(hook, queued, body, targets)
            finally:
                with world.cond:
                    self._flying.discard(queued.update_id)
                    self._flying_chats.discard(chat)
                    world.changed()

    def _deliver(self, hook: Webhook, queued: Any, body: bytes, targets: list[str]) -> None:
        world = self.world
        status, error, _ = post_update(targets[0], body, hook.secret_token)
        with world.cond:
            self._settle(hook, queued, status, error)
            world.changed()
        if len(targets) > 1 and status is not None and 200 <= status < 300:
            again, error, _ = post_update(targets[1], body, hook.secret_token)
            with world.cond:
                world.webhook_deliveries.append(
                    {
                        "update_id": queued.update_id,
                        "status": again,
                        "error": error,
                        "at": time.time(),
                        "duplicate": True,
                    }
                )

    def _targets(self, hook: Webhook, queued: Any) -> list[str]:
        """Where this delivery goes: the URL, or the next route (and the one after it, for a
        duplicate)."""
        world = self.world
        routes = world.webhook_routes
        if not routes:
            return [hook.url]
        first = world.deliveries_made % len(routes)
        world.deliveries_made += 1
        targets = [routes[first]]
        every = world.duplicate_every
        if every and len(routes) > 1 and queued.deliveries == 1 and queued.update_id % every == 0:
            targets.append(routes[(first + 1) % len(routes)])
        return targets

    def _settle(self, hook: Webhook, queued: Any, status: int | None, error: str | None) -> None:
        world = self.world
        world.webhook_deliveries.append(
            {"update_id": queued.update_id, "status": status, "error": error, "at": time.time()}
        )
        ok = status is not None and 200 <= status < 300
        if ok or hook.failures + 1 >= MAX_ATTEMPTS:
            if queued in world.queue:
                world.queue.remove(queued)
            hook.failures, hook.retry_at = 0, 0.0
            if ok:  # confirmed up to the oldest still waiting (several are in flight)
                below = min([q.update_id for q in world.queue] + [queued.update_id + 1])
                world.acknowledged_below = max(world.acknowledged_below, below)
            else:
                world.dropped_updates += 1
        else:
            hook.failures += 1
            pause = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (hook.failures - 1))
            hook.retry_at = time.monotonic() + pause
        if not ok:
            hook.last_error_date = world.now()
            hook.last_error_message = error


class WebhookControl:
    """Control methods for webhooks, mixed into ``Control``."""

    world: World

    def webhook(self) -> dict[str, Any] | None:
        """What setWebhook set (secret included), or None when no webhook is set."""
        with self.world.cond:
            hook = self.world.webhook
            if hook is None:
                return None
            return {
                "url": hook.url,
                "secret_token": hook.secret_token,
                "max_connections": hook.max_connections,
                "allowed_updates": hook.allowed_updates,
                "last_error_message": hook.last_error_message,
            }

    def wait_for_webhook(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until a webhook is set (the bot is up in webhook mode); returns it."""
        world = self.world
        with world.cond:
            world.wait(
                lambda: world.webhook is not None,
                timeout,
                lambda: f"no webhook set within {timeout}s; refused: {world.failed_calls()}",
            )
        found = self.webhook()
        assert found is not None
        return found

    def webhook_deliveries(self, update_id: int | None = None) -> list[dict[str, Any]]:
        """Every POST of an update to the webhook (update_id, status, error, at)."""
        with self.world.cond:
            return [
                dict(d)
                for d in self.world.webhook_deliveries
                if update_id is None or d["update_id"] == update_id
            ]

    def wait_for_webhook_deliveries(
        self, update_id: int, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``update_id`` was POSTed ``count`` times with an answer (or none)."""
        world = self.world

        def done() -> list[dict[str, Any]]:
            return [d for d in world.webhook_deliveries if d["update_id"] == update_id]

        with world.cond:
            world.wait(
                lambda: len(done()) >= count,
                timeout,
                lambda: f"update {update_id} delivered {len(done())} of {count} times: {done()}",
            )
            return [dict(d) for d in done()]

    def route_webhook(self, urls: list[str], duplicate_every: int = 0) -> None:
        """Deliver to these URLs in turn instead of the webhook's (replicas behind a proxy),
        POSTing every `duplicate_every`-th update (by update_id) to two of them; [] ends it."""
        with self.world.cond:
            self.world.webhook_routes = list(urls)
            self.world.duplicate_every = max(0, int(duplicate_every))
            self.world.changed()

    def redeliver_update(self, update_id: int) -> None:
        """Queue an update created earlier to be delivered again, as Telegram re-sends one
        whose answer it did not get (right after its first delivery: a duplicate)."""
        world = self.world
        with world.cond:
            queued = next((q for q in world.update_history if q.update_id == update_id), None)
            if queued is None:
                raise ControlError(f"no update {update_id} was created")
            world.queue.append(queued)
            world.changed()

    def forge_webhook_request(
        self, update: dict[str, Any], secret: str | None = None, url: str | None = None
    ) -> dict[str, Any]:
        """POST ``update`` to the webhook now (or to ``url``: one replica), not as Telegram:
        with ``secret`` as the secret header (None: no header).  Returns the answer's status
        and body."""
        with self.world.cond:
            hook = self.world.webhook
            if hook is None:
                raise ControlError("no webhook is set: the bot has not called setWebhook")
            url = url or hook.url
        status, error, body = post_update(url, json.dumps(update).encode("utf-8"), secret)
        return {"status": status, "error": error, "body": body}
