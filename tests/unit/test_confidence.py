"""The vetoes of the abstention decision, on hand-made questions and sentences."""

from __future__ import annotations

import pytest

from rag.answer.confidence import _answer_words, _role_missing, counted_missing, elsewhere
from rag.answer.items import Item
from rag.answer.question import analyse
from rag.answer.scoring import Candidate
from rag.models import Span


@pytest.mark.parametrize(
    ("question", "sentence", "missing"),
    [
        ("Who is the mayor of Baghdad?", "Hakim met officials in Baghdad.", True),
        ("Who is the president of the Kurdistan Region that Bagheri went to see?", "Bagheri went to Erbil.", True),
        ("What is the name of the national security advisor who went along?", "Hakim began his visit.", True),
        ("Who is the president of Iran?", "President Raisi spoke with Kadhimi.", False),  # the sentence says it
        # A role the question mentions on the way is not the one it asks for.
        ("Who is the individual implicated after a judge's intervention?", "Bankman-Fried used a front.", False),
        ("Who invited Hakim to meet the president?", "Ghalibaf formally invited him.", False),
        # Relations and more offices: "Mintz's brother" is no answer without a sentence saying "brother".
        ("What is the name of Jake Mintz's brother?", "Fox Sports' Jake Mintz reported it.", True),
        ("What was the name of the teacher who offered a prize?", "James Cook sailed the Endeavour.", True),
        ("What is the name of Jake Mintz's brother?", "Mintz runs it with his brother Jordan.", False),
    ],
)
def test_an_asked_office_must_be_named_by_the_answering_sentence(question: str, sentence: str, missing: bool) -> None:
    assert _role_missing(analyse(question), question, sentence) is missing


@pytest.mark.parametrize(
    ("question", "sentence", "missing"),
    [
        ("How many fans attended the Chiefs' win over the Jets?", "Chiefs 17 3 0 3 23 Jets 0 12 8 0 20", True),
        ("How many years did Palmer spend at City?", "United led for the first 45 minutes.", True),
        ("How many fans attended the game?", "A crowd of 73,000 fans watched.", False),
        ("How many days did Hakim spend in Iran?", "Hakim began his three-day visit to Iran.", False),  # one stem
        ("How many Iranian officials met Hakim?", "Three Iranian ministers met him.", False),  # one of the words
        ("In how many of the cases did he act?", "He acted in two.", False),  # "of": nothing named
        ("Who won the game?", "The Chiefs won 23-20.", False),
    ],
)
def test_a_count_must_be_of_the_things_the_question_counts(question: str, sentence: str, missing: bool) -> None:
    assert counted_missing(question, sentence) is missing


@pytest.mark.parametrize(
    ("question", "sentence", "answers", "vetoed"),
    [
        ("How many days did Hakim spend in Saudi Arabia?", "Hakim began his three-day visit to Iran.", [], True),
        ("What was the score of France's win over Italy?", "The final between England and South Africa.", [], True),
        ("How many days did Hakim spend in Iran?", "Hakim began his three-day visit to Tehran.", [], False),  # capital
        ("Who is the mayor of Baghdad?", "The Iraqi mayor spoke.", [], False),  # a demonym of the same country
        ("Which country did Hakim visit after Iraq?", "He then flew to Egypt.", ["Egypt"], False),  # the answer
        ("Which team, defeated by Argentina in Sydney, won?", "They lost to France.", [], False),  # on the way
        ("Did Hakim travel to Iran?", "Hakim went to Egypt.", [], False),  # a yes/no question
        ("Who leads in Georgia?", "The Iranian side leads.", [], False),  # a US state as often as a country
        ("Who won in Iran?", "The All-American tight end won.", [], False),  # a compound names no country
    ],
)
def test_a_question_placed_in_one_country_is_not_answered_about_another(
    question: str, sentence: str, answers: list[str], vetoed: bool
) -> None:
    assert elsewhere(analyse(question), question, sentence, answers) is vetoed


def _best(text: str, label: str) -> Candidate:
    answer = Item(Span(0, len(text)), text, label)
    return Candidate(None, Span(0, 0), None, {}, 0.0, (answer,), lambda: answer)  # type: ignore[arg-type]


ZARIF = ("Who is Saudi Arabia's foreign minister?", "Kadhimi received Iranian Foreign Minister Mohammad Javad Zarif.")


@pytest.mark.parametrize(
    ("question", "sentence", "answer", "label", "vetoed"),
    [
        (*ZARIF, "Mohammad Javad Zarif", "PERSON", True),  # "Iranian" is the country the sentence speaks of
        (*ZARIF, "Iranian Foreign Minister", "ROLE", True),  # a role's country is no answer's own word
        ("Which country did Hakim visit after Iraq?", "He then flew to Egypt.", "Egypt", "GPE", False),  # the answer
    ],
)
def test_only_the_answer_itself_is_left_out_of_the_countries_a_sentence_names(
    question: str, sentence: str, answer: str, label: str, vetoed: bool
) -> None:
    assert elsewhere(analyse(question), question, sentence, _answer_words(_best(answer, label))) is vetoed
