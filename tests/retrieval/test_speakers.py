"""The speaker of a quotation: named only next to a recognisable attribution."""

from __future__ import annotations

import pytest

from retrieval.speakers import find_speaker


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
        ('"We are here," he said.', None),
        ('"We are here," the ministry said in a statement.', None),
        ('"We are here," Reuters said.', None),
        ("Yates said the film was long.", None),  # no quotation
        ('"The books." Indeed, many fans know them and said so later that day.', None),
        ('"It was good." Clinton said the United States would help.', None),
        ('The plan was "bold," according to witnesses and residents.', None),
    ],
)
def test_find_speaker(text: str, speaker: str | None) -> None:
    assert find_speaker(text) == speaker
