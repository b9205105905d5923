"""Subscriptions and topics without Telegram: which new reports match a topic, which
reports /latest TOPIC lists, who gets which push, and how it all reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telegram import User

from bot.storage.records import Subscription
from bot.telegram import html_live as render_live
from bot.telegram import wording
from bot.telegram.html import fits_message, visible_text
from bot.telegram.i18n import words_for
from bot.telegram.pushes import MAX_PUSHES_PER_BATCH, chat_words, plan_pushes
from bot.telegram.subscriptions import (
    MAX_LANGUAGE_CODE_CHARS,
    pick_subscription,
    subscriber_language,
)
from retrieval import topics
from retrieval.models import Hit, Report
from retrieval.search import SearchEngine
from tests.conftest import make_hit, make_report


def report(number: int, title: str, *paragraphs: str, day: int = 1) -> Report:
    return make_report(
        title,
        paragraphs=paragraphs,
        report_id=f"r{number}",
        published=datetime(2024, 5, day, tzinfo=UTC),
        source="Wire",
        url=f"https://example.org/{number}",
    )


REPORTS = (
    report(1, "Refugees reach Turkey", "Over 40,000 refugees have entered camps in Turkey.", day=1),
    report(2, "Camps fill up", "More refugees arrived in camps in southern Turkey.", day=3),
    report(3, "Wheat harvest", "The national wheat harvest reached 12 million tonnes.", day=4),
    report(4, "Ferry news", "The ferry to the island leaves at seven.", day=5),
    report(5, "Border talks", "Turkey and Syria discussed the border crossings.", day=2),
)


@pytest.fixture(scope="module")
def engine() -> SearchEngine:
    return SearchEngine.build(REPORTS)


# -- topics ---------------------------------------------------------------------------------


def test_a_report_matches_a_topic_it_answers(engine: SearchEngine) -> None:
    hit = topics.report_answer(engine, "refugees camps Turkey", "r2")
    assert hit is not None and hit.report.id == "r2" and "camps" in hit.quote
    assert topics.report_answer(engine, "refugees camps Turkey", "r3") is None
    assert topics.report_answer(engine, "refugees camps Turkey", "nope") is None


def test_latest_on_a_topic_is_newest_first_and_only_matching(engine: SearchEngine) -> None:
    found = topics.newest_on_topic(engine, "refugees camps Turkey", 5)
    assert [r.id for r in found] == ["r2", "r1"]
    assert [r.id for r in topics.newest_on_topic(engine, "refugees camps Turkey", 1)] == ["r2"]
    assert topics.newest_on_topic(engine, "sourdough bread", 5) == []
    assert topics.newest_on_topic(engine, "refugees", 0) == []
    # Every report it lists is one a subscription to the topic would have been pushed.
    for listed in found:
        assert topics.report_answer(engine, "refugees camps Turkey", listed.id) is not None


def test_new_reports_are_matched_per_topic_newest_first_up_to_a_limit(
    engine: SearchEngine,
) -> None:
    new = [REPORTS[0], REPORTS[1], REPORTS[2]]
    matched = topics.match_new_reports(
        engine, ["refugees camps", "wheat harvest", "ferry island", "bread"], new, limit=5
    )
    assert {t: [h.report.id for h in hits] for t, hits in matched.hits.items()} == {
        "refugees camps": ["r2", "r1"],
        "wheat harvest": ["r3"],
    }
    capped = topics.match_new_reports(engine, ["refugees camps"], new, limit=1)
    assert [h.report.id for h in capped.hits["refugees camps"]] == ["r2"]


def test_a_topic_of_stopwords_has_nothing_to_search(engine: SearchEngine) -> None:
    assert not topics.has_search_terms(engine, "the of and")
    assert not topics.has_search_terms(engine, "<&> ?!")
    assert topics.has_search_terms(engine, "the harvest")


def sub(
    chat: int, topic: str, user: int | None = None, at: float = 0.0, language: str | None = None
) -> Subscription:
    return Subscription(chat, topic, user if user is not None else chat, at, language)


def test_pick_subscription_by_name_number_or_all() -> None:
    current = [sub(1, "Refugees Turkey"), sub(1, "wheat"), sub(1, "42 boats")]
    assert pick_subscription("refugees  TURKEY", current) == [current[0]]
    assert pick_subscription("2", current) == [current[1]]
    assert pick_subscription("42 boats", current) == [current[2]]
    assert pick_subscription("4", current) == []  # no fourth one, and not a topic either
    assert pick_subscription("ALL", current) == current
    assert pick_subscription("barley", current) == []


# -- planning pushes --------------------------------------------------------------------------


def hit(report_: Report) -> Hit:
    return make_hit(report_.paragraphs[0], report_.paragraphs[0], report=report_, position=0)


def test_one_push_per_chat_and_report_naming_every_topic_it_matched() -> None:
    subscriptions = [
        sub(1, "refugees"),
        sub(1, "Turkey camps"),
        sub(2, "refugees", at=1),
        sub(3, "wheat", at=2),
    ]
    matched = {
        "refugees": [hit(REPORTS[1]), hit(REPORTS[0])],
        "turkey camps": [hit(REPORTS[1])],
    }
    pushes, overflows = plan_pushes(subscriptions, matched, allowed=lambda s: True)
    assert [(p.chat_id, p.hit.report.id, p.topics) for p in pushes] == [
        (1, "r2", ("refugees", "Turkey camps")),
        (1, "r1", ("refugees",)),
        (2, "r2", ("refugees",)),
        (2, "r1", ("refugees",)),
    ]
    assert overflows == []


def test_pushes_are_capped_per_chat_and_the_rest_pointed_to_latest() -> None:
    many = [hit(report(n, f"Story {n}", f"Refugees story {n}.")) for n in range(10)]
    pushes, overflows = plan_pushes([sub(1, "refugees")], {"refugees": many}, lambda s: True)
    assert len(pushes) == MAX_PUSHES_PER_BATCH
    assert overflows == [(1, "refugees")]


def test_subscribers_no_longer_allowed_get_nothing() -> None:
    subscriptions = [sub(1, "refugees", user=10), sub(2, "refugees", user=20)]
    pushes, _ = plan_pushes(
        subscriptions, {"refugees": [hit(REPORTS[0])]}, allowed=lambda s: s.user_id == 20
    )
    assert [p.chat_id for p in pushes] == [2]


def test_each_chat_is_pushed_in_its_subscriptions_language_english_when_unknown() -> None:
    subscriptions = [
        sub(1, "refugees", language="de-AT"),
        sub(2, "refugees", at=1),  # a row from before languages were kept
        sub(3, "wheat", at=2, language="xx"),  # a language without a catalogue
        sub(-5, "wheat", at=3, language="ru"),  # a merged group's older row
        sub(-5, "barley", at=4, language="es"),
    ]
    assert {chat: w.language for chat, w in chat_words(subscriptions).items()} == {
        1: "de",
        2: "en",
        3: "en",
        -5: "es",  # the newest subscription's
    }


def test_the_language_kept_is_the_subscribers_code_as_sent() -> None:
    def user(code: str | None) -> User:
        return User(1, "Tester", is_bot=False, language_code=code)

    assert subscriber_language(user("pt-br")) == "pt-br"  # no catalogue yet: kept for one
    assert subscriber_language(user(" de ")) == "de"
    assert subscriber_language(user("")) is None
    assert subscriber_language(user(None)) is None
    assert subscriber_language(None) is None
    assert subscriber_language(user("x" * 500)) == "x" * MAX_LANGUAGE_CODE_CHARS


def test_a_push_and_its_overflow_read_in_the_words_they_are_handed() -> None:
    german = words_for("de")
    shown = render_live.render_push(hit(REPORTS[0]), ["refugees"], words=german)
    header = german(wording.PUSH_HEADER).format(
        topics=german(wording.TOPIC).format(topic="refugees"), more=""
    )
    assert shown.text.startswith(header) and header.startswith("🔔 <b>Neuer Bericht</b>")
    overflow = render_live.render_more_new_reports("refugees", words=german)
    assert overflow.text == german(wording.PUSH_OVERFLOW).format(
        topic=german(wording.TOPIC).format(topic="refugees"), command="refugees"
    )


# -- rendering ----------------------------------------------------------------------------------


def test_a_push_reads_like_an_answer_under_a_header(engine: SearchEngine) -> None:
    found = topics.report_answer(engine, "refugees camps Turkey", "r2")
    assert found is not None
    shown = render_live.render_push(found, ["refugees camps Turkey"])
    text = visible_text(shown.text)
    assert text.startswith("🔔 New report on “refugees camps Turkey”")
    assert "<blockquote>" in shown.text and "Camps fill up" in text and "Wire" in text
    assert shown.keyboard is None


def test_hostile_topics_are_escaped_and_long_ones_still_fit() -> None:
    hostile = "<b>refugees</b> & <a href='x'>camps</a> " * 20
    long_report = report(9, "T" * 300, "refugees " * 200)
    shown = render_live.render_push(hit(long_report), [hostile, hostile, hostile, hostile])
    assert fits_message(shown.text)
    assert "<a href='x'>" not in shown.text and "&lt;b&gt;refugees" in shown.text
    assert "and 1 more" in shown.text
    for rendered in (
        render_live.render_subscribed(hostile, new=True),
        render_live.render_subscribed(hostile, new=False),
        render_live.render_topic_without_words(hostile),
        render_live.render_subscriptions([hostile]),
        render_live.render_unsubscribe_usage([hostile]),
        render_live.render_unsubscribed([hostile]),
        render_live.render_not_subscribed(hostile, [hostile]),
        render_live.render_more_new_reports(hostile),
        render_live.render_latest_on_topic([], 3, hostile),
        render_live.render_subscribe_usage([hostile]),
    ):
        assert "<a href='x'>" not in rendered.text and "&amp;" in rendered.text
        assert fits_message(rendered.text)


def test_latest_on_a_topic_names_it_above_the_list() -> None:
    shown = render_live.render_latest_on_topic([REPORTS[1]], 5, "refugees", "At most 20 at a time.")
    text = visible_text(shown.text)
    assert text.startswith("Newest reports (1 of 5)")
    assert "On “refugees”. At most 20 at a time." in text
    assert "Camps fill up" in text
