"""Control methods for documents and channels: a user sends a file (served by getFile and
the file download), a channel publishes or edits a post.  Mixed into ``Control``."""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Callable
from typing import Any

from tests.botapi.state import ControlError, StoredFile, World


class FilesAndChannels:
    world: World
    # Control's: a user's message in a chat, stored and queued as an update.
    _user_message: Callable[..., dict[str, Any]]

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
        """A user sends a file: ``text`` (UTF-8) or ``content_base64`` is its content;
        ``file_name`` None sends it without a name.  The message's and getFile's
        ``file_size`` is the content's length, or ``declared_size``, or absent with
        ``omit_size``.  Its download answers ``download_status`` (e.g. 500 to fail)."""
        if (text is None) == (content_base64 is None):
            raise ControlError("give the document's content as text or as content_base64")
        if text is not None:
            content = text.encode("utf-8")
        else:
            try:
                content = base64.b64decode(content_base64 or "", validate=True)
            except (binascii.Error, ValueError) as error:
                raise ControlError(f"content_base64 is not base64: {error}") from None
        world = self.world
        with world.cond:
            sequence = world.sequence()
            file_id = f"BQACAgIAAxkBAAE{sequence:08d}"
            size = None if omit_size else len(content) if declared_size is None else declared_size
            suffix = ""
            if file_name and "." in file_name:
                suffix = "." + "".join(c for c in file_name.rsplit(".", 1)[1] if c.isalnum())
            stored = StoredFile(
                content, f"AgAD{sequence:06d}", f"documents/file_{sequence}{suffix}", size,
                download_status,
            )  # fmt: skip
            world.files[file_id] = stored
        document: dict[str, Any] = {"file_id": file_id, "file_unique_id": stored.unique_id}
        if file_name is not None:
            document["file_name"] = file_name
        if mime_type is not None:
            document["mime_type"] = mime_type
        if size is not None:
            document["file_size"] = size
        message: dict[str, Any] = {"document": document}
        if caption:
            message["caption"] = caption
        return self._user_message(
            chat_id, user_id, message, chat_type=chat_type, reply_to_message_id=None,
            first_name=first_name, last_name=None, username=None, language_code="en",
            chat_title=None,
        )  # fmt: skip

    def file_downloads(self, file_id: str) -> dict[str, Any]:
        """Whether getFile was asked for a file, and how often it was downloaded."""
        with self.world.cond:
            stored = self.world.files.get(file_id)
            if stored is None:
                raise ControlError(f"no file {file_id}")
            return {"served": stored.served, "downloads": stored.downloads}

    def _channel(self, chat_id: int, title: str | None, username: str | None) -> dict[str, Any]:
        if not str(chat_id).startswith("-100"):
            raise ControlError("channel ids start with -100 in the Bot API")
        known = self.world.chats.get(chat_id)
        if known is not None and known["type"] != "channel":
            raise ControlError(f"chat {chat_id} is a {known['type']}, not a channel")
        chat: dict[str, Any] = {
            "id": chat_id,
            "title": title or (known or {}).get("title") or f"Channel {chat_id}",
            "type": "channel",
        }
        name = username if username is not None else (known or {}).get("username")
        if name:
            chat["username"] = name
        self.world.chats[chat_id] = chat
        return chat

    def channel_post(
        self,
        chat_id: int,
        text: str | None = None,
        caption: str | None = None,
        title: str | None = None,
        username: str | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """The channel publishes a post (a text, or a photo with ``caption``); returns it
        as the bot receives it in a ``channel_post`` update."""
        if not text and caption is None:
            raise ControlError("a post needs a text, or a caption (a photo post)")
        world = self.world
        with world.cond:
            chat = self._channel(chat_id, title, username)
            post: dict[str, Any] = {
                "message_id": world.new_message_id(chat_id),
                "sender_chat": dict(chat),
                "chat": dict(chat),
                "date": world.now() if date is None else date,
            }
            if text:
                post["text"] = text
            else:
                sequence = world.sequence()
                photo_id = f"AgACAgIAAxkBAAE{sequence:08d}"
                post["photo"] = [
                    {"file_id": photo_id, "file_unique_id": f"AQAD{sequence}", "width": 800,
                     "height": 600}
                ]  # fmt: skip
                if caption:
                    post["caption"] = caption
            rendered = world.store(post, None)
            world.enqueue("channel_post", rendered)
            return copy.deepcopy(rendered)

    def edit_channel_post(
        self, chat_id: int, message_id: int, text: str | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        """The channel edits a post; the bot receives an ``edited_channel_post``."""
        world = self.world
        with world.cond:
            stored = world.messages.get((chat_id, message_id))
            if stored is None or stored["chat"]["type"] != "channel":
                raise ControlError(f"no post {message_id} in channel {chat_id}")
            if "text" in stored:
                if not text:
                    raise ControlError("a text post stays a text post: give the new text")
                stored["text"] = text
            else:
                stored.pop("caption", None)
                if caption:
                    stored["caption"] = caption
            stored["edit_date"] = world.now()
            rendered = world.render(chat_id, message_id)
            world.enqueue("edited_channel_post", rendered)
            return copy.deepcopy(rendered)
