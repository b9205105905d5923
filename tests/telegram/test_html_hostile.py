"""Arbitrary report text, titles, sources, urls and speakers through bot/telegram/html.py: every
message is Telegram HTML the strict checker of the test server accepts, at most 4096
characters, valid UTF-8, without control characters other than newline and tab, with a
valid keyboard; inline results pass the server's checks.  Each in a language drawn from
every catalogue's (an RTL one's shaping included).

The counts of generated examples are printed at the end of the module (pytest -s).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.telegram import html as render
from bot.telegram import html_live, i18n
from bot.telegram.access import refusal_html
from bot.telegram.limits import TOO_LONG_NOTE, with_note
from bot.text import MAX_ANSWERS
from retrieval.models import Hit, Passage, Report
from tests.botapi.html_check import message_text
from tests.botapi.validate import check_inline_results, check_reply_markup
from tests.hostile_text import hostile_text, utf8_clean

EXAMPLES = 200
# NUL, the other C0 controls, DEL and C1: never in a message, whatever the report holds.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
RAN: Counter[str] = Counter()
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

urls = st.one_of(
    st.none(),
    hostile_text,
    st.builds(lambda tail: "https://example.org/" + tail, hostile_text),
    st.sampled_from(
        [
            "javascript:alert(1)",
            'http://x/"><b>bold</b>',
            "https://example.org/?a=1&b=<2>",
            "https://example.org/" + "x" * 2000,
            "HTTPS://EXAMPLE.ORG/UPPER",
            " https://example.org/padded ",
        ]
    ),
)
optional_text = st.one_of(st.none(), hostile_text)
languages = st.sampled_from(i18n.every_language())


@st.composite
def reports(draw: st.DrawFn) -> Report:
    return Report(
        id=draw(st.text(min_size=1, max_size=20)),
        title=draw(hostile_text),
        paragraphs=tuple(draw(st.lists(hostile_text, min_size=1, max_size=3))),
        published=draw(
            st.datetimes(
                min_value=datetime(1900, 1, 1),
                max_value=datetime(2100, 1, 1),
                timezones=st.just(UTC),
            )
        ),
        published_from_mtime=draw(st.booleans()),
        source=draw(optional_text),
        url=draw(urls),
    )


@st.composite
def hits(draw: st.DrawFn, rank: int = 1) -> Hit:
    report = draw(reports())
    text = draw(hostile_text)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    sentences = tuple(draw(st.one_of(st.just(()), st.just(tuple(p for p in pieces if p)))))
    best = draw(st.one_of(st.sampled_from(pieces), hostile_text, st.just("")))
    passage = Passage(report.id, 0, text, sentences, speaker=draw(optional_text))
    return Hit(rank, 1.0, passage, report, best)


def assert_telegram_accepts(rendered: render.Rendered) -> None:
    markup = rendered.text
    assert utf8_clean(markup), "Telegram refuses strings that are not valid UTF-8"
    assert not CONTROL.search(markup), "no control character reaches sendMessage"
    parsed = message_text(markup, "HTML")  # raises BadRequest with Telegram's text
    assert 0 < len(parsed.text) <= render.MESSAGE_MAX_CHARS
    assert render.fits_message(markup)
    if rendered.keyboard is not None:
        check_reply_markup(rendered.keyboard.to_dict())


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    print(f"\nrenderer property tests: {sum(RAN.values())} generated examples {dict(RAN)}")


@HOSTILE
@given(st.lists(hits(), min_size=1, max_size=6), st.data(), languages)
def test_answers(found: list[Hit], data: st.DataObject, words: i18n.Words) -> None:
    RAN["answers"] += 1
    total = min(len(found), MAX_ANSWERS)
    position = data.draw(st.integers(1, total))
    answer = render.render_answer(found, position, words=words)
    assert_telegram_accepts(answer)
    assert_telegram_accepts(with_note(answer, TOO_LONG_NOTE))


@HOSTILE
@given(st.lists(hits(), max_size=6), languages)
def test_inline_results(found: list[Hit], words: i18n.Words) -> None:
    RAN["inline"] += 1
    results = [r.to_dict() for r in render.inline_results(found, words=words)]
    for result in results:
        assert utf8_clean(result["title"]) and utf8_clean(result.get("description", ""))
        assert utf8_clean(result["input_message_content"]["message_text"])
        shown = (result["title"], result.get("description", ""))
        assert not any(CONTROL.search(text) for text in shown)
        assert not CONTROL.search(result["input_message_content"]["message_text"])
    check_inline_results(results, strict_ampersand=True)


@HOSTILE
@given(st.lists(reports(), max_size=25), st.integers(0, 10_000), hostile_text, languages)
def test_latest(newest: list[Report], extra: int, note: str, words: i18n.Words) -> None:
    RAN["latest"] += 1
    assert_telegram_accepts(render.render_latest(newest, len(newest) + extra, note, words=words))


@HOSTILE
@given(
    st.integers(0, 10**6),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.lists(hostile_text, max_size=3),
    hostile_text,
    languages,
)
def test_start(
    count: int, newest: datetime | None, examples: list[str], name: str, words: i18n.Words
) -> None:
    RAN["start"] += 1
    assert_telegram_accepts(render.render_start(count, newest, examples, name, words=words))


@HOSTILE
@given(
    hostile_text,
    st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True)),
    languages,
)
def test_echoes_of_what_the_user_typed(typed: str, username: str | None, words: i18n.Words) -> None:
    """What the user typed is hostile; the bot's own username is whatever Telegram allows."""
    RAN["echoes"] += 1
    assert_telegram_accepts(render.render_unknown_command(typed or "/x", words=words))
    assert_telegram_accepts(render.render_latest_usage(typed, words=words))
    assert_telegram_accepts(render.render_help(username, words=words))
    assert_telegram_accepts(html_live.render_subscribed(typed or "x", new=True, words=words))
    assert_telegram_accepts(html_live.render_not_subscribed(typed, [typed], words=words))


