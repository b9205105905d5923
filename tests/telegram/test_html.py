"""Rendering answers, lists and hints as Telegram HTML, checked with the test server's
own Telegram HTML parser; plus the pure decisions the handlers make about what a user typed
and the "More" button's callback data."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import InputTextMessageContent

from bot.telegram import html as render
from bot.telegram.addressing import clean_question, command_is_for_us, mentions_bot
from bot.telegram.callbacks import CALLBACK_DATA_MAX_BYTES, decode_more, encode_more
from bot.telegram.html import Rendered
from bot.telegram.wording import COMMANDS, CONTEXT_GAP
from bot.text import LATEST_MAX, MAX_ANSWERS, SHORT_QUOTE_CHARS
from retrieval.models import MAX_QUOTE_CHARS, Hit
from tests.botapi.html_check import message_text, parse_telegram_html_entities
from tests.conftest import BEST, HOSTILE, JULY_22, PARAGRAPH, make_hit, make_report


def sent(rendered: Rendered | str) -> Any:
    """What Telegram would show for our HTML; raises like Telegram when it would refuse it."""
    markup = rendered.text if isinstance(rendered, Rendered) else rendered
    assert len(markup) <= render.MESSAGE_MAX_CHARS
    return message_text(markup, "HTML")


def entities_of(formatted: Any, kind: str) -> list[str]:
    """The text covered by each entity of `kind` (offsets are UTF-16; our tests are BMP-only)."""
    return [
        formatted.text[e["offset"] : e["offset"] + e["length"]]
        for e in formatted.entities
        if e["type"] == kind
    ]


# -- the answer --------------------------------------------------------------------


def test_answer_quotes_the_best_sentence_in_bold_and_folds_the_rest_of_the_passage() -> None:
    shown = sent(render.render_answer([make_hit(PARAGRAPH, BEST)], 1))

    # The best sentence and the one after it; the sentence before it is context.
    assert entities_of(shown, "blockquote") == [BEST + " The rebels claim a new crossing."]
    assert entities_of(shown, "expandable_blockquote") == [
        "Reports suggests the border crossings were recaptured."
    ]
    assert entities_of(shown, "bold") == [BEST]


def test_a_short_passage_has_no_folded_context() -> None:
    shown = sent(render.render_answer([make_hit(BEST, BEST)], 1))

    assert entities_of(shown, "blockquote") == [BEST]
    assert entities_of(shown, "expandable_blockquote") == []


def test_context_on_both_sides_marks_where_the_short_quote_stood() -> None:
    text = "First comes this. " + BEST + " Then that. And the end."
    long_best = BEST + " " + "x" * 230  # with the next sentence it passes the short limit
    shown = sent(render.render_answer([make_hit(text, BEST)], 1))
    longer = sent(render.render_answer([make_hit(text.replace(BEST, long_best), long_best)], 1))

    assert entities_of(shown, "blockquote") == [BEST + " Then that."]
    assert entities_of(shown, "expandable_blockquote") == ["First comes this. […] And the end."]
    # Too long with the sentence after it: the best sentence alone is the short quote.
    assert entities_of(longer, "blockquote") == [long_best]
    assert entities_of(longer, "expandable_blockquote") == [
        "First comes this. […] Then that. And the end."
    ]


def test_answer_attribution_line_has_linked_title_source_and_date() -> None:
    shown = sent(render.render_answer([make_hit(PARAGRAPH, BEST)], 1))

    assert "Syria Battle · Reuters · 22 Jul 2012" in shown.text.splitlines()
    links = [e for e in shown.entities if e["type"] == "text_link"]
    assert [link["url"] for link in links] == ["https://example.com/syria?a=1&b=2"]
    assert entities_of(shown, "text_link") == ["Syria Battle"]


def test_answer_names_the_speaker() -> None:
    shown = sent(render.render_answer([make_hit(PARAGRAPH, BEST, speaker="Faiz Amr")], 1))

    assert "Quoted: Faiz Amr" in shown.text.splitlines()


def test_answer_without_speaker_names_nobody() -> None:
    shown = sent(render.render_answer([make_hit(PARAGRAPH, BEST)], 1))

    assert "Quoted" not in shown.text


def test_file_dates_are_marked_and_missing_source_and_url_are_left_out() -> None:
    report = make_report(source=None, url=None, from_mtime=True)
    shown = sent(render.render_answer([make_hit(PARAGRAPH, BEST, report=report)], 1))

    assert shown.text.splitlines()[-1] == "Syria Battle · 22 Jul 2012 (file date)"
    assert not [e for e in shown.entities if e["type"] == "text_link"]


def test_a_pdf_answer_names_its_page_and_the_report_its_author() -> None:
    hit = make_hit(PARAGRAPH, BEST, report=replace(make_report(), author="Jane <Doe>"))
    hit = replace(hit, passage=replace(hit.passage, page=3))
    shown = sent(render.render_answer([hit], 1))

    assert "Syria Battle · Reuters · by Jane <Doe> · 22 Jul 2012 · p. 3" in shown.text.splitlines()


def test_hostile_report_and_passage_text_is_shown_literally() -> None:
    report = make_report(title=HOSTILE, source=HOSTILE, url="https://example.com/?q=\"<x>\"&y='1'")
    text = f"Before {HOSTILE}. The key {HOSTILE} sentence. After &."
    best = f"The key {HOSTILE} sentence."
    shown = sent(render.render_answer([make_hit(text, best, report=report, speaker=HOSTILE)], 1))

    assert entities_of(shown, "blockquote") == [f"{best} After &."]
    assert entities_of(shown, "expandable_blockquote") == [f"Before {HOSTILE}."]
    assert entities_of(shown, "bold") == [best, HOSTILE]  # the sentence and the speaker
    assert f"Quoted: {HOSTILE}" in shown.text
    assert f"{HOSTILE} · {HOSTILE} · 22 Jul 2012" in shown.text
    links = [e for e in shown.entities if e["type"] == "text_link"]
    assert [link["url"] for link in links] == ["https://example.com/?q=\"<x>\"&y='1'"]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.com/x", "https://exa mple.com", ""]
)
def test_only_plain_web_urls_become_links(url: str) -> None:
    report = make_report(url=url)
    shown = sent(render.render_answer([make_hit(PARAGRAPH, BEST, report=report)], 1))

    assert not [e for e in shown.entities if e["type"] == "text_link"]
    assert "Syria Battle · Reuters" in shown.text


def test_a_huge_passage_is_trimmed_at_a_word_boundary_and_keeps_the_best_sentence() -> None:
    filler = " ".join(f"word{i} & <tag{i}>." for i in range(1200))  # ~10,000 chars
    best = "The answer is forty thousand refugees."
    text = f"{filler} {best} {filler}"
    assert len(text) > 10_000

    shown = sent(render.render_answer([make_hit(text, best)], 1))

    (quote,) = entities_of(shown, "blockquote")
    (context,) = entities_of(shown, "expandable_blockquote")
    # The filler's lower-case "sentences" run on: the one after it is far too long.
    assert quote == best
    assert entities_of(shown, "bold") == [best]
    # Short, and the whole within the quote budget (plus the "…" marks and the gap).
    assert len(quote) <= SHORT_QUOTE_CHARS
    assert len(quote) + len(context) <= MAX_QUOTE_CHARS + len("……") + len(CONTEXT_GAP)
    assert context.startswith("…") and context.endswith("…")
    before, after = context.strip("…").split(CONTEXT_GAP)
    # Cut between words, not inside one: every piece is a piece of the passage.
    assert text.index(before) + len(before) == text.index(best) - 1
    assert after in text and after.split()[0] == "word0"


def test_a_long_passage_with_the_best_sentence_first_is_cut_only_at_the_end() -> None:
    best = "Over 40,000 refugees have already entered camps in Turkey."
    text = best + " " + " ".join(["More detail follows here."] * 400)

    shown = sent(render.render_answer([make_hit(text, best)], 1))

    (quote,) = entities_of(shown, "blockquote")
    (context,) = entities_of(shown, "expandable_blockquote")
    assert quote == best + " More detail follows here."
    assert context.startswith("More detail") and context.endswith("…")
    assert CONTEXT_GAP not in context  # nothing before the quote
    assert len(quote) + len(context) <= MAX_QUOTE_CHARS + 1


def test_worst_case_escaping_still_fits_one_message() -> None:
    # Every character of the quote and the title turns into a 5-character entity.
    report = make_report(title="&" * 5000, source="<" * 5000, url="https://e.com/" + "&" * 900)
    text = "&" * 700
    shown = sent(render.render_answer([make_hit(text, text, report=report, speaker=">" * 500)], 1))

    assert "&" in entities_of(shown, "blockquote")[0]
    assert len(shown.text) <= render.MESSAGE_MAX_CHARS


def test_best_sentence_missing_from_the_passage_just_is_not_bold() -> None:
    shown = sent(render.render_answer([make_hit(PARAGRAPH, "Not in the passage at all.")], 1))

    assert entities_of(shown, "blockquote") == [PARAGRAPH]
    assert not entities_of(shown, "bold")


# -- the "More" button --------------------------------------------------------------


def hits(count: int) -> list[Hit]:
    return [
        make_hit(f"Passage number {i}.", f"Passage number {i}.", rank=i, position=i)
        for i in range(1, count + 1)
    ]


def button_data(rendered: Rendered) -> list[str]:
    if rendered.keyboard is None:
        return []
    return [str(b.callback_data) for row in rendered.keyboard.inline_keyboard for b in row]


def test_more_button_points_at_the_next_hit_until_the_last() -> None:
    five = hits(5)
    assert button_data(render.render_answer(five, 1)) == ["more:2"]
    assert button_data(render.render_answer(five, 4)) == ["more:5"]
    assert button_data(render.render_answer(five, 5)) == []
    assert "Answer 3 of 5" in sent(render.render_answer(five, 3)).text
    assert "Passage number 3." in entities_of(sent(render.render_answer(five, 3)), "blockquote")


def test_a_single_hit_has_no_button_and_no_counter() -> None:
    rendered = render.render_answer(hits(1), 1)
    assert rendered.keyboard is None
    assert "Answer 1" not in sent(rendered).text


def test_more_never_goes_past_the_top_five() -> None:
    seven = hits(7)
    assert button_data(render.render_answer(seven, 5)) == []
    with pytest.raises(ValueError):
        render.render_answer(seven, 6)


def test_not_found_quotes_nothing_and_suggests_latest() -> None:
    shown = sent(render.render_not_found())
    assert not shown.entities
    assert "/latest" in shown.text and "rephras" in shown.text


# -- callback data ------------------------------------------------------------------


def test_callback_data_round_trips_and_fits_telegram() -> None:
    for rank in range(1, MAX_ANSWERS + 1):
        data = encode_more(rank)
        assert len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
        assert decode_more(data) == rank
    with pytest.raises(ValueError):
        encode_more(MAX_ANSWERS + 1)


@pytest.mark.parametrize(
    "data", [None, 3, "", "more:", "more:0", "more:6", "more:99", "more:-1", "more:2 ", "less:2"]
)
def test_garbage_callback_data_is_rejected(data: object) -> None:
    assert decode_more(data) is None


@given(st.text(max_size=80))
def test_any_callback_data_decodes_to_a_valid_rank_or_none(data: str) -> None:
    rank = decode_more(data)
    assert rank is None or (1 <= rank <= MAX_ANSWERS and encode_more(rank) == data)


# -- what the user typed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Who commands the rebels?", "Who commands the rebels?"),
        ("/ask Who commands the rebels?", "Who commands the rebels?"),
        ("/ask@Reports_Bot   Who\ncommands?", "Who commands?"),
        ("@reports_bot who commands?", "who commands?"),
        ("hey @Reports_bot, who commands?", "hey , who commands?"),
        ("mail me@reports_bot.example", "mail me@reports_bot.example"),
        ("@reports_botty who?", "@reports_botty who?"),
        ("/ask", ""),
        ("/asking something", "/asking something"),
    ],
)
def test_clean_question(text: str, question: str) -> None:
    assert clean_question(text, "reports_bot") == question


def test_mentions() -> None:
    assert mentions_bot("hi @Reports_Bot there", "reports_bot")
    assert not mentions_bot("hi @reports_botty", "reports_bot")
    assert not mentions_bot("hi @reports_bot", None)


def test_commands_addressed_to_us_in_groups() -> None:
    assert command_is_for_us("/foo@Reports_Bot", "reports_bot")
    assert not command_is_for_us("/foo", "reports_bot")
    assert not command_is_for_us("/foo@other_bot", "reports_bot")


# -- /latest, /start, /help and hints --------------------------------------------------


def test_latest_lists_title_source_date_and_first_sentence_in_order() -> None:
    reports = [
        make_report(
            f"Report {i}",
            report_id=f"r{i}",
            published=JULY_22 - timedelta(days=i),
            paragraphs=(f"First sentence of report {i}. Second sentence.",),
        )
        for i in range(3)
    ]
    shown = sent(render.render_latest(reports, total_reports=10))

    lines = shown.text.splitlines()
    assert lines[0] == "Newest reports (3 of 10)"
    titles = [line for line in lines if line[:1].isdigit()]
    assert titles == [
        "1. Report 0 · Reuters · 22 Jul 2012",
        "2. Report 1 · Reuters · 21 Jul 2012",
        "3. Report 2 · Reuters · 20 Jul 2012",
    ]
    assert "First sentence of report 1." in lines
    assert "Second sentence." not in shown.text


def test_latest_of_twenty_hostile_reports_fits_one_message() -> None:
    reports = [
        make_report(
            HOSTILE * 20,
            report_id=f"r{i}",
            url=f"https://example.com/{i}?" + "&" * 150,
            paragraphs=(HOSTILE * 100 + ".",),
        )
        for i in range(LATEST_MAX)
    ]
    shown = sent(render.render_latest(reports, total_reports=20, note="At most 20 at a time."))

    assert shown.text.startswith("Newest reports (")
    assert HOSTILE in shown.text
    assert "At most 20 at a time." in shown.text


def test_latest_with_no_reports() -> None:
    assert "no reports" in sent(render.render_latest([], total_reports=0)).text


def test_latest_usage_escapes_what_the_user_typed() -> None:
    shown = sent(render.render_latest_usage("<b>&"))
    assert "“<b>&” is not a number" in shown.text


def test_start_says_what_the_bot_knows_and_gives_examples() -> None:
    examples = ["What did Faiz Amr say?", f"What happened in {HOSTILE}?"]
    shown = sent(render.render_start(12, JULY_22, examples, first_name="<Ann>"))

    assert "Hello, <Ann>!" in shown.text
    assert "I know 12 reports; the newest is from 22 Jul 2012." in shown.text
    assert "• What did Faiz Amr say?" in shown.text
    assert f"• What happened in {HOSTILE}?" in shown.text


def test_start_with_no_reports() -> None:
    assert "no reports" in sent(render.render_start(0, None, [])).text


def test_help_lists_every_command_and_inline_use() -> None:
    shown = sent(render.render_help("reports_bot"))
    for command in COMMANDS:
        assert f"/{command.name}" in shown.text
    assert "@reports_bot QUESTION" in shown.text


def test_hints_are_valid_html() -> None:
    assert "/x<y>" in sent(render.render_unknown_command("/x<y>")).text
    assert "/help" in sent(render.render_not_text()).text
    assert "Sorry" in sent(render.render_error()).text
    assert "/ask" in sent(render.render_ask_usage()).text


# -- inline mode ------------------------------------------------------------------------


def test_inline_results_are_answers_with_unique_short_ids() -> None:
    many = [
        make_hit(
            f"{HOSTILE} passage {i}.",
            f"{HOSTILE} passage {i}.",
            rank=i,
            position=i,
            report=make_report(f"Title {i} {HOSTILE}"),
        )
        for i in range(1, 8)
    ]
    results = render.inline_results(many)

    assert len(results) == 5
    assert len({r.id for r in results}) == 5
    assert all(len(r.id.encode()) <= 64 for r in results)
    assert results[0].title == f"Title 1 {HOSTILE}"
    assert results[0].description == f"{HOSTILE} passage 1."
    for result, hit in zip(results, many, strict=False):
        content = result.input_message_content
        assert isinstance(content, InputTextMessageContent)
        assert content.parse_mode == "HTML"
        shown = sent(content.message_text)
        assert entities_of(shown, "blockquote") == [hit.passage.text]


def test_no_inline_results_when_not_found() -> None:
    assert render.inline_results([]) == []


# -- measuring ---------------------------------------------------------------------------


def test_visible_text_matches_telegrams_parser() -> None:
    markup = render.answer_html(make_hit(f"{HOSTILE} {PARAGRAPH}", BEST, speaker=HOSTILE))
    assert render.visible_text(markup) == parse_telegram_html_entities(markup).text
