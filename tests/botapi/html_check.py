"""Telegram's rules for message text, as pure functions: HTML parse mode and length limits.

The HTML parser follows TDLib's ``parse_html`` (the code behind the Bot API): the same tags,
the same attribute syntax, the same error texts with the same byte offsets, and message
entities with UTF-16 offsets as the Bot API returns them.

One deliberate difference, on by default (``strict_ampersand``): Telegram keeps an ``&`` that
does not start one of ``&lt; &gt; &amp; &quot;`` or a numeric reference as a literal ``&``.
Its documentation asks for every ``&`` to be escaped, and a bot that forgets to escape
user text would show ``&lt;`` as ``<``. So by default this checker refuses such an ``&``
(``Unsupported entity "&nbsp;"`` or ``Character "&" ... must be escaped``); those two texts
are this test server's, not Telegram's.

Length: Telegram's 4096 limit counts Unicode code points of the text after entity parsing
and after trimming surrounding whitespace (measured against the live API: 4096 emoji pass,
4097 fail), so ``len()`` is used. Entity offsets and lengths count UTF-16 code units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_CHARS = 4096

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)

_ENTITY_TYPE_BY_TAG = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# TDLib's is_space: the characters that end a tag name or separate attributes.
_SPACES = frozenset(" \t\r\n\v\f\0")
_MAX_CODE_POINT = 0x10FFFF


class BadRequest(Exception):
    """A request Telegram would refuse with error_code 400; ``description`` is its text."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class TelegramHTMLError(BadRequest):
    """Text that Telegram's HTML parse mode refuses; ``detail`` is the parser's own message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Bad Request: can't parse entities: {detail}")
        self.detail = detail


@dataclass(frozen=True)
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int
    order: int


class _HTMLParser:
    """One pass over the markup, like TDLib: text goes to ``out``, tags to a stack."""

    def __init__(self, markup: str, strict_ampersand: bool) -> None:
        self.markup = markup
        self.strict = strict_ampersand
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[tuple[int, dict[str, Any]]] = []
        self.order = 0

    def fail(self, detail: str) -> TelegramHTMLError:
        return TelegramHTMLError(detail)

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.utf16 += utf16_len(chars)

    def decode_entity(self, pos: int) -> tuple[str, int] | None:
        """The character an ``&`` reference at ``pos`` stands for and the index after it."""
        text, n = self.markup, len(self.markup)
        end = pos + 1
        if end < n and text[end] == "#":
            end += 1
            value = 0
            if end < n and text[end] == "x":
                end += 1
                while end < n and text[end] in "0123456789abcdefABCDEF":
                    value = value * 16 + int(text[end], 16)
                    end += 1
            else:
                while end < n and text[end] in "0123456789":
                    value = value * 10 + int(text[end])
                    end += 1
            # TDLib gives up on references of 10 characters or more and on out-of-range values.
            if value == 0 or value >= _MAX_CODE_POINT or end - pos >= 10:
                return None
            if 0xD800 <= value <= 0xDFFF:
                raise self.fail(
                    "Text contains invalid Unicode characters after decoding HTML entities, "
                    "check for unmatched surrogate code units"
                )
            char = chr(value)
        else:
            while end < n and text[end].isascii() and text[end].isalpha():
                end += 1
            named = _NAMED_ENTITIES.get(text[pos + 1 : end])
            if named is None:
                return None
            char = named
        if end < n and text[end] == ";":
            end += 1
        return char, end

    def refuse_ampersand(self, pos: int) -> TelegramHTMLError:
        text, n = self.markup, len(self.markup)
        end = pos + 1
        if end < n and text[end] == "#":
            end += 1
        while end < n and text[end].isascii() and text[end].isalnum():
            end += 1
        if end < n and text[end] == ";" and end > pos + 1:
            reference = text[pos : end + 1]
            return self.fail(
                f'Unsupported entity "{reference}" at byte offset {_byte_offset(text, pos)}'
            )
        return self.fail(
            f'Character "&" at byte offset {_byte_offset(text, pos)} must be escaped as "&amp;"'
        )

    def ampersand(self, pos: int, sink: list[str] | None) -> int:
        decoded = self.decode_entity(pos)
        if decoded is None:
            if self.strict:
                raise self.refuse_ampersand(pos)
            decoded = ("&", pos + 1)
        char, after = decoded
        if sink is None:
            self.emit(char)
        else:
            sink.append(char)
        return after

    def parse(self) -> FormattedText:
        text, n = self.markup, len(self.markup)
        i = 0
        while i < n:
            c = text[i]
            if c == "&":
                i = self.ampersand(i, None)
            elif c != "<":
                start = i
                while i < n and text[i] not in "&<":
                    i += 1
                self.emit(text[start:i])
            elif i + 1 < n and text[i + 1] == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        return FormattedText("".join(self.out), _merge_pre_code(self.entities))

    def start_tag(self, begin: int) -> int:
        text, n = self.markup, len(self.markup)
        offset = _byte_offset(text, begin)
        i = begin + 1
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        if i >= n:
            raise self.fail(f"Unclosed start tag at byte offset {offset}")
        name = text[begin + 1 : i].lower()
        if name not in SUPPORTED_TAGS:
            raise self.fail(f'Unsupported start tag "{name}" at byte offset {offset}')
        argument = ""
        unclosed = f'Unclosed start tag "{name}" at byte offset {offset}'
        while True:
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise self.fail(unclosed)
            if text[i] == ">":
                i += 1
                break
            attribute_begin = i
            while i < n and text[i] not in _SPACES and text[i] not in "=>":
                i += 1
            attribute = text[attribute_begin:i].lower()
            if not attribute:
                raise self.fail(f'Empty attribute name in the tag "{name}" at byte offset {offset}')
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise self.fail(unclosed)
            if text[i] != "=":
                # An attribute without a value, like <blockquote expandable>.
                if name == "blockquote" and attribute == "expandable":
                    argument = "expandable"
                continue
            i += 1
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise self.fail(unclosed)
            value, i = self.attribute_value(i, offset)
            argument = _tag_argument(name, attribute, value, argument)
        if name == "span" and argument != "spoiler":
            raise self.fail(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        if name == "tg-emoji" and not (argument.isascii() and argument.isdigit() and int(argument)):
            raise self.fail("Invalid custom emoji identifier specified")
        self.stack.append(_OpenTag(name, argument, self.utf16, self.order))
        self.order += 1
        return i

    def attribute_value(self, i: int, tag_offset: int) -> tuple[str, int]:
        text, n = self.markup, len(self.markup)
        if text[i] not in "'\"":
            # A name token: letters, digits, periods and hyphens, case-insensitive.
            token_begin = i
            while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                i += 1
            if i >= n or (text[i] not in _SPACES and text[i] != ">"):
                raise self.fail(
                    f"Unexpected end of name token at byte offset {_byte_offset(text, token_begin)}"
                )
            return text[token_begin:i].lower(), i
        quote = text[i]
        i += 1
        value: list[str] = []
        while i < n and text[i] != quote:
            if text[i] == "&":
                i = self.ampersand(i, value)
            else:
                value.append(text[i])
                i += 1
        if i >= n:
            raise self.fail(f"Unclosed start tag at byte offset {tag_offset}")
        return "".join(value), i + 1

    def end_tag(self, begin: int) -> int:
        text, n = self.markup, len(self.markup)
        offset = _byte_offset(text, begin)
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {offset}")
        i = begin + 2
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n or text[i] != ">":
            raise self.fail(f"Unclosed end tag at byte offset {offset}")
        opened = self.stack.pop()
        if end_name and end_name != opened.name:
            raise self.fail(
                f"Unmatched end tag at byte offset {offset}, "
                f'expected "</{opened.name}>", found "</{end_name}>"'
            )
        self.close_entity(opened)
        return i + 1

    def close_entity(self, opened: _OpenTag) -> None:
        length = self.utf16 - opened.utf16_start
        if length <= 0:
            return
        kind = _ENTITY_TYPE_BY_TAG.get(opened.name, "")
        extra: dict[str, str] = {}
        if opened.name == "blockquote":
            expandable = opened.argument == "expandable"
            kind = "expandable_blockquote" if expandable else "blockquote"
        elif opened.name == "a":
            if not opened.argument:
                return  # Telegram drops a link without a usable URL.
            extra["url"] = opened.argument
        elif opened.name == "tg-emoji":
            extra["custom_emoji_id"] = opened.argument
        elif opened.name in ("code", "pre") and opened.argument:
            extra["language"] = opened.argument
        entity = {"type": kind, "offset": opened.utf16_start, "length": length, **extra}
        self.entities.append((opened.order, entity))


def _tag_argument(tag: str, attribute: str, value: str, current: str) -> str:
    """The one attribute each tag cares about, as TDLib reads it."""
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    if tag == "blockquote" and attribute == "expandable":
        return "expandable"
    return current


def _merge_pre_code(entities: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """``<pre><code class="language-x">`` over the same span becomes one pre with a language;
    a language on a code entity outside such a pair is dropped, as Telegram does."""
    pre_spans = {(e["offset"], e["length"]): e for _, e in entities if e["type"] == "pre"}
    kept: list[tuple[int, dict[str, Any]]] = []
    for order, entity in entities:
        if entity["type"] == "code" and "language" in entity:
            pre = pre_spans.get((entity["offset"], entity["length"]))
            if pre is not None:
                pre["language"] = entity["language"]
                continue
            del entity["language"]
        kept.append((order, entity))
    kept.sort(key=lambda item: (item[1]["offset"], -item[1]["length"], item[0]))
    return [entity for _, entity in kept]


def parse_telegram_html_entities(markup: str, *, strict_ampersand: bool = True) -> FormattedText:
    """Parse Telegram HTML into plain text and entities; raise ``TelegramHTMLError``."""
    return _HTMLParser(markup, strict_ampersand).parse()


def parse_telegram_html(markup: str, *, strict_ampersand: bool = True) -> str:
    """The plain text Telegram shows for ``markup``; raise ``TelegramHTMLError`` if it refuses."""
    return parse_telegram_html_entities(markup, strict_ampersand=strict_ampersand).text


def _trim(formatted: FormattedText) -> FormattedText:
    """Telegram trims whitespace around a message; entities move and shrink with the text."""
    text = formatted.text
    stripped = text.strip()
    if stripped == text:
        return formatted
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    entities: list[dict[str, Any]] = []
    for entity in formatted.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(stripped, entities)


def message_text(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    strict_ampersand: bool = True,
) -> FormattedText:
    """Apply Telegram's rules for a message text; raise ``BadRequest`` with Telegram's text."""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        formatted = parse_telegram_html_entities(text, strict_ampersand=strict_ampersand)
    elif mode == "":
        formatted = FormattedText(text, [dict(e) for e in entities or []])
    elif mode in ("markdown", "markdownv2"):
        raise BadRequest(
            f"Bad Request: this test server does not implement parse_mode {parse_mode!r}; "
            "send HTML (the bot's format) or plain text"
        )
    else:
        raise BadRequest("Bad Request: unsupported parse_mode")
    formatted = _trim(formatted)
    if not formatted.text:
        raise BadRequest("Bad Request: message text is empty")
    if len(formatted.text) > MAX_MESSAGE_CHARS:
        raise BadRequest("Bad Request: message is too long")
    return formatted
