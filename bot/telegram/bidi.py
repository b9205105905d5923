"""Pure: a right-to-left language's sentence made to read right in Telegram.

Telegram's apps lay out each line of a message in the direction of its first strong
character, and Unicode's bidirectional algorithm orders what is inside a line.  Left
alone, an Arabic sentence goes wrong in three ways: a line that starts with an LTR
value (a command, a topic, a file name) is laid out left to right; a command's slash
lands on the wrong side of it ("latest/"), since the slash takes the Arabic direction
around it; and a value ending in punctuation (a topic "?") pulls that punctuation
out of place.  So each translated template of an RTL catalogue is shaped once, when
the catalogue is loaded (the .po files stay plain text a translator can read):

- every line starts with RIGHT-TO-LEFT MARK, so it is laid out right to left whatever
  value comes first (a lone mark: Telegram's server keeps one, and turns a run of
  marks into joiners);
- a `<code>` span, and a `/command` with the arguments after it that are left to right
  too ("/latest {command}", "/latest N", "/unsubscribe all"), is wrapped in LEFT-TO-RIGHT
  ISOLATE … POP DIRECTIONAL ISOLATE: commands read left to right whatever surrounds
  them.  The isolate goes around the tags, never inside a code span, so tapping a span
  copies clean text;
- every other placeholder is wrapped in FIRST STRONG ISOLATE … PDI: a value takes its
  own direction (an English title, an Arabic topic) without disturbing the sentence.
  Numbers are not isolated: digits already read right in an RTL sentence, and an
  isolate would reverse "{position}/{total}".  Nor is `topics`, a list over several
  lines: an isolate ends at a line's end, so it would cover only the first.

Telegram keeps these characters: its server removes only the older embedding controls
(U+202A-U+202E) and line separators from message text (TDLib's clean_input_string).
The text engines its apps use (ICU on Android, Core Text, Qt, browsers) implement
isolates (Unicode 6.3); one that did not would skip them as invisible format
characters, leaving the sentence as it would be unshaped.  This follows the algorithm
and TDLib's code; it was not looked at in every Telegram app.  Report text is never
shaped: quotes stay as they are, in the report's language.
"""

from __future__ import annotations

import re

RLM = "\u200f"
LRI = "\u2066"
FSI = "\u2068"
PDI = "\u2069"
CONTROLS = frozenset((RLM, LRI, FSI, PDI))

# Placeholders that hold a number; `topics` holds lines.  Neither is isolated (above).
NOT_ISOLATED = frozenset(
    {"count", "default", "id", "left", "limit", "page", "position", "shown", "total", "topics"}
    | {"user_id"}
)

_CODE = re.compile(r"<code>.*?</code>", re.DOTALL)
# A command (a slash not closing a tag nor inside a word) and the arguments after it that
# are left to right too: placeholders, "N", "[N]", "TOPIC", "all".
_PIECE = re.compile(
    r"(?P<command>(?<![\w/@<])/[a-z][a-z0-9_]*(?: (?:\{\w+\}|\[[A-Z]+\]|[A-Z]+\b|all\b))*)"
    r"|(?P<field>\{(?P<name>\w+)(?:![rsa])?(?::[^{}]*)?\})"
)


def shape_rtl(template: str) -> str:
    """`template` (a translation, with its {placeholders}) shaped for an RTL language."""
    pieces: list[str] = []
    position = 0
    for code in _CODE.finditer(template):
        pieces.append(_isolate_pieces(template[position : code.start()]))
        pieces.append(LRI + code.group() + PDI)
        position = code.end()
    pieces.append(_isolate_pieces(template[position:]))
    lines = "".join(pieces).split("\n")
    return "\n".join(RLM + line if line.strip() else line for line in lines)


def _isolate_pieces(text: str) -> str:
    def isolate(match: re.Match[str]) -> str:
        if match.group("command"):
            return LRI + match.group() + PDI
        if match.group("name") in NOT_ISOLATED:
            return match.group()
        return FSI + match.group() + PDI

    return _PIECE.sub(isolate, text)


def isolate(value: str) -> str:
    """`value` in a first-strong isolate, as `shape_rtl` puts a placeholder: for each
    item of a list that fills one placeholder (the language names of an Arabic
    sentence), so an item in another script keeps the list's order."""
    return FSI + value + PDI


def unshaped(text: str) -> str:
    """`text` without the controls `shape_rtl` adds (what a reader sees, in tests)."""
    return "".join(ch for ch in text if ch not in CONTROLS)
