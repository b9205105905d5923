"""Stage two, piece by piece, on small real passages.

Each test sets two passages side by side that BM25 cannot tell apart (or
gets wrong) and checks that the feature under test decides, and that
switching the feature off gives the other order.  No quality thresholds:
those live in benchmarks/bench_quality.py.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from retrieval.analyzer import Analyzer
from retrieval.answer_types import question_kind
from retrieval.hits import best_sentence, distinct_windows
from retrieval.models import Passage, Report
from retrieval.passages import make_passages
from retrieval.rerank import (
    Candidate,
    Query,
    RerankSettings,
    Scored,
    is_not_found,
    rank,
)
from retrieval.rerank_profile import profile_passages
from retrieval.search import SearchEngine
from retrieval.sentences import split_sentences
from tests.conftest import make_report

ANALYZER = Analyzer()
WHEN = datetime(2024, 5, 1, tzinfo=UTC)
DEFAULT = RerankSettings()
NO_CUES = replace(DEFAULT, cue_weight=0.0, next_cue_weight=0.0)


def report(report_id: str, *paragraphs: str) -> Report:
    return make_report(report_id, paragraphs=paragraphs, report_id=report_id, published=WHEN)


def candidates_of(passages: Sequence[Passage], bm25: float = 5.0) -> list[Candidate]:
    """Candidates with equal BM25 and report scores: only stage two's own features differ."""
    tokens = [tuple(ANALYZER.tokens(p.text)) for p in passages]
    profiles = profile_passages(passages, tokens, ANALYZER)
    return [
        Candidate(index, bm25, passage, passage_tokens, profile, report_score=3.0)
        for index, (passage, passage_tokens, profile) in enumerate(
            zip(passages, tokens, profiles, strict=True)
        )
    ]


def one_passage_each(*texts: str) -> list[Candidate]:
    """Each text the lead of its own report, so the lead bonus is the same for all."""
    passages = [make_passages(report(f"r{i}", text))[0] for i, text in enumerate(texts)]
    return candidates_of(passages)


def query(question: str, n_docs: int = 1000) -> Query:
    terms = ANALYZER.query_tokens(question)
    return Query(
        text=question,
        terms=tuple(terms),
        idf={term: 2.0 for term in terms},
        n_docs=n_docs,
        kind=question_kind(question),
    )


def first_text(question: str, candidates: Sequence[Candidate], settings: RerankSettings) -> str:
    return rank(query(question), candidates, settings)[0].candidate.passage.text


# ---- answer-type cues -----------------------------------------------------------------


def test_how_many_prefers_the_passage_with_a_number() -> None:
    plain = "Refugees crossed the border into Turkey on foot."
    counted = "About 40,000 refugees crossed the border into Turkey."
    candidates = one_passage_each(plain, counted)
    question = "How many refugees crossed into Turkey?"
    assert first_text(question, candidates, DEFAULT) == counted
    assert first_text(question, candidates, NO_CUES) == plain  # a tie: BM25's order


def test_who_prefers_a_capitalised_name_not_in_the_question() -> None:
    # Both name Aleppo, but Aleppo is in the question: only Aqidi answers "who".
    vague = "The rebels in Aleppo are led by a former army colonel."
    named = "The rebels in Aleppo are led by Abdul-Jabbar Aqidi."
    candidates = one_passage_each(vague, named)
    question = "Who leads the rebels in Aleppo?"
    assert first_text(question, candidates, DEFAULT) == named
    assert first_text(question, candidates, NO_CUES) == vague


def test_when_prefers_a_date() -> None:
    undated = "The treaty was signed in the capital after long talks."
    dated = "The treaty was signed on March 3, 1998."
    candidates = one_passage_each(undated, dated)
    assert first_text("When was the treaty signed?", candidates, DEFAULT) == dated
    assert first_text("When was the treaty signed?", candidates, NO_CUES) == undated


def test_a_question_of_no_kind_gets_no_cue_bonus() -> None:
    candidates = one_passage_each(
        "The treaty was signed in the capital.", "The treaty was signed on March 3, 1998."
    )
    ranked = rank(query("What about the treaty signing?"), candidates, DEFAULT)
    assert ranked[0].score == ranked[1].score


