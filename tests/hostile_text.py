"""Hypothesis strategies for hostile text: what users type and what reports contain.

Control characters, right-to-left and other format marks, emoji joined with ZWJ, lone
surrogates (Python strings can hold them; JSON escapes like "\\ud83d" produce them),
`<` and `&`, HTML and Markdown fragments, and strings of up to 10,000 characters.
"""

from __future__ import annotations

from hypothesis import strategies as st

LONGEST = 10_000

FRAGMENTS = (
    "<",
    ">",
    "&",
    '"',
    "'",
    "&amp;",
    "&lt;",
    "&nbsp;",
    "&#0;",
    "&#xD800;",
    "&#128512;",
    "&unknown;",
    "<b>",
    "</b>",
    "<i>x</i>",
    "<blockquote>",
    "</blockquote>",
    '<a href="http://x">',
    "</a>",
    "<tg-spoiler>",
    "<br>",
    "<!-- -->",
    '<pre><code class="language-python">',
    "<script>alert(1)</script>",
    "*bold*",
    "_it_",
    "__u__",
    "~s~",
    "||spoiler||",
    "`code`",
    "```block```",
    "[link](http://x)",
    "\\",
    "\u200f",  # right-to-left mark
    "\u200e",  # left-to-right mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u200d",  # zero width joiner
    "\u200b",  # zero width space
    "\ufeff",  # byte order mark
    "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family: ZWJ sequence
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
    "\U0001f1fa\U0001f1e6",  # a flag: two regional indicators
    "e\u0301",  # combining accent
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u2028",
    "\u2029",
    "\ud800",  # lone surrogates
    "\udfff",
    "\ud83d",  # half an emoji
    "/start",
    "/ask",
    "@reports_test_bot",
    "https://example.org/?a=1&b=2",
    " ",
)

# Every Unicode category, surrogates included.
any_character = st.characters(exclude_categories=())

fragment = st.sampled_from(FRAGMENTS)

hostile_text = st.one_of(
    st.text(any_character, max_size=200),
    st.lists(st.one_of(fragment, st.text(any_character, max_size=12)), max_size=40).map("".join),
    st.builds(
        lambda part, count: (part * count)[:LONGEST],
        st.one_of(fragment, st.text(any_character, min_size=1, max_size=8)),
        st.integers(min_value=1, max_value=LONGEST),
    ),
)


def utf8_clean(text: str) -> bool:
    """What Telegram requires of every string: encodable as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
