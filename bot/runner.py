"""`reports-bot run` / `python -m bot`: settings → engine → Application → long polling.

Every way this can fail at start-up (no token, a token Telegram rejects,
no reports) ends with one line on stderr and a non-zero exit status, never a
traceback.  A Bot API that cannot be reached is waited for, with a warning per
attempt (bot/reliability/delivery.py), since it usually comes back on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import NoReturn, TypeVar

from telegram import Bot
from telegram.error import BadRequest, InvalidToken, NetworkError
from telegram.request import HTTPXRequest

from bot.app import ALLOWED_UPDATES, BotApplication, build_application
from bot.config import ConfigError, Settings
from bot.live.reports import open_library, open_live
from bot.reliability.delivery import connect, tls_kwargs, wait_for_bot_api
from bot.reliability.journal import JournalError
from bot.reliability.webhook import hide_secret, webhook_kwargs
from bot.storage import open_store
from bot.storage.records import StoreError
from retrieval import background_compile
from retrieval.errors import RetrievalError

log = logging.getLogger("bot.runner")
T = TypeVar("T")

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2
# Retries of the first getMe when the Bot API cannot be reached (1 s apart).
BOOTSTRAP_RETRIES = 5
# How long after the start of polling numba may load the compiled kernels: the first
# questions after a restart are answered on the numpy paths, without numba's third of a
# second of imports and loading holding the GIL beside them.
KERNELS_AFTER_SECONDS = 1.0


def configure_logging(level: str) -> None:
    """One log format on stderr for the whole program.

    httpx logs every request URL, and a Bot API URL contains the token, so it
    stays at WARNING whatever LOG_LEVEL says; apscheduler would log every
    heartbeat run; numba would log every pass of every kernel it compiles.
    """
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The executor of the job queue (the one named "default"), whose records carry it.
    logging.getLogger("apscheduler.executors.default").addFilter(drop_cancelled_jobs)


def leave(status: int) -> NoReturn:
    """End the process with `status`, the log and stdio flushed, without the
    interpreter's teardown.

    When `main` returns, everything the bot keeps is closed (state, journal, index cache,
    vectors).  What may still run is native code in daemon threads: on a cold start numba
    compiles a kernel for up to half a minute, and tearing the interpreter (and LLVM's
    globals) down under it ended one CI run with SIGSEGV after "bot stopped cleanly".
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or gone: nothing to flush
            stream.flush()
    os._exit(status)


def drop_cancelled_jobs(record: logging.LogRecord) -> bool:
    """False for apscheduler's "Error running job" about a job the stopping application
    cancelled (a rescan due while it stops): that is no error, and its traceback would
    read like one."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, asyncio.CancelledError)


def _fail(message: str, status: int) -> int:
    print(f"reports-bot: {message}", file=sys.stderr)
    return status


class _HideInvalidTokenTraceback(logging.Filter):
    """python-telegram-bot logs a rejected token with a traceback; we say it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, InvalidToken)


async def check_token(settings: Settings) -> None:
    """Ask the Bot API who we are before anything else: entering the Bot calls getMe,
    which raises InvalidToken for a rejected token and NetworkError when unreachable."""
    assert settings.token
    requests = [HTTPXRequest(httpx_kwargs=tls_kwargs()) for _ in range(2)]
    async with Bot(
        settings.token, settings.base_url, request=requests[0], get_updates_request=requests[1]
    ):
        pass


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        return _fail(str(error), EXIT_CONFIG)
    if not settings.token:
        return _fail(
            "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and export it "
            "(or try `reports-bot chat` in the terminal without one)",
            EXIT_CONFIG,
        )
    configure_logging(settings.log_level)
    logging.getLogger("telegram.ext").addFilter(_HideInvalidTokenTraceback())
    # One loop for the token check and the bot: run_polling picks up the current loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The index lives as long as the process: the collector is off while it loads (it
    # would walk every new object again and again) and never walks it after.
    gc.disable()
    background_compile.hold()
    # It loads while the token is checked: one mostly waits on the network, the other
    # works, so a restart answers sooner.
    loading = _in_background(lambda: open_library(settings))
    try:
        if not connect(loop, wait_for_bot_api(lambda: check_token(settings), settings.base_url)):
            log.info("stopped before the Bot API could be reached")
            return EXIT_OK
        with open_store(settings) as store:
            try:
                # The reports, kept up to date while it runs.
                live = open_live(settings, store, loading.result())
            finally:
                gc.freeze()
                gc.enable()
            application = build_application(settings, live.library.engine, store=store, live=live)
            _release_kernels_soon()
            _receive_updates(application, settings)
    except InvalidToken:
        return _fail(
            "Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather "
            f"(and that TELEGRAM_BASE_URL={settings.base_url} is the right Bot API)",
            EXIT_CONFIG,
        )
    except NetworkError as error:
        return _fail(
            f"cannot reach the Bot API at {settings.base_url}: {error}; "
            "check the network and TELEGRAM_BASE_URL",
            EXIT_UNAVAILABLE,
        )
    except (RetrievalError, ConfigError, StoreError, JournalError) as error:
        return _fail(str(error), EXIT_CONFIG)
    finally:
        gc.enable()
        if not loop.is_closed():
            loop.close()
    log.info("bot stopped cleanly")
    return EXIT_OK


def _receive_updates(application: BotApplication, settings: Settings) -> None:
    """Long polling, or the webhook server when WEBHOOK_URL is set, until a stop signal."""
    signals = (signal.SIGINT, signal.SIGTERM)
    if settings.webhook_url is None:
        application.run_polling(
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False,
            bootstrap_retries=BOOTSTRAP_RETRIES,
            stop_signals=signals,
        )
        return
    assert settings.webhook_secret is not None  # Settings requires it with the URL
    hide_secret(settings.webhook_secret)
    where = f"WEBHOOK_LISTEN={settings.webhook_listen} WEBHOOK_PORT={settings.webhook_port}"
    log.info("webhook mode: %s; Telegram posts to WEBHOOK_URL", where)
    try:
        application.run_webhook(
            **webhook_kwargs(
                settings.webhook_listen,
                settings.webhook_port,
                settings.webhook_url,
                settings.webhook_secret,
                ALLOWED_UPDATES,
            ),
            bootstrap_retries=BOOTSTRAP_RETRIES,
            stop_signals=signals,
        )
    except BadRequest as error:  # setWebhook refused: the URL (or its port) is not usable
        raise ConfigError(
            f"Telegram refused WEBHOOK_URL={settings.webhook_url}: {error.message}; "
            "it must be a public https URL on port 443, 80, 88 or 8443"
        ) from error
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        raise ConfigError(
            f"cannot listen on {where}: {error.strerror}; free the port or choose another"
        ) from error


def _release_kernels_soon() -> None:
    timer = threading.Timer(KERNELS_AFTER_SECONDS, background_compile.release)
    timer.daemon = True
    timer.name = "release-kernels"
    timer.start()


def _in_background(work: Callable[[], T]) -> Future[T]:
    """`work()` in a daemon thread: a start that fails meanwhile exits at once, without
    waiting for it."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as error:  # handed to whoever waits for the result
            future.set_exception(error)

    threading.Thread(target=run, name="load-reports", daemon=True).start()
    return future