@HOSTILE
@given(st.one_of(st.none(), st.integers()), st.one_of(st.none(), st.integers()), languages)
def test_refusals(user_id: int | None, chat_id: int | None, words: i18n.Words) -> None:
    RAN["refusals"] += 1
    assert_telegram_accepts(render.Rendered(refusal_html(user_id, chat_id, words=words)))


def test_nul_and_other_control_characters_in_every_field_of_a_report_are_dropped() -> None:
    """A report as a JSONL line with "\\u0000" escapes gives it: the loader drops them, and
    the rendering drops them again, so none can reach sendMessage."""
    dirty = "Ref\x00ugees\x1b[31m reached\x07 camps\x7f in\x85Turkey.\r\nMore\x0cto come\x9b."
    report = Report(
        id="r\x00",
        title="Syria\x00 Battle\x1b",
        paragraphs=(dirty,),
        published=datetime(2024, 5, 1, tzinfo=UTC),
        source="Reu\x00ters",
        url="https://example.org/\x00x",
    )
    passage = Passage(report.id, 0, dirty, (dirty,), speaker="Faiz\x00 Amr")
    hit = Hit(1, 1.0, passage, report, dirty)
    rendered = [
        render.render_answer([hit, hit], 1),
        render.render_latest([report], 1),
        html_live.render_push(hit, ["refugees\x00"]),
        render.render_start(1, None, [dirty], "Ann\x00"),
    ]
    for shown in rendered:
        assert_telegram_accepts(shown)
    answer = render.visible_text(rendered[0].text)
    assert "Refugees[31m reached camps in Turkey." in answer and "Syria Battle" in answer
    assert "Faiz Amr" in answer and "Reuters" in answer
    assert "href" not in rendered[0].text  # a url with a NUL in it is not linked
    (inline,) = [r.to_dict() for r in render.inline_results([hit])]
    assert inline["title"] == "Syria Battle"
    assert not CONTROL.search(
        inline["description"] + inline["input_message_content"]["message_text"]
    )
