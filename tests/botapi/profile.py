"""The bot's profile texts per language: setMyDescription, getMyDescription,
setMyShortDescription, getMyShortDescription, and the language code they (and the
command methods) take.

As Telegram's: a `language_code` is empty (every user without a text of their own
language) or two lowercase letters, else "invalid language code specified" (TDLib's
validate_bot_language_code; "zh-hans" or "EN" are refused).  A description has 0-512
characters and a short description 0-120; an empty one removes that language's text.
The get methods return the text set for exactly that language (empty when none is);
a user of a language without one is shown the empty code's (`description_of`).
Telegram's wording for a text over its limit is not documented; the limits are.
"""

from __future__ import annotations

import re
from typing import Any

from tests.botapi.html_check import BadRequest
from tests.botapi.params import Params
from tests.botapi.state import World

DESCRIPTION_MAX_CHARS = 512
SHORT_DESCRIPTION_MAX_CHARS = 120
INVALID_LANGUAGE = "Bad Request: invalid language code specified"
_LANGUAGE = re.compile(r"[a-z]{2}")

# (kind, its parameter and result field, its limit)
_KINDS = {
    "description": ("description", DESCRIPTION_MAX_CHARS),
    "short_description": ("short_description", SHORT_DESCRIPTION_MAX_CHARS),
}


def language_code(params: Params) -> str:
    """The checked `language_code` parameter ("" when absent)."""
    code = params.get_str("language_code") or ""
    if code and not _LANGUAGE.fullmatch(code):
        raise BadRequest(INVALID_LANGUAGE)
    return code


def description_of(world: World, kind: str, code: str) -> str:
    """What a user with `code` is shown: the text of their language, else the default."""
    texts = world.descriptions
    return texts.get((kind, code)) or texts.get((kind, ""), "")


def _set(world: World, params: Params, kind: str) -> Any:
    field, limit = _KINDS[kind]
    code = language_code(params)
    text = params.get_str(field) or ""
    if len(text) > limit:
        raise BadRequest(f"Bad Request: {field.replace('_', ' ')} is too long")
    if text:
        world.descriptions[(kind, code)] = text
    else:
        world.descriptions.pop((kind, code), None)
    world.changed()
    return True


def _get(world: World, params: Params, kind: str) -> Any:
    field, _ = _KINDS[kind]
    return {field: world.descriptions.get((kind, language_code(params)), "")}


def set_my_description(world: World, params: Params, generation: int) -> Any:
    return _set(world, params, "description")


def get_my_description(world: World, params: Params, generation: int) -> Any:
    return _get(world, params, "description")


def set_my_short_description(world: World, params: Params, generation: int) -> Any:
    return _set(world, params, "short_description")


def get_my_short_description(world: World, params: Params, generation: int) -> Any:
    return _get(world, params, "short_description")