# ---- sentences, lead and fusion ------------------------------------------------------


def test_terms_in_one_sentence_beat_terms_spread_over_a_passage() -> None:
    spread = "The bridge opened in spring. Later that year, the toll was cut."
    together = "Officials cut the toll on the bridge. Traffic grew in spring."
    candidates = one_passage_each(spread, together)
    question = "Why was the bridge toll cut?"
    assert first_text(question, candidates, DEFAULT) == together
    no_sentences = replace(DEFAULT, sentence_weight=0.0)
    assert first_text(question, candidates, no_sentences) == spread


def test_the_lead_wins_between_equal_passages_of_one_report() -> None:
    text = "Officials opened the new bridge on Monday."
    later = "Engineers said the new bridge is safe."
    everything = candidates_of(
        make_passages(report("r", text, "Traffic was light.", "Rain fell.", later))
    )
    lead, last = everything[0], everything[3]
    # The later passage comes first in BM25's order, as it would on a tie.
    candidates = [replace(last, index=0), replace(lead, index=1)]
    question = "What about the new bridge?"
    assert first_text(question, candidates, DEFAULT) == text
    assert first_text(question, candidates, replace(DEFAULT, lead_weight=0.0)) == later


def test_fusion_prefers_the_passage_from_the_report_about_the_topic() -> None:
    farm = report(
        "farm",
        "Farmers across the plains brought in the wheat harvest this week, and officials "
        "said on Monday that it reached 12 million tonnes after a long dry season.",
        "The wheat was dry and the harvest came early.",
        "Wheat prices fell as the harvest came in.",
    )
    # One short passage mentions the harvest in passing: passage BM25 likes it best.
    city = report(
        "city",
        "The council met on Tuesday to discuss bus fares, parking and the library.",
        "Wheat harvest festival opens.",
    )
    fillers = [report(f"filler{i}", f"Story {i} about trains and boats.") for i in range(5)]
    # Counting single mentions fully leaves fusion the only thing that knows the topic.
    settings = replace(DEFAULT, single_mention_weight=1.0)
    engine = SearchEngine.build([city, farm, *fillers]).with_rerank(settings)
    question = "What about the wheat harvest?"
    assert engine.search(question)[0].report.id == "farm"
    without_fusion = engine.with_rerank(replace(settings, report_weight=0.0))
    assert without_fusion.search(question)[0].report.id == "city"


def test_plain_settings_keep_bm25_order() -> None:
    plain = RerankSettings(
        passage_weight=1.0,
        report_weight=0.0,
        sentence_weight=0.0,
        cue_weight=0.0,
        next_cue_weight=0.0,
        lead_weight=0.0,
    )
    passages = make_passages(report("r", "Alpha beta.", "Beta gamma.", "Gamma alpha."))
    candidates = [
        replace(c, bm25=score)
        for c, score in zip(candidates_of(passages), (1.0, 3.0, 2.0), strict=True)
    ]
    ranked = rank(query("alpha beta gamma"), candidates, plain)
    assert [s.candidate.bm25 for s in ranked] == [3.0, 2.0, 1.0]


# ---- not found ------------------------------------------------------------------------


def test_words_found_nowhere_are_not_found() -> None:
    fillers = [report(f"filler{i}", f"Story {i} about trains and boats.") for i in range(5)]
    engine = SearchEngine.build([report("a", "The port reopened after the storm."), *fillers])
    assert engine.search("How do I bake sourdough bread?") == []
    assert engine.search("When did the port reopen?")


def test_question_words_scattered_far_apart_are_not_found() -> None:
    # Each content word of the question sits in its own sentence, far from the others.
    sentences = [
        "Smith spoke first.",
        "The hall was full.",
        "Nobody left early.",
        "Budget talks went on.",
        "Tea was served.",
        "Chairs were stacked.",
        "Paris was mentioned.",
    ]
    candidates = one_passage_each(" ".join(sentences))
    question = query("Smith budget Paris")
    ranked = rank(question, candidates, DEFAULT)
    assert is_not_found(question, ranked, DEFAULT)
    assert not is_not_found(question, ranked, replace(DEFAULT, not_found="never"))
    # The first rule looked at the whole passage, which holds every word.
    assert not is_not_found(question, ranked, replace(DEFAULT, not_found="passage"))


