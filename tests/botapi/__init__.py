"""A local HTTP server speaking the Telegram Bot API, strict like Telegram, for e2e tests.

from tests.botapi import FakeBotAPI

with FakeBotAPI() as api:           # api.base_url -> TELEGRAM_BASE_URL, api.token
    user = api.client                # act as users, read what the bot did, inject faults
"""

from tests.botapi.client import BotAPIClient, ControlRequestError
from tests.botapi.control import Control
from tests.botapi.html_check import (
    BadRequest,
    FormattedText,
    TelegramHTMLError,
    parse_telegram_html,
    parse_telegram_html_entities,
)
from tests.botapi.server import DEFAULT_TOKEN, FakeBotAPI, find_free_port
from tests.botapi.state import BOT_USER, ControlError

__all__ = [
    "BOT_USER",
    "DEFAULT_TOKEN",
    "BadRequest",
    "BotAPIClient",
    "Control",
    "ControlError",
    "ControlRequestError",
    "FakeBotAPI",
    "FormattedText",
    "TelegramHTMLError",
    "find_free_port",
    "parse_telegram_html",
    "parse_telegram_html_entities",
]
