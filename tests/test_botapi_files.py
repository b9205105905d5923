"""The fake Bot API's documents, file downloads, channel posts and command scopes: strict
like Telegram, so the bot's uploads, channel reports and admin menus are tested against
what Telegram really does."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.botapi import FakeBotAPI
from tests.botapi import fixtures as botapi_fixtures
from tests.botapi.state import ControlError

botapi = botapi_fixtures.botapi
botapi_factory = botapi_fixtures.botapi_factory
USER = 4343
CHANNEL = -1004242


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def call(http: httpx.Client, api: FakeBotAPI, method: str, **params: object) -> httpx.Response:
    return http.post(f"{api.base_url}{api.token}/{method}", json=params)


def file_url(api: FakeBotAPI, path: str, token: str | None = None) -> str:
    return f"http://127.0.0.1:{api.port}/file/bot{token or api.token}/{path}"


def test_a_document_is_served_by_get_file_and_its_download(
    botapi: FakeBotAPI, http: httpx.Client
) -> None:
    sent = botapi.control.send_document(
        USER, USER, "r.pdf", content_base64=base64.b64encode(b"%PDF").decode()
    )
    document = sent["document"]
    assert document["file_name"] == "r.pdf" and document["file_size"] == 4
    info = call(http, botapi, "getFile", file_id=document["file_id"]).json()["result"]
    assert info["file_size"] == 4 and info["file_path"].endswith(".pdf")
    downloaded = http.get(file_url(botapi, info["file_path"]))
    assert downloaded.status_code == 200 and downloaded.content == b"%PDF"
    assert botapi.control.file_downloads(document["file_id"]) == {"served": True, "downloads": 1}
    assert http.get(file_url(botapi, info["file_path"], "1:wrong")).status_code == 401
    assert http.get(file_url(botapi, "documents/none.txt")).status_code == 404


def test_get_file_refuses_what_telegram_refuses(botapi: FakeBotAPI, http: httpx.Client) -> None:
    refused = call(http, botapi, "getFile", file_id="nope").json()
    assert refused["description"] == "Bad Request: invalid file_id"
    assert call(http, botapi, "getFile").json()["description"] == "Bad Request: file_id is empty"
    big = botapi.control.send_document(USER, USER, "big.txt", text="x" * 20_000_001)
    refused = call(http, botapi, "getFile", file_id=big["document"]["file_id"]).json()
    assert refused["description"] == "Bad Request: file is too big"


def test_sizes_can_be_absent_or_wrong_and_downloads_can_fail(
    botapi: FakeBotAPI, http: httpx.Client
) -> None:
    quiet = botapi.control.send_document(USER, USER, None, text="abc", omit_size=True)
    assert "file_size" not in quiet["document"] and "file_name" not in quiet["document"]
    info = call(http, botapi, "getFile", file_id=quiet["document"]["file_id"]).json()["result"]
    assert "file_size" not in info
    failing = botapi.control.send_document(USER, USER, "f.txt", text="abc", download_status=500)
    info = call(http, botapi, "getFile", file_id=failing["document"]["file_id"]).json()["result"]
    assert http.get(file_url(botapi, info["file_path"])).status_code == 500
    with pytest.raises(ControlError):
        botapi.control.send_document(USER, USER, "x.txt")  # no content


def test_channel_posts_and_their_edits_are_updates(botapi: FakeBotAPI, http: httpx.Client) -> None:
    post = botapi.control.channel_post(CHANNEL, "Hello channel", title="News", username="news")
    assert post["chat"] == {"id": CHANNEL, "title": "News", "type": "channel", "username": "news"}
    assert post["sender_chat"] == post["chat"] and "from" not in post
    photo = botapi.control.channel_post(CHANNEL, caption="A caption")
    assert "photo" in photo and photo["caption"] == "A caption"
    edited = botapi.control.edit_channel_post(CHANNEL, post["message_id"], "Hello again")
    assert edited["text"] == "Hello again" and "edit_date" in edited
    updates = call(http, botapi, "getUpdates").json()["result"]
    assert [next(k for k in u if k != "update_id") for u in updates] == [
        "channel_post",
        "channel_post",
        "edited_channel_post",
    ]
    with pytest.raises(ControlError):
        botapi.control.channel_post(-4242, "not a channel id")
    with pytest.raises(ControlError):
        botapi.control.edit_channel_post(CHANNEL, 999, "no such post")


def test_command_scopes_are_checked_and_kept_apart(botapi: FakeBotAPI, http: httpx.Client) -> None:
    commands = [{"command": "sources", "description": "Admin"}]
    scope = {"type": "chat", "chat_id": USER}
    refused = call(http, botapi, "setMyCommands", commands=commands, scope=scope).json()
    assert refused["description"] == "Bad Request: chat not found"  # never wrote to the bot
    botapi.control.send_message(USER, USER, "hi")
    assert call(http, botapi, "setMyCommands", commands=commands, scope=scope).json()["ok"]
    assert botapi.control.my_commands(scope) == commands
    assert botapi.control.my_commands() == []
    got = call(http, botapi, "getMyCommands", scope={"type": "chat", "chat_id": str(USER)}).json()
    assert got["result"] == commands
    bad = call(http, botapi, "setMyCommands", commands=commands, scope={"type": "everyone"}).json()
    assert bad["ok"] is False and "scope" in bad["description"]
    bad = call(http, botapi, "setMyCommands", commands=commands, scope=[1]).json()
    assert bad["description"] == "Bad Request: can't parse BotCommandScope JSON object"