def test_words_together_in_two_adjacent_sentences_are_found() -> None:
    candidates = one_passage_each("Smith spoke about the budget. He was in Paris.")
    question = query("Smith budget Paris")
    assert not is_not_found(question, rank(question, candidates, DEFAULT), DEFAULT)


def test_a_word_its_report_uses_once_is_weaker_evidence() -> None:
    passing = report("city", "Bus fares rise in June. A cat show opens on Friday.")
    topical = report(
        "pets", "Cats purr when calm, vets say. When a cat purrs, it is usually content."
    )
    candidates = candidates_of([*make_passages(passing), *make_passages(topical)])
    question = query("Why do cats purr?")
    by_report = {s.candidate.passage.report_id: s for s in rank(question, candidates, DEFAULT)}
    # "cat" alone, said once: scaled down; "cat" and "purr", said again and again: whole.
    assert by_report["city"].evidence == pytest.approx(0.5 * DEFAULT.single_mention_weight)
    assert by_report["pets"].evidence == pytest.approx(1.0)
    counted_fully = rank(question, candidates, replace(DEFAULT, single_mention_weight=1.0))
    assert {s.candidate.passage.report_id: s.evidence for s in counted_fully}["city"] == 0.5


def test_unknown_words_weigh_as_much_as_the_rarest_known_word() -> None:
    terms = ("bridge", "zeppelin")
    # idf holds the terms the index knows; "zeppelin" is not one of them.
    question = Query(text="", terms=terms, idf={"bridge": 3.0}, n_docs=100)
    rarest = math.log(99.5 / 1.5)  # the idf BM25Okapi gives a word in one passage of 100
    as_rare = Query(text="", terms=("rare",), idf={"rare": rarest}, n_docs=100)
    assert question.weight("zeppelin") == pytest.approx(as_rare.weight("rare"))
    assert question.weight("zeppelin") > question.weight("bridge")
    assert question.known_terms == frozenset({"bridge"})


@pytest.mark.parametrize("idf", [0.0, -0.27, -3.0])
def test_a_word_in_half_the_passages_or_more_still_counts(idf: float) -> None:
    # BM25Okapi's idf is 0 or below there: in one short report, every word.
    question = Query(text="", terms=("port",), idf={"port": idf}, n_docs=1)
    assert question.weight("port") > 0.0
    assert question.known_terms == frozenset({"port"})


def test_rare_words_weigh_their_idf() -> None:
    # Where answers are decided (rare words in a big collection) the weight is the idf.
    for idf in (3.0, 5.0, 8.0):
        question = Query(text="", terms=("x",), idf={"x": idf}, n_docs=10_000)
        assert question.weight("x") == pytest.approx(idf, rel=0.01)
    common = Query(text="", terms=("a", "b"), idf={"a": 0.5, "b": 4.0}, n_docs=10_000)
    assert common.weight("a") < common.weight("b")


# ---- best sentence and profiles -------------------------------------------------------


def test_best_sentence_is_the_one_that_scored_best() -> None:
    text = "The council met on Tuesday. Bus fares will rise by ten percent in June. The end."
    candidates = one_passage_each(text)
    question = query("How much will bus fares rise?")
    top = rank(question, candidates, DEFAULT)[0]
    assert best_sentence(question, top, ANALYZER) == "Bus fares will rise by ten percent in June."


def test_best_sentence_of_a_passage_scored_as_one_block_holds_most_of_the_question() -> None:
    text = "The council met on Tuesday. Bus fares will rise by ten percent in June. The end."
    (candidate,) = one_passage_each(text)
    question = query("How much will bus fares rise?")
    block = Scored(replace(candidate, profile=None), 1.0)  # best_sentence -1: one block
    assert best_sentence(question, block, ANALYZER) == "Bus fares will rise by ten percent in June."


