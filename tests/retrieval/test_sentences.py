"""Sentence splitting: abbreviations, initials, numbers and quotes; exact substrings."""

from __future__ import annotations

from pathlib import Path

from retrieval.sentences import split_sentences

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_cd10308accc684f1.txt"


def test_split_sentences_handles_abbreviations_initials_numbers_and_quotes() -> None:
    text = (
        "The commander, Col. Abdul-Jabbar Mohammed Aqidi, spoke at 10 a.m. Monday. "
        "Mr. Smith met Dr. Jones on Jan. 5 in St. Louis with Gen. Lee and Lt. Dan. "
        "J.K. Rowling wrote seven books for the U.S. market. "
        "It cost 1,000.5 dollars... Then prices rose. "
        '"We left," he said. "It was over." '
        '"Why?" she asked. Nobody knew! '
        "Troops left the U.S. The next day they arrived."
    )
    assert split_sentences(text) == [
        "The commander, Col. Abdul-Jabbar Mohammed Aqidi, spoke at 10 a.m. Monday.",
        "Mr. Smith met Dr. Jones on Jan. 5 in St. Louis with Gen. Lee and Lt. Dan.",
        "J.K. Rowling wrote seven books for the U.S. market.",
        "It cost 1,000.5 dollars...",
        "Then prices rose.",
        '"We left," he said.',
        '"It was over."',
        '"Why?" she asked.',
        "Nobody knew!",
        "Troops left the U.S.",
        "The next day they arrived.",
    ]


def test_split_sentences_returns_exact_substrings_in_order() -> None:
    text = SEED.read_text(encoding="utf-8")
    position = 0
    for sentence in split_sentences(text):
        found = text.index(sentence, position)
        assert sentence == sentence.strip()
        position = found + len(sentence)
    assert text[position:].strip() == ""


def test_split_sentences_of_empty_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n ") == []
    assert split_sentences("no terminator at all") == ["no terminator at all"]


def test_chinese_and_japanese_sentences_end_at_full_width_terminators() -> None:
    text = "土耳其有多少难民？据报道，已有两万人抵达。“我们需要帮助。”他说。"
    assert split_sentences(text) == [
        "土耳其有多少难民？",
        "据报道，已有两万人抵达。",
        "“我们需要帮助。”",
        "他说。",
    ]
    assert split_sentences("難民が到着しました。避難所は満員です！") == [
        "難民が到着しました。",
        "避難所は満員です！",
    ]


def test_scripts_without_capitals_still_split() -> None:
    arabic = "قال الوزير إن ألف لاجئ وصلوا. وأضاف أن المخيمات ممتلئة؟ نعم."
    assert split_sentences(arabic) == [
        "قال الوزير إن ألف لاجئ وصلوا.",
        "وأضاف أن المخيمات ممتلئة؟",
        "نعم.",
    ]
    assert split_sentences("सरकार ने कहा। राहत पहुँची।") == ["सरकार ने कहा।", "राहत पहुँची।"]
    # A lowercase word after a period still goes on, as in English.
    assert split_sentences("Он сказал т. е. нет.") == ["Он сказал т. е. нет."]
