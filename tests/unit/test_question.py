"""What a question asks for, read off its wording: hand-made questions with their expected reading."""

from __future__ import annotations

import pytest

from rag.answer.question import Expect, Granularity, analyse

CASES = [
    ("Who invited Hakim to Tehran?", Expect.AGENT, Granularity.ANY),
    ("From whom did Hakim bring back the message?", Expect.AGENT, Granularity.ANY),
    ("Which senior Iranian official did Hakim meet?", Expect.PERSON, Granularity.ANY),
    ("Who is the mayor of Baghdad?", Expect.PERSON, Granularity.ANY),
    ("Who directed the game at Nintendo?", Expect.PERSON, Granularity.ANY),  # a deed only a person does
    ("Who founded the company?", Expect.PERSON, Granularity.ANY),
    ("What is the name of the national security advisor?", Expect.PERSON, Granularity.ANY),
    # "the name of" asks for the kind of name its noun says
    ("What is the name of the company that bought the studio?", Expect.ORGANISATION, Granularity.ANY),
    ("What is the name of the cryptocurrency exchange he founded?", Expect.ENTITY, Granularity.ANY),
    ("What is the name of the city where they met?", Expect.PLACE, Granularity.ANY),
    ("What is the name of the company whose CEO resigned?", Expect.ORGANISATION, Granularity.ANY),  # first noun
    ("Who is Alireza Moezzi?", Expect.ANY, Granularity.ANY),  # a description, not a name
    ("Where did the minister go on the second day?", Expect.PLACE, Granularity.ANY),
    ("Which Gulf country's ruler visited Egypt?", Expect.PLACE, Granularity.ANY),
    ("Which agency's envoy arrived first?", Expect.ORGANISATION, Granularity.ANY),
    ("When were the elections scheduled?", Expect.DATE, Granularity.ANY),
    ("On which day of the week did he arrive?", Expect.DATE, Granularity.WEEKDAY),
    ("In which month did the officials speak?", Expect.DATE, Granularity.MONTH),
    ("In what year did the visit take place?", Expect.DATE, Granularity.YEAR),
    ("On what date was the visit planned?", Expect.DATE, Granularity.DAY),
    ("How many ministers went along?", Expect.NUMBER, Granularity.ANY),
    ("How long was the official visit?", Expect.DURATION, Granularity.ANY),
    ("How many days did the sultan stay?", Expect.DURATION, Granularity.ANY),
    ("Why was the visit postponed?", Expect.REASON, Granularity.ANY),
    ("What led to the postponement of the visit?", Expect.REASON, Granularity.ANY),
    ("According to officials, what prompted the minister to resign?", Expect.REASON, Granularity.ANY),
    # "what makes X well placed" asks for a quality, which a cause word need not introduce; not an entity either
    ("What makes Oman well placed to mediate?", Expect.ANY, Granularity.ANY),
    # a topic, a role, an aim: not a name either, though "what" comes before a noun
    ("What subjects did the two men go over?", Expect.ANY, Granularity.ANY),
    ("What role could Iraq play between the two?", Expect.ANY, Granularity.ANY),
    ("Which principle do the country's relations rest on?", Expect.ANY, Granularity.ANY),
    ("Which platform did the company launch?", Expect.ENTITY, Granularity.ANY),  # a thing's name
    ("What was the final score of the game?", Expect.SCORE, Granularity.ANY),
    ("By what score did Georgia beat Ole Miss?", Expect.SCORE, Granularity.ANY),
    ("How old is the prime minister?", Expect.NUMBER, Granularity.ANY),
    ("What fine did the European Commission impose on X?", Expect.MONEY, Granularity.ANY),
    ("How much per season will the Wild pay their new coach?", Expect.MONEY, Granularity.ANY),
    ("At what age did he retire?", Expect.NUMBER, Granularity.ANY),
    ("What total penalty did the judge order him to pay?", Expect.MONEY, Granularity.ANY),
    ("Against which country did he make his debut?", Expect.PLACE, Granularity.ANY),
    ("Did Raisi praise Iraq?", Expect.YES_NO, Granularity.ANY),
    # a yes/no question after a leading clause
    ("Between the first report and the later one, was there a change in tone?", Expect.YES_NO, Granularity.ANY),
    ("After Hakim met Raisi, did the two sides sign anything?", Expect.YES_NO, Granularity.ANY),
    ("What did Tehran's president denounce?", Expect.ANY, Granularity.ANY),  # not a person question
    ("What illness sent King Salman to hospital?", Expect.ENTITY, Granularity.ANY),  # soft: a thing, not a person
]


@pytest.mark.parametrize(("question", "expect", "granularity"), CASES)
def test_expected_answer_type(question: str, expect: Expect, granularity: Granularity) -> None:
    asked = analyse(question)
    assert (asked.expect, asked.granularity) == (expect, granularity)


@pytest.mark.parametrize(
    ("question", "wants_list"),
    [
        ("Which countries did Hakim visit?", True),
        ("Name the ministers who went to Tehran", True),
        ("Which Iranian visitors did Hakim receive?", True),
        ("In which month did officials talk?", False),
        ("Which country mediated?", False),
    ],
)
def test_list_questions(question: str, wants_list: bool) -> None:
    assert analyse(question).wants_list is wants_list


def test_a_name_is_asked_for_not_a_role() -> None:
    assert analyse("What is the name of the advisor who went?").wants_name
    assert not analyse("Who is named as Sisi's counterpart?").wants_name


@pytest.mark.parametrize(
    ("question", "composed"),
    [
        ("Did Raisi praise Iraq?", True),
        ("Was it in the morning or the evening that Bagheri set off for Erbil?", True),
        ("Which came first: Raisi's phone call or Bagheri Kani's visit?", True),
        ("Whose visit lasted longer: Hakim's trip to Iran or Bagheri Kani's trip to Iraq?", True),
        ("Who invited Hakim to Tehran?", False),
        ("How long was Hakim's visit to Iran?", False),
        ("Whom did the minister meet on his first day in Baghdad?", False),  # "first", but no either-or
        ("After Hakim met Raisi, who spoke first?", False),  # a leading clause, then no auxiliary
    ],
)
def test_questions_that_no_quote_answers_need_composing(question: str, composed: bool) -> None:
    assert analyse(question).needs_composition is composed
