"""Request bodies the way the Bot API reads them: query string, JSON, form or multipart.

python-telegram-bot posts ``application/x-www-form-urlencoded`` where every value is a string
and nested objects (reply_markup, reply_parameters, results, ...) are JSON text; other clients
post JSON with typed values. ``Params`` reads a parameter the same way in both cases.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from tests.botapi.html_check import BadRequest

# Parameters whose value is a JSON object or array; in form bodies they arrive as JSON text.
JSON_FIELDS = frozenset(
    {
        "allowed_updates",
        "button",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "reply_markup",
        "reply_parameters",
        "results",
        "scope",
    }
)

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _form_pairs(text: str) -> dict[str, Any]:
    return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=False))


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(EmailMessage, policy=HTTP).parsebytes(header + body)
    values: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            values[name] = {"filename": part.get_filename(), "size": len(raw)}
        else:
            values[name] = raw.decode("utf-8")
    return values


def parse_body(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """All request parameters, query string first, then the body; raise ``BadRequest``."""
    try:
        values = _form_pairs(query)
        media_type = content_type.split(";", 1)[0].strip().lower()
        if not body.strip():
            return values
        if media_type == "application/json":
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise BadRequest("Bad Request: JSON body must be an object")
            values.update(decoded)
        elif media_type == "multipart/form-data":
            values.update(_multipart(content_type, body))
        else:
            values.update(_form_pairs(body.decode("utf-8")))
    except UnicodeDecodeError as error:
        raise BadRequest("Bad Request: strings must be encoded in UTF-8") from error
    except json.JSONDecodeError as error:
        raise BadRequest(f"Bad Request: can't parse JSON body: {error.msg}") from error
    return values


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class Params:
    """Typed access to one request's parameters, with Telegram's error texts."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.raw = values
        # JSON bodies may carry "\ud800" escapes that UTF-8 cannot encode; Telegram refuses them.
        if _has_lone_surrogate(values):
            raise BadRequest("Bad Request: strings must be encoded in UTF-8")

    def normalized(self) -> dict[str, Any]:
        """The parameters with JSON-text fields decoded, for the call log."""
        out: dict[str, Any] = {}
        for name, value in self.raw.items():
            if name in JSON_FIELDS and isinstance(value, str):
                try:
                    out[name] = json.loads(value)
                except json.JSONDecodeError:
                    out[name] = value
            else:
                out[name] = value
        return out

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
        raise BadRequest(f"Bad Request: parameter {name} must be a string")

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise BadRequest(f"Bad Request: wrong parameter {name} of type Integer")

    def get_float(self, name: str, default: float) -> float:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise BadRequest(f"Bad Request: wrong parameter {name} of type Float") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise BadRequest(f"Bad Request: wrong parameter {name} of type Boolean")

    def get_json(self, name: str) -> Any:
        """A JSON-typed parameter, decoding it when it came as JSON text."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise BadRequest(f"Bad Request: can't parse {name} JSON object") from None
        return value

    def get_chat_id(self, name: str = "chat_id") -> int | str | None:
        """A chat id: an integer, or an ``@username`` string for public chats."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().startswith("@"):
            return value.strip()
        try:
            return self.get_int(name)
        except BadRequest:
            raise BadRequest("Bad Request: chat not found") from None
