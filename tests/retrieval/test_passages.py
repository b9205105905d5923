"""Passage windows, the speakers they carry, and widened quotes."""

from __future__ import annotations

import itertools
import random
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.models import MAX_QUOTE_CHARS, Passage, Report
from retrieval.passages import MAX_PASSAGE_CHARS, make_passages, widen
from retrieval.sentences import sentence_spans as sentence_spans_of
from retrieval.sentences import split_sentences
from retrieval.speakers import find_speaker
from tests.conftest import make_report

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_cd10308accc684f1.txt"
WHEN = datetime(2012, 7, 23, tzinfo=UTC)


def seed_report() -> Report:
    """The seed's paragraphs and caption, cut by hand so this file needs no loader."""
    lines = SEED.read_text(encoding="utf-8").split("\n\n")
    title, caption_line = lines[0].split("\n")
    return Report(
        id="seed",
        title=title,
        paragraphs=tuple(lines[1:]),
        published=WHEN,
        caption=caption_line.removesuffix(" Reuters"),
        caption_credit="Reuters",
    )


def report_of(*paragraphs: str, caption: str | None = None) -> Report:
    return make_report("T", paragraphs=paragraphs, report_id="r", published=WHEN, caption=caption)


# --- windows ---------------------------------------------------------------------------


def long_paragraph(rng: random.Random, sentence_count: int) -> str:
    words = ["rebels", "army", "border", "refugees", "camp", "city", "town", "school"]
    sentences = []
    for _ in range(sentence_count):
        length = rng.choice([3, 8, 15, 30, 60])
        body = " ".join(rng.choice(words) for _ in range(length))
        sentences.append(body.capitalize() + rng.choice([".", "!", "?"]))
    return " ".join(sentences)


def sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    spans = []
    position = 0
    for sentence in split_sentences(paragraph):
        position = paragraph.index(sentence, position)
        spans.append((position, position + len(sentence)))
        position += len(sentence)
    return spans


def check_windows(paragraph: str) -> None:
    spans = sentence_spans(paragraph)
    index_of_start = {start: index for index, (start, _) in enumerate(spans)}
    passages = make_passages(report_of(paragraph))
    assert passages, "a non-empty paragraph gives at least one passage"
    assert [p.position for p in passages] == list(range(len(passages)))
    covered = [char.isspace() for char in paragraph]
    pairs: set[tuple[int, int]] = set()
    window_start = 0
    for passage in passages:
        assert 0 < len(passage.text) <= MAX_PASSAGE_CHARS
        window_start = paragraph.index(passage.text, window_start)  # windows go forward
        assert passage.text.startswith(passage.sentences[0])
        assert passage.text.endswith(passage.sentences[-1])
        indexes = []
        offset = 0
        for sentence in passage.sentences:  # one after another inside the window
            offset = passage.text.index(sentence, offset)
            absolute = window_start + offset
            if absolute in index_of_start and spans[index_of_start[absolute]][1] == absolute + len(
                sentence
            ):
                indexes.append(index_of_start[absolute])
            offset += len(sentence)
        pairs.update(itertools.pairwise(indexes))
        covered[window_start : window_start + len(passage.text)] = [True] * len(passage.text)
    assert all(covered), "every character of the paragraph is in some passage"
    # Every two adjacent sentences that fit in one passage share at least one window.
    for index in range(len(spans) - 1):
        if spans[index + 1][1] - spans[index][0] <= MAX_PASSAGE_CHARS:
            assert (index, index + 1) in pairs, index


def test_short_paragraph_is_one_passage() -> None:
    paragraph = "One sentence. Two sentences."
    (passage,) = make_passages(report_of(paragraph))
    assert passage.text == paragraph
    assert passage.sentences == ("One sentence.", "Two sentences.")
    assert passage.position == 0
    assert not passage.is_caption


def test_long_paragraph_windows_overlap_and_fit() -> None:
    paragraph = long_paragraph(random.Random(7), 60)
    assert len(paragraph) > 4 * MAX_PASSAGE_CHARS
    check_windows(paragraph)
    assert len(make_passages(report_of(paragraph))) > 4


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(1, 40))
def test_windows_property(seed: int, count: int) -> None:
    check_windows(long_paragraph(random.Random(seed), count))


