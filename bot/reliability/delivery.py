"""Getting calls through to a misbehaving Bot API: retries, flood waits, and waiting for
the Bot API at start-up.

Three layers, each for one kind of failure:

- 429 Too Many Requests: python-telegram-bot's AIORateLimiter (see
  `rate_limiter`) waits out `retry_after` and sends again, up to `FLOOD_RETRIES`
  times.  Telegram refused the call, so a retry cannot double it.
- 5xx answers and network failures (connection refused or reset, the answer
  never came, timeouts): `RetryingRequest` sends again, TELEGRAM_RETRIES times
  at most, after 0.5 s, 1 s, 2 s….  Not sendChatAction ("typing…" is cosmetic;
  retrying it would only hold up the answer), and not getUpdates, which
  python-telegram-bot's polling loop already retries forever with its own backoff
  (its request, with each update checked, is bot/reliability/intake.py's).
  An error page that is not JSON (nginx's 502) is turned into the Bot API's JSON
  error, so it is logged as one line rather than a JSON traceback.
- A Bot API that cannot be reached at start-up: `wait_for_bot_api` keeps
  trying, with a warning each time, instead of exiting.

Which failures are safe to retry?  A 5xx or a refused connection means the call
did not take effect.  A timeout or a connection dropped after the request went
out is ambiguous: Telegram may have done it and only the answer was lost.
Telegram has no idempotency keys and a bot cannot read its own chat history, so
there is no way to ask.  We retry anyway: for sendMessage that is
at-least-once (in that rare case the user sees the answer twice), which beats a
question that silently never gets its answer.  Edits and callback answers are
idempotent in effect: when a retry is refused *because* the earlier attempt
took effect ("message is not modified", "query is too old"), `RetryingRequest`
reports success instead of an error.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import signal
import ssl
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import httpx
from telegram.error import InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest, RequestData

from bot.reliability.metrics import NETWORK, TIMEOUT, Metrics

log = logging.getLogger(__name__)

# Pauses before successive retries of a failed call double from this, up to the cap.
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 30.0
# How many times a call refused with 429 is sent again after waiting retry_after.
FLOOD_RETRIES = 5
# Start-up: seconds between attempts to reach the Bot API, growing to the last value.
CONNECT_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
_DONE_ALREADY: dict[str, tuple[str, ...]] = {
    "editmessagetext": ("message is not modified",),
    "editmessagereplymarkup": ("message is not modified",),
    "answercallbackquery": ("query is too old", "query id is invalid"),
    "answerinlinequery": ("query is too old", "query id is invalid"),
}
_SUCCESS_WITHOUT_RESULT = b'{"ok":true,"result":true}'
# Cosmetic calls: retrying "typing…" would only hold up the answer it announces.
NOT_RETRIED = frozenset({"sendchataction"})


def retry_delays(retries: int, first: float = FIRST_RETRY_DELAY) -> tuple[float, ...]:
    """Seconds to wait before each of `retries` retries: 0.5, 1, 2, 4 … at most 30."""
    return tuple(min(first * 2**n, MAX_RETRY_DELAY) for n in range(retries))


def rate_limiter() -> AIORateLimiter:
    """Telegram's flood limits (30 messages a second, 20 a minute per group), and 429s
    waited out and retried."""
    return AIORateLimiter(max_retries=FLOOD_RETRIES)


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever type this python-telegram-bot gives it."""
    with warnings.catch_warnings():  # the int form is deprecated in favour of timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def as_json_error(status: int, payload: bytes) -> bytes:
    """An error page that is not JSON (nginx's 502 in front of Telegram) as the Bot API's
    JSON error, so python-telegram-bot reports it in one line, not with a JSON traceback."""
    if status < 400:
        return payload
    try:
        json.loads(payload)
    except ValueError:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "HTTP error"
        error = {"ok": False, "error_code": status, "description": f"{phrase} (not JSON)"}
        return json.dumps(error).encode("ascii")
    return payload