def test_profiles_line_up_sentences_tokens_and_report_order() -> None:
    rng = random.Random(3)
    words = ["rebels", "army", "border", "refugees", "camp", "Aleppo", "40,000", "Monday"]
    paragraph = " ".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(5, 25))).capitalize() + "."
        for _ in range(40)
    )
    passages = make_passages(report("r", paragraph))
    assert len(passages) > 3  # overlapping windows
    tokens = [tuple(ANALYZER.tokens(p.text)) for p in passages]
    sentences = split_sentences(paragraph)
    report_counts = Counter(ANALYZER.tokens(paragraph))
    for passage, passage_tokens, profile in zip(
        passages, tokens, profile_passages(passages, tokens, ANALYZER), strict=True
    ):
        assert len(profile.sentence_ends) == len(passage.sentences) == len(profile.cues)
        assert profile.sentence_ends[-1] == len(passage_tokens)
        assert sentences[profile.first_sentence] == passage.sentences[0]
        # Counted over the report once, not over the overlapping windows.
        for position, token in enumerate(passage_tokens):
            assert bool(profile.recurring >> position & 1) == (report_counts[token] > 1)


# ---- determinism ----------------------------------------------------------------------

_SCORES_SCRIPT = """
import json
from bot.config import PROJECT_SEEDS
from retrieval.search import SearchEngine
engine = SearchEngine.from_path(PROJECT_SEEDS)
questions = [
    "How many refugees have entered camps in Turkey?",
    "Which districts of Damascus were recaptured by Assad forces?",
    "What did Faiz Amr say about the border crossings?",
    "Aleppo rebels border Turkey refugees camps crossings",
    "rebel offensive Aleppo city government troops defect video",
]
print(json.dumps([[h.score for h in engine.search(q)] for q in questions]))
"""


def test_scores_do_not_depend_on_the_string_hash_seed() -> None:
    """Sums run in question order, not set order, so every run (and both backends,
    which the CLI compares byte for byte across processes) gives the same floats."""
    outputs = []
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", _SCORES_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert json.loads(outputs[0])[0], "the seed questions should be answered"


# ---- distinct windows -----------------------------------------------------------------


def windows_of(words_per_sentence: int) -> list[Passage]:
    """One long paragraph of seven numbered sentences, cut into overlapping windows."""
    paragraph = " ".join(
        f"Sentence {i} about the harbour {' '.join(['word'] * words_per_sentence)}."
        for i in range(7)
    )
    return make_passages(report("r", paragraph))


def numbers(passage: Passage) -> list[str]:
    return [sentence.split()[1] for sentence in passage.sentences]


def shown(passages: Sequence[Passage], shared: int = DEFAULT.shared_sentences) -> list[list[str]]:
    """The windows distinct_windows keeps when they rank in the given order."""
    ranked = [Scored(candidate, 1.0) for candidate in candidates_of(passages)]
    return [numbers(scored.candidate.passage) for scored in distinct_windows(ranked, shared)]


def test_a_window_sharing_one_sentence_with_a_shown_one_is_kept() -> None:
    windows = windows_of(30)
    assert [numbers(w) for w in windows] == [["0", "1", "2"], ["2", "3", "4"], ["4", "5", "6"]]
    assert shown(windows) == [["0", "1", "2"], ["2", "3", "4"], ["4", "5", "6"]]
    assert shown(windows, shared=0) == [["0", "1", "2"], ["4", "5", "6"]]


def test_a_window_sharing_two_sentences_with_a_shown_one_is_dropped() -> None:
    windows = windows_of(22)
    assert [numbers(w) for w in windows] == [
        ["0", "1", "2", "3"],
        ["2", "3", "4", "5"],
        ["4", "5", "6"],
    ]
    assert shown(windows) == [["0", "1", "2", "3"], ["4", "5", "6"]]


def test_a_window_inside_a_shown_one_is_dropped() -> None:
    whole = make_passages(report("r", "The harbour opened. It was busy."))[0]
    part = make_passages(report("r", "The harbour opened."))[0]
    assert shown([whole, part]) == [numbers(whole)]
