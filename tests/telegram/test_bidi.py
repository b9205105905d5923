"""Right-to-left sentences: what shaping adds (bot/telegram/bidi.py) and what an Arabic
reply looks like once Telegram has parsed it."""

from __future__ import annotations

from bot.telegram import html, html_live, i18n, wording
from bot.telegram.bidi import FSI, LRI, PDI, RLM, shape_rtl, unshaped
from tests.botapi.html_check import parse_telegram_html
from tests.conftest import PARAGRAPH, make_hit, make_report

ARABIC = i18n.words_for("ar")


def test_every_line_starts_right_to_left() -> None:
    shaped = shape_rtl("سطر أول\nسطر ثان\n\nثالث")
    assert shaped.split("\n") == [RLM + "سطر أول", RLM + "سطر ثان", "", RLM + "ثالث"]


def test_a_command_and_its_left_to_right_arguments_are_one_isolate() -> None:
    assert f"{LRI}/latest{PDI}." in shape_rtl("اطّلع عبر /latest.")
    assert f"{LRI}/latest {{command}}{PDI} " in shape_rtl("يعرض /latest {command} أحدثها")
    assert f"{LRI}/latest N{PDI} حيث" in shape_rtl("أو /latest N حيث")
    assert f"{LRI}/unsubscribe all{PDI}" in shape_rtl("ويوقف /unsubscribe all متابعتها")
    # An Arabic argument is not part of it: it reads right to left after the command.
    assert f"{LRI}/subscribe{PDI} موضوع" in shape_rtl("/subscribe موضوع")


def test_a_closing_tag_and_a_word_with_a_slash_are_not_commands() -> None:
    shaped = shape_rtl("<b>جديد</b> و/أو")
    assert LRI not in shaped and shaped == RLM + "<b>جديد</b> و/أو"


def test_a_code_span_is_isolated_whole_and_nothing_is_put_inside_it() -> None:
    shaped = shape_rtl("جرّب: <code>/ask {question}</code>.")
    assert shaped == f"{RLM}جرّب: {LRI}<code>/ask {{question}}</code>{PDI}."


def test_values_are_isolated_but_numbers_and_lists_are_not() -> None:
    shaped = shape_rtl("عن {topic} من {name}: {count} ({position}/{total})\n{topics}")
    assert f"{FSI}{{topic}}{PDI}" in shaped and f"{FSI}{{name}}{PDI}" in shaped
    assert "{count} ({position}/{total})" in shaped  # an isolate would reverse 2/5
    assert shaped.endswith("\n" + RLM + "{topics}")
    assert f"{FSI}{{limit:,}}{PDI}" not in shape_rtl("{limit:,}")  # a number, spec or not


def test_shaping_only_adds_controls() -> None:
    text = "عن {topic}: <code>/subscribe {command}</code>، أو /latest N.\n{topics}"
    assert unshaped(shape_rtl(text)) == text


def test_left_to_right_languages_are_not_shaped() -> None:
    for code in ("en", "ru", "es", "de"):
        words = i18n.words_for(code)
        assert not words.rtl
        assert not set(words(wording.NOT_FOUND)) & {RLM, LRI, FSI, PDI}


def test_an_arabic_not_found_reads_right_to_left_with_the_command_intact() -> None:
    shown = parse_telegram_html(html.render_not_found(words=ARABIC).text)
    lines = shown.split("\n")
    assert all(line.startswith(RLM) for line in lines)
    assert f"{LRI}/latest{PDI}" in lines[1]
    assert unshaped(shown).startswith("لم أجد ذلك في التقارير، لذا لن أخمّن.")


def test_an_arabic_answer_keeps_the_reports_quote_as_it_is() -> None:
    hit = make_hit(PARAGRAPH, "The rebels claim a new crossing.", speaker="Faiz Amr")
    shown = parse_telegram_html(html.render_answer([hit, hit], 1, words=ARABIC).text)
    quote = shown.split("\n")[0]
    assert not set(quote) & {RLM, LRI, FSI, PDI}  # the report's own text, untouched
    assert f"{RLM}القائل: {FSI}Faiz Amr{PDI}" in shown
    assert unshaped(shown).endswith("الإجابة 1 من 2")


def test_an_arabic_topic_reply_isolates_the_users_topic() -> None:
    rendered = html_live.render_subscribed("refugees Turkey?", new=True, words=ARABIC)
    shown = parse_telegram_html(rendered.text)
    assert f"«{FSI}refugees Turkey?{PDI}»" in shown  # its "?" stays at its end
    assert f"{LRI}/latest refugees Turkey?{PDI}" in shown


def test_an_arabic_list_has_arabic_dates() -> None:
    shown = parse_telegram_html(html.render_latest([make_report()], 1, words=ARABIC).text)
    assert "22 يوليو 2012" in shown
    assert html.report_date(make_report(from_mtime=True), ARABIC) == (
        f"{RLM}{FSI}22 يوليو 2012{PDI} (تاريخ الملف)"
    )
