"""The speaker of a quotation: named only next to a recognisable attribution."""

from __future__ import annotations

import pytest

from retrieval.speakers import asked_speaker, find_speaker, lets_speak


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ('"We made a decision," Yates said.', "Yates"),
        ('"We made a decision," director David Yates says.', "David Yates"),
        (
            "“We will win,” said Col. Abdul-Jabbar Mohammed Aqidi.",
            "Col. Abdul-Jabbar Mohammed Aqidi",
        ),
        ('"It is over," Sen. John McCain, R-Arizona, told reporters.', "Sen. John McCain"),
        ('Asked about it, Gibbs said: "I think so."', "Gibbs"),
        ('"We are safe," Secretary of State Hillary Clinton said.', "Hillary Clinton"),
        ('The report was "a disgrace," according to Jane Doe.', "Jane Doe"),
        # The person, never the place or the organisation they come from.
        ('"The surf is big," Emily Chibaro of Nantucket told CNN Radio.', "Emily Chibaro"),
        ('"No," Smith, of Boston, said.', "Smith"),
        ('"Help came," Maria Lopez from the Red Cross said.', "Maria Lopez"),
        ('"We are here," he said.', None),
        ('"We are here," the ministry said in a statement.', None),
        ('"We are here," Reuters said.', None),
        # A country is no person, a person who shares its name is.
        ('"We will respond firmly," China said on Monday.', None),
        ('"We will respond," South Korea said.', None),
        ('"Yes," Syria told reporters.', None),
        ('"I am here," Michael Jordan said.', "Michael Jordan"),
        ("Yates said the film was long.", None),  # no quotation
        ('"The books." Indeed, many fans know them and said so later that day.', None),
        ('"It was good." Clinton said the United States would help.', None),
        ('The plan was "bold," according to witnesses and residents.', None),
    ],
)
def test_find_speaker(text: str, speaker: str | None) -> None:
    assert find_speaker(text) == speaker


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("What did Emily Chibaro say?", "Emily Chibaro"),
        ("what did Assad say about the talks?", "Assad"),
        ("What has Sen. John McCain told reporters?", "Sen. John McCain"),
        ("What did he say?", None),
        ("What did the police say?", None),
        ("What happened in Aleppo?", None),
        ("Who said the border was closed?", None),
    ],
)
def test_asked_speaker(question: str, asked: str | None) -> None:
    assert asked_speaker(question) == asked


@pytest.mark.parametrize(
    ("text", "speaker", "speaks"),
    [
        ('"The surf is big," Emily Chibaro of Nantucket told CNN.', None, True),
        ("Troops moved in, said Chibaro, who saw them.", None, True),
        ("The storm was the worst in years, according to Chibaro.", None, True),
        ('"We hold the city," said Bashir al-Kheir.', "Bashir al-Kheir", False),
        ("Chibaro lives on the island with her two dogs.", None, False),
        ('"It is a lie," Mrs. Chibaro said.', "Mrs. Chibaro", True),
    ],
)
def test_lets_speak(text: str, speaker: str | None, speaks: bool) -> None:
    assert lets_speak("Emily Chibaro", text, speaker) is speaks
