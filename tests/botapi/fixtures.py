"""pytest fixtures for the fake Bot API; import them into a conftest.py:

from tests.botapi.fixtures import botapi, botapi_client, botapi_factory  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.botapi.client import BotAPIClient
from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI

BotAPIFactory = Callable[..., FakeBotAPI]


@pytest.fixture
def botapi_factory() -> Iterator[BotAPIFactory]:
    """Build servers with options (``port=``, ``strict_ampersand=``, ``start=False`` for a
    server that comes up later); every one is stopped at the end of the test."""
    servers: list[FakeBotAPI] = []

    def make(token: str = DEFAULT_TOKEN, *, start: bool = True, **options: Any) -> FakeBotAPI:
        server = FakeBotAPI(token, **options)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def botapi(botapi_factory: BotAPIFactory) -> FakeBotAPI:
    """A started server with the default test token, on a free port."""
    return botapi_factory()


@pytest.fixture
def botapi_client(botapi: FakeBotAPI) -> BotAPIClient:
    """The HTTP control client of the ``botapi`` server."""
    return botapi.client
