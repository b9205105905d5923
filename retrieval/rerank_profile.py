"""What stage two knows of each passage beyond its tokens, worked out at index time:
`PassageProfile`, made report by report (`profile_report`, `profile_passages`).

A profile gives the token offsets where each sentence of the passage ends, the
sentence's place in its report (the lead bonus), the cue terms of each sentence (words
that could answer a kind of question, `retrieval.answer_types`), and which tokens its
report uses more than once; and all of that packed for the compiled match
(`retrieval.rerank_pack`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from retrieval.analyzer import Analyzer
from retrieval.answer_types import Cues, sentence_cues
from retrieval.models import Passage
from retrieval.rerank_pack import pack

# One empty set for every passage without strays (most of them), as answer_types does.
_NO_STRAYS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PassageProfile:
    """What stage two needs of a passage beyond its tokens, worked out at index time.

    `sentence_ends[j]` is the token offset where sentence j of the passage ends;
    it is empty when the tokens could not be lined up with the sentences, and
    the passage is then scored as one block.
    """

    sentence_ends: tuple[int, ...]
    # Ordinal of the passage's first sentence in its report (0 = the lead).
    first_sentence: int
    cues: tuple[Cues, ...]
    # Bit p is set when the passage's token p occurs more than once in its report.
    recurring: int = 0
    # All of the above, packed for the compiled match, and the cue terms the passage's
    # tokens lack (retrieval.rerank_pack); b"": not packed, matched in Python.
    packed: bytes = field(default=b"", repr=False)
    strays: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def of(
        cls,
        tokens: Sequence[str],
        sentence_ends: tuple[int, ...],
        first_sentence: int,
        cues: tuple[Cues, ...],
        recurring: int,
    ) -> PassageProfile:
        packed, strays = pack(tokens, sentence_ends, first_sentence, cues, recurring)
        return cls(sentence_ends, first_sentence, cues, recurring, packed, strays or _NO_STRAYS)


def profile_passages(
    passages: Sequence[Passage], tokens: Sequence[Sequence[str]], analyzer: Analyzer
) -> tuple[PassageProfile, ...]:
    """A profile for each passage; `passages` in report order, as make_passages gives them."""
    profiles: list[PassageProfile] = []
    pairs = list(zip(passages, tokens, strict=True))
    word_terms: dict[str, list[str]] = {}
    for _, group in itertools.groupby(pairs, key=lambda pair: pair[0].report_id):
        pairs_of_report = list(group)
        sentences = analyze_sentences((passage for passage, _ in pairs_of_report), analyzer)
        profiles.extend(profile_report(pairs_of_report, sentences, analyzer, word_terms))
    return tuple(profiles)


def analyze_sentences(passages: Iterable[Passage], analyzer: Analyzer) -> dict[str, list[str]]:
    """Each distinct sentence of one report's passages, in order of first appearance,
    and its tokens (windows overlap: a sentence is analyzed once)."""
    tokens: dict[str, list[str]] = {}
    for passage in passages:
        for sentence in passage.sentences:
            if sentence not in tokens:
                tokens[sentence] = analyzer.tokens(sentence)
    return tokens


def profile_report(
    pairs: Sequence[tuple[Passage, Sequence[str]]],
    sentence_tokens: Mapping[str, Sequence[str]],
    analyzer: Analyzer,
    word_terms: dict[str, list[str]],
) -> list[PassageProfile]:
    """Profiles of one report's passages, with `analyze_sentences` of them.

    The report's sentences are counted once each, in order of first appearance;
    `word_terms` is sentence_cues' memo, shared by the reports of one build.
    """
    cues_of: dict[str, Cues] = {}
    ordinals = {sentence: i for i, sentence in enumerate(sentence_tokens)}
    counts = Counter(itertools.chain.from_iterable(sentence_tokens.values()))
    # Each token's bit of `recurring`, as a digit; a token the sentences lack has 0.
    bit_of = {token: "1" if count > 1 else "0" for token, count in counts.items()}
    profiles = []
    for passage, passage_tokens in pairs:
        first = ordinals[passage.sentences[0]] if passage.sentences else 0
        recurring = _recurring(passage_tokens, bit_of)
        lengths = map(len, map(sentence_tokens.__getitem__, passage.sentences))
        ends = list(itertools.accumulate(lengths))
        if not ends or ends[-1] != len(passage_tokens):
            cues = sentence_cues(passage.text, analyzer, word_terms)
            profiles.append(PassageProfile.of(passage_tokens, (), first, (cues,), recurring))
            continue
        for sentence in passage.sentences:
            if sentence not in cues_of:
                cues_of[sentence] = sentence_cues(sentence, analyzer, word_terms)
        cues_each = tuple(cues_of[sentence] for sentence in passage.sentences)
        profiles.append(PassageProfile.of(passage_tokens, tuple(ends), first, cues_each, recurring))
    return profiles


def _recurring(tokens: Sequence[str], bit_of: Mapping[str, str]) -> int:
    """Bit p set when token p occurs more than once in the report."""
    # Read as a binary numeral, the last token's bit first: one int() instead of a
    # big integer added to once per token.
    bits = "".join(map(bit_of.get, reversed(tokens), itertools.repeat("0")))
    return int(bits, 2) if bits else 0
