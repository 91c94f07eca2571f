"""Answer-type checks that keep the extractive backend from quoting the wrong kind of sentence."""

from __future__ import annotations

import pytest

from rag.answer.abstain import missing_answer_type


@pytest.mark.parametrize(
    ("question", "sentence", "missing"),
    [
        ("How many soldiers are in Iraq?", "The coalition mission will end soon.", True),
        ("How many soldiers are in Iraq?", "About 2,500 soldiers remain.", False),
        ("How much trade do they want?", "They want to raise trade to about $20 billion.", False),
        ("How much did it cost?", "Three hundred people attended.", False),
        ("When was Hakim born?", "Hakim met the ambassador in Baghdad.", True),
        ("When were the elections scheduled?", "The elections are on November 11.", False),
        ("What year did the talks start?", "The talks started last year.", False),
        ("Who invited Hakim?", "Ghalibaf formally invited him.", False),
    ],
)
def test_missing_answer_type(question: str, sentence: str, missing: bool) -> None:
    assert (missing_answer_type(question, sentence) is not None) is missing
