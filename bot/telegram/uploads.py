"""Handler: a document sent in a private chat.  From an admin (ADMIN_USER_IDS) it becomes
a report (bot/live/uploads.py writes and indexes it); anyone else gets a polite one-line
refusal.

What is checked before anything is downloaded: the sender, the file name (a safe one,
with a suffix the folder walk reads) and the size Telegram gives (`file_size`, against
UPLOAD_MAX_BYTES).  The download is checked again as it streams in, since a size may be
missing or wrong, and stopped at the limit.  Every failure is one line to the admin and
one line in the log; the file URL (it holds the token) is never logged.

A kept upload is recorded in the store (who sent it, from which chat, its size and
sha256); a store that fails then costs the record only, in one warning line: the file
is what serves.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from telegram import Bot, Document, Update
from telegram.error import TelegramError

from bot.live import jobs
from bot.live.uploads import (
    Failure,
    Stored,
    UploadFailed,
    Uploads,
    check_name,
    describe,
    example_question,
)
from bot.reliability.delivery import tls_kwargs
from bot.state import Context
from bot.storage.records import Store, StoreError
from bot.telegram import html_admin, wording
from bot.telegram.admin import is_admin, refresh_admin_menu
from bot.telegram.html import Rendered
from bot.telegram.i18n import words_of
from bot.telegram.replies import reply, show_typing

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_SECONDS = 60.0
_CHUNK = 64 * 1024


async def document(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.document is None:
        return
    state = context.bot_data
    user = update.effective_user
    words = words_of(update)
    if not is_admin(state, user.id if user else None):
        log.info("refused a document from user %s: not an admin", user.id if user else None)
        await reply(message, Rendered(words(wording.UPLOAD_ADMINS_ONLY)))
        return
    if state.live is None:
        await reply(message, Rendered(words(wording.UPLOADS_OFF)))
        return
    await refresh_admin_menu(context.bot, message.chat_id, state)
    doc = message.document
    name = doc.file_name or ""
    limit = state.settings.upload_max_bytes
    try:
        name = check_name(doc.file_name)
        if doc.file_size is not None and doc.file_size > limit:
            raise UploadFailed(Failure.TOO_BIG, f"{doc.file_size} bytes")
        await show_typing(message)
        stored = await _receive(context.bot, doc, name, Uploads(state.live.library), limit)
    except UploadFailed as failed:
        log.warning("upload %r from admin %s not kept: %s", name[:200], user and user.id, failed)
        await reply(message, html_admin.render_upload_failed(failed, name, limit, words=words))
        return
    log.info(
        "admin %s uploaded %s: %d reports, %d passages",
        user and user.id,
        stored.name,
        len(stored.reports),
        stored.passages,
    )
    if user is not None:
        await _record(state.store, stored, user.id, message.chat_id)
    engine = state.live.library.engine  # the newest, whichever refresh made it
    if stored.change is not None:
        jobs.swap_in(context, state.live, stored.change)
    example = await asyncio.to_thread(example_question, engine, stored.reports, stored.speakers)
    await reply(message, html_admin.render_stored(stored, example, words=words))


async def _record(store: Store | None, stored: Stored, user_id: int, chat_id: int) -> None:
    """Who sent the kept upload, in the store, with the records of the uploads it
    replaced dropped; a StoreError is one warning line (the upload still counts)."""
    if store is None:
        return
    try:
        await asyncio.to_thread(_record_now, store, stored, user_id, chat_id)
    except StoreError as error:
        log.warning("upload %s kept, but not recorded in the store: %s", stored.name, error)


def _record_now(store: Store, stored: Stored, user_id: int, chat_id: int) -> None:
    for name in stored.dropped:
        store.forget_upload(name)
    store.record_upload(stored.name, user_id, chat_id, stored.size, stored.sha256)


async def _receive(bot: Bot, doc: Document, name: str, uploads: Uploads, limit: int) -> Stored:
    path = uploads.incoming(name)
    try:
        await download(bot, doc.file_id, path, limit)
        return await asyncio.to_thread(uploads.keep, path)
    finally:
        uploads.discard(path)


async def download(bot: Bot, file_id: str, path: Path, limit: int) -> None:
    """Fetch the file into `path`, at most `limit` bytes; UploadFailed otherwise."""
    try:
        file = await bot.get_file(file_id)
    except TelegramError as error:
        text = str(error)
        if "too big" in text.lower():
            raise UploadFailed(Failure.TOO_BIG) from None
        raise UploadFailed(Failure.DOWNLOAD_FAILED, text) from None
    if file.file_size is not None and file.file_size > limit:
        raise UploadFailed(Failure.TOO_BIG, f"{file.file_size} bytes")
    source = file.file_path or ""
    try:
        if urlsplit(source).scheme in ("http", "https"):
            await _fetch(source, path, limit)
        elif source:  # a self-hosted Bot API server in --local mode gives a local path
            await asyncio.to_thread(_copy, Path(source), path, limit)
        else:
            raise UploadFailed(Failure.DOWNLOAD_FAILED, "no file path")
    except OSError as error:
        raise UploadFailed(Failure.WRITE_FAILED, describe(error)) from None


async def _fetch(url: str, path: Path, limit: int) -> None:
    size = 0
    try:
        async with (
            httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT_SECONDS, **tls_kwargs()) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise UploadFailed(Failure.DOWNLOAD_FAILED, f"HTTP {response.status_code}")
            with path.open("wb") as out:
                async for chunk in response.aiter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise UploadFailed(Failure.TOO_BIG, f"over {limit} bytes")
                    out.write(chunk)
    except httpx.HTTPError as error:  # its text may hold the URL, and so the token
        raise UploadFailed(Failure.DOWNLOAD_FAILED, type(error).__name__) from None


def _copy(source: Path, path: Path, limit: int) -> None:
    with source.open("rb") as given, path.open("wb") as out:
        while chunk := given.read(_CHUNK):
            if out.tell() + len(chunk) > limit:
                raise UploadFailed(Failure.TOO_BIG, f"over {limit} bytes")
            out.write(chunk)