def test_a_sentence_over_the_limit_is_cut_at_word_boundaries() -> None:
    giant = " ".join(f"word{i}" for i in range(400)) + "."
    paragraph = f"Short start. {giant} Short end."
    passages = make_passages(report_of(paragraph))
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    pieces = [p.text for p in passages if "word" in p.text]
    words = " ".join(pieces).split()
    assert all(word.startswith("word") or word in ("Short", "start.", "end.") for word in words)
    assert "word0" in words and "word399." in words
    for piece in pieces:
        assert piece in paragraph


def test_caption_is_position_zero_and_paragraphs_follow() -> None:
    report = seed_report()
    passages = make_passages(report)
    assert passages[0].is_caption
    assert passages[0].text == report.caption
    assert [p.text for p in passages[1:]] == list(report.paragraphs)
    assert [p.position for p in passages] == list(range(len(passages)))
    assert all(p.report_id == "seed" for p in passages)
    assert passages[3].id == "seed#3"


# --- speakers --------------------------------------------------------------------------


def test_seed_speakers() -> None:
    passages = make_passages(seed_report())
    speakers = [p.speaker for p in passages if p.speaker]
    assert len(speakers) == 2
    faiz = next(p for p in passages if "Faiz Amr" in p.text)
    assert faiz.speaker is not None and "Faiz Amr" in faiz.speaker
    bashir = next(p for p in passages if "Bashir al-Kheir" in p.text)
    assert bashir.speaker == "Bashir al-Kheir"
    aqidi = next(p for p in passages if "Aqidi" in p.text)
    assert aqidi.speaker is None  # named, but not quoted


# --- widen -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(2, 40))
def test_widened_windows_are_exact_spans_within_the_quote_limit(seed: int, count: int) -> None:
    report = report_of(long_paragraph(random.Random(seed), count))
    paragraph = report.paragraphs[0]
    for passage in make_passages(report):
        wide = widen(passage, report)
        assert passage.text in wide.text and wide.text in paragraph
        assert len(wide.text) <= MAX_QUOTE_CHARS
        assert wide.text.startswith(wide.sentences[0]) and wide.text.endswith(wide.sentences[-1])
        assert all(sentence in wide.text for sentence in wide.sentences)
        assert (wide.report_id, wide.position) == (passage.report_id, passage.position)


def test_widen_adds_the_following_sentence_first() -> None:
    before = "Officials met on Monday to discuss the port. " * 3
    window = "The harbour reopened after the storm, officials said. " * 10
    after = "About 40 ships were waiting to dock."
    report = report_of(before + window + after)
    passage = next(p for p in make_passages(report) if p.text.startswith("The harbour"))
    wide = widen(passage, report, limit=len(passage.text) + len(after) + 1)
    assert wide.text.endswith(after)
    assert wide.text.startswith("The harbour")


def test_widen_leaves_a_whole_paragraph_and_a_caption_alone() -> None:
    report = seed_report()
    for passage in make_passages(report):
        assert widen(passage, report) == passage


# --- quotes worked out at index time -----------------------------------------------------


def widen_as_before(passage: Passage, report: Report) -> Passage:
    """`widen` as it was before quotes were packed at index time (59c2f08): the report
    searched for the passage's text, its paragraph split into sentences, for every hit.
    Kept verbatim as the reference the packed quotes must give, byte for byte."""
    if passage.is_caption:
        return passage
    for paragraph in report.paragraphs:
        start = paragraph.find(passage.text)
        if start >= 0:
            break
    else:
        return passage
    end = start + len(passage.text)
    spans = sentence_spans_of(paragraph)
    for first, last in spans:
        if first >= end:
            if last - start > MAX_QUOTE_CHARS:
                break
            end = last
    for first, last in reversed(spans):
        if last <= start:
            if end - first > MAX_QUOTE_CHARS:
                break
            start = first
    text = paragraph[start:end]
    if text == passage.text:
        return passage
    sentences = tuple(paragraph[a:b] for a, b in spans if a >= start and b <= end)
    return replace(
        passage, text=text, sentences=sentences, speaker=passage.speaker or find_speaker(text)
    )


def shown(passage: Passage) -> tuple[object, ...]:
    """Every field of a passage but the packed quote (which the old widen did not know)."""
    return tuple(getattr(passage, f.name) for f in fields(passage) if f.name != "quote")


def check_quotes(report: Report) -> int:
    """Every passage's quote, from its packed offsets and by searching, is the old one;
    the number of passages whose quote is more than the window."""
    widened = 0
    for passage in make_passages(report):
        assert passage.quote is not None, "make_passages packs every passage's quote"
        expected = widen_as_before(passage, report)
        with mock.patch("retrieval.passages._widen_by_search", side_effect=AssertionError):
            packed = widen(passage, report)  # from the packed offsets alone, no search
        assert shown(packed) == shown(expected), passage.id
        searched = widen(replace(passage, quote=None), report)
        assert shown(searched) == shown(expected), passage.id
        widened += expected is not passage
    return widened


