"""Webhook mode: Telegram posts each update to WEBHOOK_URL; python-telegram-bot's webhook
server (`Application.run_webhook`) takes it, with two changes made here.

**A bad update is given up, not refused.**  The library's handler parses each body with
`Update.de_json` and answers 400 when that fails (Telegram has sent polls lacking fields
the library requires).  Telegram re-delivers an update until it gets a 2xx, so that one
update would come back again and again, a CRITICAL traceback each time, until Telegram
gives up on it.  `CheckedTelegramHandler` runs each authenticated body through
`intake.checked_update` first, as polling does: an update the library cannot parse is
recorded as abandoned in the journal with its payload, logged once, and replaced by the
bare `{"update_id": N}`, which parses, is answered 200 (so Telegram stops sending it)
and is skipped by the update processor.  A body that is JSON but no update (no integer
update_id) is logged and answered 200 too, as polling drops it; a body that is not JSON
at all gets 400 (only a broken proxy sends that, and Telegram's getWebhookInfo then shows
the error).

**The server listens before Telegram is told about it.**  The library calls setWebhook and
only then binds the port, so a port already taken fails after Telegram was pointed at a
bot that is not there.  `WebhookUpdater` binds first.

Everything else is the library's: the secret check (a request without the header
X-Telegram-Bot-Api-Secret-Token or with a wrong one gets 403 before its body is looked at;
made here first, in constant time, so a forged body never reaches the journal), and the
update handed to `update_queue.put`,
which is the `JournalingQueue`: journalled before the 200 confirms it, then the same
access guard, limits and fair processing as a polled update.  TLS ends at the reverse
proxy in front: this server speaks plain HTTP.

A clean stop leaves the webhook set: other replicas may be serving the same URL, and
Telegram keeps updates for a day while nobody answers, to deliver them at the next start.

Health (bot/reliability/liveness.py): with no getUpdates, "updates are fetched" means an
update arrived by webhook, or getWebhookInfo (`WebhookCheck`, every heartbeat
interval) says the webhook is ours and Telegram is not failing to deliver to it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from socket import socket
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from telegram import Bot, WebhookInfo
from telegram.error import TelegramError
from telegram.ext import Updater

# The library's own webhook server and handler: private modules, pinned by the
# python-telegram-bot<23 requirement and exercised end to end by tests/e2e/test_webhook.py.
from telegram.ext._utils.webhookhandler import TelegramHandler, WebhookAppClass, WebhookServer

from bot.reliability.intake import checked_update
from bot.reliability.journal import UpdateJournal
from bot.reliability.liveness import Liveness
from bot.state import Context

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class CheckedTelegramHandler(TelegramHandler):
    """The library's handler, with each authenticated update checked before it parses it."""

    def initialize(
        self,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        secret_token: str,
        journal: UpdateJournal | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        super().initialize(bot, update_queue, secret_token)
        self.journal = journal
        self.liveness = liveness

    def prepare(self) -> None:
        """Before `post`: refuse what `post` would refuse (so nothing of it is looked at),
        then check the update."""
        given = self.request.headers.get(SECRET_HEADER, "")
        expected = self.secret_token or ""
        if self.request.headers.get("Content-Type") != "application/json" or not (
            expected and hmac.compare_digest(given.encode(), expected.encode())
        ):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        try:
            data = json.loads(self.request.body)
        except ValueError:  # UnicodeDecodeError included
            log.error("webhook: a request whose body is not JSON, refused with 400")
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            log.error("webhook: dropping a body without an update id: %.200r", data)
            self.finish()  # 200: Telegram must not send it again
            return
        checked = checked_update(data, self.journal)
        if checked is not data:
            self.request.body = json.dumps(dict(checked)).encode()

    async def post(self) -> None:
        await super().post()
        if self.liveness is not None:
            self.liveness.delivered()  # an update came: delivery works


class WebhookApp(WebhookAppClass):
    """The library's WebhookAppClass (its quiet request log) with `CheckedTelegramHandler`
    at `webhook_path`."""

    def __init__(
        self,
        webhook_path: str,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        secret_token: str | None,
        journal: UpdateJournal | None,
        liveness: Liveness | None,
    ) -> None:
        shared = {
            "bot": bot,
            "update_queue": update_queue,
            "secret_token": secret_token,
            "journal": journal,
            "liveness": liveness,
        }
        self.shared_objects = shared
        # Not WebhookAppClass.__init__, which routes to the library's own handler.
        tornado.web.Application.__init__(
            self, [(rf"{re.escape(webhook_path)}/?", CheckedTelegramHandler, shared)]
        )


class WebhookUpdater(Updater):
    """The Application's Updater in webhook mode: `WebhookApp`, and the port bound before
    setWebhook.  Polling is the library's, unchanged."""

    def __init__(
        self,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        journal: UpdateJournal | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        super().__init__(bot, update_queue)
        self.journal = journal
        self.liveness = liveness

    async def _start_webhook(
        self,
        listen: str,
        port: int,
        url_path: str,
        bootstrap_retries: int,
        allowed_updates: Sequence[str] | None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        drop_pending_updates: bool | None = None,
        webhook_url: str | None = None,
        ready: asyncio.Event | None = None,
        ip_address: str | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        unix: str | Path | socket | None = None,
    ) -> None:
        if cert is not None or key is not None or unix is not None or not webhook_url:
            raise ValueError("webhook mode here: plain HTTP on a TCP port, and a webhook_url")
        if not url_path.startswith("/"):
            url_path = f"/{url_path}"
        app = WebhookApp(
            url_path, self.bot, self.update_queue, secret_token, self.journal, self.liveness
        )
        self._httpd = WebhookServer(listen, port, app, None)
        await self._httpd.serve_forever()  # an OSError here (port taken) before setWebhook
        try:
            await self._bootstrap(
                max_retries=bootstrap_retries,
                drop_pending_updates=drop_pending_updates,
                webhook_url=webhook_url,
                allowed_updates=allowed_updates,
                ip_address=ip_address,
                max_connections=max_connections,
                secret_token=secret_token,
            )
        except BaseException:
            await self._httpd.shutdown()
            self._httpd = None
            raise
        if ready is not None:
            ready.set()


class HideSecret(logging.Filter):
    """python-telegram-bot logs setWebhook's parameters at DEBUG, the secret among them:
    the log says `[WEBHOOK_SECRET]` instead."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "[WEBHOOK_SECRET]"), None
        return True


def hide_secret(secret: str) -> None:
    """Keep `secret` out of every log line (a filter on the root logger's handlers, which
    every record reaches, wherever it was logged)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideSecret(secret))


def webhook_path(url: str) -> str:
    """The path the server answers on: WEBHOOK_URL's (the proxy forwards it unchanged)."""
    return urlsplit(url).path or "/"


def webhook_problem(info: WebhookInfo, url: str, now: datetime, limit: float) -> str | None:
    """Pure: why getWebhookInfo says updates do not reach this bot, or None when they do.
    A delivery error counts while it is recent and updates wait: Telegram keeps the last
    error after delivery works again."""
    if info.url != url:
        where = f"set to {info.url!r}" if info.url else "not set (deleted, or a bot polls)"
        return f"Telegram's webhook is {where}, not WEBHOOK_URL: updates do not come here"
    error_at = info.last_error_date
    if error_at is not None and info.pending_update_count > 0:
        age = (now - error_at).total_seconds()
        if age <= limit:
            return (
                f"Telegram cannot deliver to WEBHOOK_URL: {info.last_error_message} "
                f"{age:.0f}s ago, {info.pending_update_count} updates waiting"
            )
    return None


class WebhookCheck:
    """Job-queue callback in webhook mode: tell liveness what getWebhookInfo says.  While
    the Bot API is down one check can outlast the interval (the request is retried); the
    next ones are then skipped here, quietly, instead of by the scheduler with a warning."""

    def __init__(self) -> None:
        self.running = False

    async def __call__(self, context: Context) -> None:
        if self.running:
            return
        self.running = True
        try:
            await self._check(context)
        finally:
            self.running = False

    @staticmethod
    async def _check(context: Context) -> None:
        state = context.bot_data
        settings = state.settings
        assert settings.webhook_url is not None
        try:
            info = await context.bot.get_webhook_info()
        except TelegramError as error:
            state.liveness.delivery_checked(f"getWebhookInfo failed: {error}")
            return
        now = datetime.now(UTC)
        limit = settings.health_max_age_seconds
        state.liveness.delivery_checked(webhook_problem(info, settings.webhook_url, now, limit))


def webhook_kwargs(
    listen: str, port: int, url: str, secret: str, allowed_updates: Sequence[str]
) -> dict[str, Any]:
    """`Application.run_webhook`'s arguments for these settings."""
    return {
        "listen": listen,
        "port": port,
        "url_path": webhook_path(url),
        "webhook_url": url,
        "secret_token": secret,
        "allowed_updates": list(allowed_updates),
        # Updates that came while no bot answered are answered now, not thrown away.
        "drop_pending_updates": False,
    }