def api_method(url: str) -> str:
    """`sendMessage` for `…/bot<token>/sendMessage`."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def took_effect_before(method: str, status: int, payload: bytes) -> bool:
    """Pure: is this refusal of a *retried* call Telegram saying the first attempt worked?"""
    phrases = _DONE_ALREADY.get(method.lower())
    if status != 400 or not phrases:
        return False
    try:
        description = str(json.loads(payload).get("description", "")).lower()
    except (ValueError, AttributeError):
        return False
    return any(phrase in description for phrase in phrases)


@functools.cache
def shared_tls() -> ssl.SSLContext:
    """One TLS context for every Bot API client (httpx's defaults: certifi's CA bundle,
    or SSL_CERT_FILE / SSL_CERT_DIR).  Each client would otherwise read the whole bundle
    again, about 30 ms of the start-up each, and the bot makes four."""
    return httpx.create_ssl_context()


def tls_kwargs() -> dict[str, Any]:
    """The `httpx_kwargs` of an HTTPXRequest that shares `shared_tls`."""
    return {"verify": shared_tls()}


class RetryingRequest(HTTPXRequest):
    """HTTPXRequest that sends a call again, `retries` times at most, after a 5xx or a
    network failure."""

    def __init__(
        self,
        retries: int,
        first_delay: float = FIRST_RETRY_DELAY,
        metrics: Metrics | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("httpx_kwargs", tls_kwargs())
        super().__init__(**kwargs)
        self.delays = retry_delays(retries, first_delay)
        # Failed calls and resends, by method (every Bot API call comes through here).
        self.metrics = metrics

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = api_method(url)
        attempts = 1 if name.lower() in NOT_RETRIED else len(self.delays) + 1
        for attempt in range(1, attempts + 1):
            try:
                status, payload = await super().do_request(
                    url,
                    method,
                    request_data,
                    read_timeout,
                    write_timeout,
                    connect_timeout,
                    pool_timeout,
                )
            except NetworkError as error:  # TimedOut too; HTTPXRequest raises only these
                if attempt == attempts:
                    self._failed(name, TIMEOUT if isinstance(error, TimedOut) else NETWORK)
                    raise
                problem = str(error)
            else:
                if attempt > 1 and took_effect_before(name, status, payload):
                    log.info("%s: attempt %d found the earlier one took effect", name, attempt)
                    return 200, _SUCCESS_WITHOUT_RESULT
                if status < 500 or attempt == attempts:
                    if status >= 400:
                        self._failed(name, str(status))
                    return status, as_json_error(status, payload)
                problem = f"HTTP {status}"
            if self.metrics is not None:
                self.metrics.api_retried(name)
            delay = self.delays[attempt - 1] * random.uniform(0.8, 1.2)
            log.warning(
                "%s failed (%s); retrying in %.1f s (retry %d of %d)",
                name,
                problem,
                delay,
                attempt,
                attempts - 1,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _failed(self, method: str, code: str) -> None:
        if self.metrics is not None:
            self.metrics.api_failed(method, code)


async def wait_for_bot_api(
    check: Callable[[], Awaitable[None]],
    base_url: str,
    delays: Sequence[float] = CONNECT_DELAYS,
) -> None:
    """Run `check` (a getMe) until the Bot API answers.  Network failures are logged and
    retried with growing delays; a rejected token (InvalidToken) is raised at once."""
    attempt = 0
    while True:
        try:
            await check()
        except InvalidToken:
            raise
        except RetryAfter as error:
            delay = retry_after_seconds(error)
            log.warning("the Bot API asks us to wait %.0f s before connecting", delay)
        except NetworkError as error:
            delay = delays[min(attempt, len(delays) - 1)]
            log.warning(
                "cannot reach the Bot API at %s (%s); retrying in %.0f s. "
                "Check the network and TELEGRAM_BASE_URL",
                base_url,
                error,
                delay,
            )
        else:
            if attempt:
                log.info("reached the Bot API at %s after %d failed attempts", base_url, attempt)
            return
        attempt += 1
        await asyncio.sleep(delay)


def connect(loop: asyncio.AbstractEventLoop, waiting: Awaitable[None]) -> bool:
    """Run `waiting` (e.g. `wait_for_bot_api`) on `loop`; SIGINT or SIGTERM cancels it.

    Returns False when a signal stopped the wait, so the caller can exit cleanly.
    """
    task = loop.create_task(_awaited(waiting))
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    for sig in stop_signals:
        loop.add_signal_handler(sig, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        return False
    finally:
        for sig in stop_signals:
            loop.remove_signal_handler(sig)
    return True


async def _awaited(waiting: Awaitable[None]) -> None:
    await waiting
