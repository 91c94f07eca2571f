"""The vetoes of the abstention decision, on hand-made questions and sentences."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rag.answer import Evidence
from rag.answer.confidence import _answer_words, _role_missing, counted_missing, elsewhere, someone_else, source_missing
from rag.answer.items import Item
from rag.answer.question import analyse
from rag.answer.scoring import Candidate
from rag.models import Hit, Mention, Passage, Span


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


COACH = "How much per season will the Wild pay new head coach John Hynes?"
HIRED = "The Wild hired John Hynes as head coach."


def _someone_else(question: str, sentence: str, people: list[str], companies: tuple[str, ...] = ()) -> bool:
    """The veto over a passage of two sentences: the hiring one, then the answering one."""
    text = f"{HIRED} {sentence}"
    labels = {name: "PERSON" for name in ["John Hynes", *people]} | dict.fromkeys(companies, "ORG")
    mentions = sorted(
        (
            Mention(m.start(), m.end(), label)
            for name, label in labels.items()
            for m in re.finditer(re.escape(name), text)
        ),
        key=lambda m: m.start,
    )
    answering = Span(len(HIRED) + 1, len(text))
    passage = Passage("d#0", "d", 0, len(text), text, (Span(0, len(HIRED)), answering), tuple(mentions))
    hit = Hit(passage, 1.0, "d")
    evidence = Evidence(question, np.zeros(1), (hit,), {})
    best = Candidate(hit, answering, None, {}, 0.0, (), lambda: None)  # type: ignore[arg-type]
    return someone_else(analyse(question), evidence, best)


@pytest.mark.parametrize(
    ("question", "sentence", "people", "companies", "vetoed"),
    [
        (COACH, "Evason's contract runs at just under $2M per season.", [], ("Evason",), True),  # shaped so
        (COACH, "Dean Evason earned just under $2M per season.", ["Dean Evason"], (), True),
        (COACH, "Hynes will earn $3M per season.", [], (), False),  # the question's man
        (COACH, "He will earn $3M per season, more than Dean Evason.", ["Dean Evason"], (), False),  # a pronoun
        (COACH, "The contract is worth $3M per season.", [], (), False),  # nobody else named
        ("Who will the Wild pay $3M?", "Dean Evason earned $3M per season.", ["Dean Evason"], (), False),  # a who
    ],
)
def test_a_persons_value_is_not_read_from_a_sentence_about_other_people(
    question: str, sentence: str, people: list[str], companies: tuple[str, ...], vetoed: bool
) -> None:
    assert _someone_else(question, sentence, people, companies) is vetoed


@pytest.mark.parametrize(
    ("passage_text", "missing"),
    [
        ("Data from Apptopia, reported by Bloomberg, noted 18 minutes per day in the app.", False),  # relayed
        ("Consumers were spending 18 minutes per day in the app, the firm said.", True),
        ("Bloombergs of data noted 18 minutes per day.", True),  # a whole word only
    ],
)
def test_a_cited_source_no_document_comes_from_counts_unless_the_passage_relays_it(
    passage_text: str, missing: bool
) -> None:
    passage = Passage("d#0", "d", 0, len(passage_text), passage_text, (Span(0, len(passage_text)),))
    hit = Hit(passage, 1.0, "d")
    best = Candidate(hit, Span(0, len(passage_text)), None, {}, 0.0, (), lambda: None)  # type: ignore[arg-type]
    question = "According to a Bloomberg report, how long per day were consumers spending in the app?"
    evidence = Evidence(question, np.zeros(1), (hit,), {}, unknown_publishers=("Bloomberg",))
    assert source_missing(evidence, best) is missing
    assert source_missing(evidence, None) is True  # nothing retrieved relays anything