def one_long_paragraph(report: Report) -> Report:
    """The report as one paragraph, as NewsQA's are: windows that widen, with quotes."""
    return replace(report, paragraphs=(" ".join(report.paragraphs),))


def test_seed_quotes_are_the_old_widen() -> None:
    report = seed_report()
    assert check_quotes(report) == 0  # short paragraphs: every window is its paragraph
    long = one_long_paragraph(report)
    assert check_quotes(long) > 3
    speakers = {widen(p, long).speaker for p in make_passages(long)}
    assert {"Bashir al-Kheir", "staff brigadier Faiz Amr"} <= speakers


def test_a_quote_takes_its_speaker_from_the_sentences_it_adds() -> None:
    filler = [f"Ferry {i} waited outside the harbour for the storm to pass." for i in range(16)]
    sentences = [*filler[:11], '"We are open again," Ada Brook said.', *filler[11:]]
    report = report_of(" ".join(sentences))
    assert check_quotes(report) > 0
    # A window before the quotation names no one; its quote adds that sentence.
    quoted = [(p.speaker, widen(p, report).speaker) for p in make_passages(report)]
    assert (None, "Ada Brook") in quoted


def test_a_window_found_earlier_in_the_report_is_quoted_from_there() -> None:
    # widen quotes a window's text where it first occurs: here, inside paragraph one.
    repeated = "Rebels took the school. " * 30
    report = report_of("Dawn came. " + repeated + "Guns fell silent.", repeated.strip())
    assert check_quotes(report) > 0
    twice = "The army shelled the city again. " * 40
    assert check_quotes(report_of(twice.strip(), twice.strip())) > 0
    # A text holding the NUL that joins paragraphs for the search is looked for one by one.
    check_quotes(report_of("Dawn came. The rebels", "took it.", "The rebels\x00took it."))


def test_quotes_of_text_with_lone_surrogates() -> None:
    # JSON escapes such as "\ud83d" leave lone surrogates in a report's text.
    filler = [f"Ferry {i} \ud83d waited outside the harbour \udc00 for hours." for i in range(16)]
    quoted = '"We are open again \ud83d," Ada Brook said.'
    assert check_quotes(report_of(" ".join([*filler[:11], quoted, *filler[11:]]))) > 0


def test_quotes_of_captions_pages_and_sentences_over_the_limit() -> None:
    giant = " ".join(f"word{i}" for i in range(400)) + "."
    url = "https://example.org/" + "x" * 900 + " is the link."
    paragraphs = (f"Short start. {giant} Short end.", url, "A short one.", giant)
    report = replace(report_of(*paragraphs, caption=f"A caption. {giant}"), pages=(1, 2, 2, 5))
    check_quotes(report)
    assert {p.page for p in make_passages(report)} == {None, 1, 2, 5}


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    counts=st.lists(st.integers(1, 25), min_size=1, max_size=5),
    repeat=st.booleans(),
)
def test_quotes_property(seed: int, counts: list[int], repeat: bool) -> None:
    rng = random.Random(seed)
    paragraphs = [long_paragraph(rng, count) for count in counts]
    if repeat:  # a later paragraph made of an earlier one's sentences, or the same twice
        earlier = paragraphs[rng.randrange(len(paragraphs))]
        sentences = split_sentences(earlier)
        cut = rng.randrange(len(sentences))
        paragraphs.append(" ".join(sentences[cut:] + sentences[:cut]))
        paragraphs.append(earlier)
    quoted = [f'"{p[:-1]}," said Ann Varga.' if rng.random() < 0.3 else p for p in paragraphs]
    check_quotes(report_of(*quoted, caption=quoted[0] if repeat else None))


def test_a_quote_packed_for_another_version_of_the_report_is_searched_for() -> None:
    report = one_long_paragraph(seed_report())
    passage = next(p for p in make_passages(report) if p.quote)
    changed = replace(report, paragraphs=("New first paragraph.", *report.paragraphs))
    assert shown(widen(passage, changed)) == shown(widen_as_before(passage, changed))
    gone = replace(report, paragraphs=("Nothing of the old text.",))
    assert widen(passage, gone) == passage
