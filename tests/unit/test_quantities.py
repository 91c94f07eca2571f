"""Durations and counts a yes/no question states, settled (or not) by the sentences quoted under the verdict."""

from __future__ import annotations

import pytest

from rag.answer.quantities import Quantity, quantities, verdict_by_quantities

VISIT = "Hakim, head of Iraq’s National Wisdom Movement, began his three-day visit to Iran earlier this week."
ATTACK = "The attack killed 12 people and wounded 30 others."


def test_durations_are_read_in_days_and_counts_by_their_noun() -> None:
    text = "A two-week tour, a 3 day summit and 1,200 troops, two years ago, in 2023 elections, this week."
    assert [s.quantity for s in quantities(text)] == [
        Quantity("duration", 14.0),
        Quantity("duration", 3.0),
        Quantity("troop", 1200.0),
    ]
    first = quantities(text)[0]
    assert text[first.start : first.end] == "two-week"
    assert quantities("The Big Ten is reviewing the case, like the Fantastic Four films.") == []  # names


@pytest.mark.parametrize(
    ("question", "quoted", "settled"),
    [
        ("Did Hakim's visit to Iran last a week?", VISIT, "No"),
        ("Did Hakim's visit to Iran last three days?", VISIT, "Yes"),
        ("Did Hakim's visit last more than two days?", VISIT, "Yes"),
        ("Did Hakim's visit last less than two days?", VISIT, "No"),
        ("Did Hakim's visit last at least 3 days?", VISIT, "Yes"),
        ("Were more than 10 people killed?", ATTACK, "Yes"),
        ("Were ten people killed?", ATTACK, "No"),
        ("Were fewer than 20 people killed?", ATTACK, "Yes"),
        ("Did the project last a year?", "The project lasted 12 months.", "Yes"),  # 360 days is a year, roughly
        ("Did the project last more than a year?", "The project lasted 12 months.", "No"),
    ],
)
def test_a_stated_quantity_is_settled_by_the_quoted_values(question: str, quoted: str, settled: str) -> None:
    assert verdict_by_quantities(question, [quoted]) == settled


@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        ("Did the visit last about a week?", [VISIT]),  # approximate: not for the code to judge
        ("Did the visit last a week?", ["He met senior officials in Tehran."]),  # no duration quoted
        ("Did the visit last a week or two days?", [VISIT]),  # two stated quantities
        ("Did the visit last a week?", [VISIT, "The earlier trip was a seven-day tour."]),  # quotes disagree
        ("Were 10 people killed?", ["Several people were killed and 10 buildings burned."]),  # vague, other noun
        ("Did several people die?", [ATTACK]),
        ("Did the 2023 elections take place?", ["The 2023 elections took place in November."]),  # a year is no count
        ("Were 5 million dollars pledged?", ["Donors pledged 5 dollars each."]),  # a scaled amount is not read
        ("Were 5 people killed?", ["The attack killed twenty-five people."]),  # compound number words
        ("Did the visit last an hour?", ["The visit lasted an hour and a half."]),
        ("Did the visit last a day?", ["The visit lasted half a day."]),
        ("Were more than 10 people killed?", ["At least 10 people were killed."]),  # a bound is no value
        ("Were 1,200 people there?", ["About 1,200 people were there."]),
        ("Did it last 3 days or more?", ["It lasted four days."]),  # a range
        ("Did the visit last a week or two?", [VISIT]),
        ("Wasn't the visit longer than two days?", [VISIT]),  # a negation
        ("Did the talks over two days produce a deal?", ["The talks over two days produced a deal."]),
        ("Did the 12 people arrested appear in court?", ["The 12 people arrested appeared in court."]),
        ("Did Zarif's visit last a week?", [VISIT]),  # a sentence about someone else's visit
        ("Were 20 Covid-19 cases reported?", ["Officials reported 20 Covid-19 cases."]),  # numbers in names
        ("Did the airline buy 30 jets?", ["The airline bought 30 Boeing 737 jets."]),
    ],
)
def test_anything_but_the_clean_case_is_left_to_the_model(question: str, quoted: list[str]) -> None:
    assert verdict_by_quantities(question, quoted) is None


@pytest.mark.parametrize(
    "question",
    [
        "Did the report on the 10-year Treasury yield show a decrease?",  # a name, not a length
        "Does the list of 31 days of horror include Halloween?",
    ],
)
def test_a_duration_inside_a_name_claims_nothing(question: str) -> None:
    assert verdict_by_quantities(question, ["Over the past three years the yield fell for 31 days."]) is None


def test_a_long_run_of_digits_and_commas_is_read_at_once() -> None:
    assert quantities("1," * 20_000 + " people") == []  # a quadratic pattern would take minutes
