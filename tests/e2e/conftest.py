"""End-to-end fixtures: one fake Bot API server and, where it can, one bot process per
test module (scope="module"), so the suite starts few processes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.botapi.control import Control
from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI
from tests.e2e.harness import BotProcess, start_bot


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(DEFAULT_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def control(server: FakeBotAPI) -> Control:
    return server.control


@pytest.fixture(scope="module")
def bot(server: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """One bot over the seed reports for the whole module."""
    process = start_bot(server, tmp_path_factory.mktemp("bot-state"))
    yield process
    status = process.stop()
    assert status == 0, f"the bot exited with {status} on SIGTERM; log:\n{process.log}"


_ids = itertools.count(1)


@pytest.fixture
def user_id() -> int:
    """A fresh user (and private chat) id per test, so tests never see each other's chats."""
    return 7_000_000 + next(_ids)


@pytest.fixture
def group_id() -> int:
    """A fresh group id per test (Telegram's are negative); also keeps each group under
    the rate limiter's per-group budget."""
    return -100_000 - next(_ids)
