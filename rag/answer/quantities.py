"""Durations and counts a yes/no question states, checked against the sentences quoted under the verdict.

"Did Hakim's visit to Iran last a week?" answered "Yes" over "began his three-day visit" is a verdict its
own quote contradicts. An embedding cannot see that, and a small model often misses it; the numbers can. The
question states one quantity ("a week", "more than 10 people"); the quoted sentences state quantities of the
same kind (a duration, or a count of the same noun). When every one of them settles the question the same
way, the verdict must agree: "No" here, since three days is not a week.

Only that clean case is decided: a question with two quantities, a sentence with none of the kind, or
sentences that disagree among themselves leave the model's verdict as it is.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.terms import stem, term

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
}  # fmt: skip
DAYS_IN = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365,
           "decade": 3650}  # fmt: skip
AMOUNT = r"(?P<amount>\d[\d,]*(?:\.\d+)?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
# "three-day", "3 days", "a week", "two and a half years" is read as two: close enough to tell from a week.
DURATION = re.compile(
    r"\b" + AMOUNT + r"[- ](?:and a half[- ])?(?P<unit>minute|hour|day|week|fortnight|month|year|decade)s?\b"
    r"(?![- ](?:ago|later|earlier|old)\b)",
    re.I,
)
# "10 people", "1,200 troops": a number and the plural noun it counts; a year ("2023 elections") counts nothing.
COUNT = re.compile(r"\b(?!(?:1[89]|20)\d\d\b)" + AMOUNT + r"\s+(?P<noun>people|children|men|women|[a-z]+s)\b", re.I)
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
SCALED = re.compile(r"\b(?P<amount>\d[\d,]*(?:\.\d+)?)\s+(?P<scale>thousand|million|billion)\b", re.I)
# The relation the question asks about, read just before its quantity.
RELATIONS: list[tuple[re.Pattern[str], Callable[[float, float], bool]]] = [
    (re.compile(r"\b(?:at least|no (?:less|fewer) than|a minimum of)\s*$", re.I), operator.ge),
    (re.compile(r"\b(?:at most|no more than|up to|a maximum of)\s*$", re.I), operator.le),
    (re.compile(r"\b(?:more than|over|longer than|above|exceed(?:ed|ing)?|beyond|upwards of)\s*$", re.I), operator.gt),
    (re.compile(r"\b(?:less than|fewer than|under|shorter than|below|within)\s*$", re.I), operator.lt),
]
APPROXIMATE = re.compile(r"\b(?:about|around|roughly|nearly|almost|some|approximately)\s*$", re.I)
# A duration the question claims, not one inside a name: "did the visit *last* a week", "stay *for* two days".
LASTING = re.compile(
    r"\b(?:last|lasted|lasting|for|spend|spent|take|took|stay|stayed|run|ran|span|spanned)\s+(?:only\s+|just\s+)?$",
    re.I,
)
# A comparison of two things ("longer than Kadhimi's") or a vague amount is not one stated quantity.
VAGUE = re.compile(r"\b(?:several|a few|a couple|many|dozens|hundreds|thousands|millions)\b", re.I)


@dataclass(frozen=True)
class Quantity:
    kind: str  # "duration", or the stem of the counted noun ("peopl", "troop")
    value: float  # days for a duration


@dataclass(frozen=True)
class Stated:
    """A quantity as a text states it: the value and where its words stand ("three-day": 16..25)."""

    quantity: Quantity
    start: int
    end: int


def quantities(text: str) -> list[Stated]:
    """The durations and counts a text states, in text order."""
    found: list[Stated] = []
    for match in DURATION.finditer(text):
        amount = _amount(match.group("amount"))
        if amount is not None:
            days = amount * DAYS_IN[match.group("unit").lower()]
            found.append(Stated(Quantity("duration", days), match.start(), match.end()))
    for match in COUNT.finditer(text):
        written, noun = match.group("amount"), match.group("noun").lower()
        word = written.lower()
        if (
            any(q.start <= match.start() < q.end for q in found)
            or word in ("a", "an")
            or noun.rstrip("s") in DAYS_IN  # "two years ago" is a time, not a count of years
            or term(noun) is None  # "Ten is": no noun at all
            or written[0].isupper()  # "the Big Ten", "the Fantastic Four": a name
        ):
            continue
        amount = _amount(word)
        if amount is not None:
            found.append(Stated(Quantity(stem(noun), amount), match.start(), match.end()))
    return sorted(found, key=lambda q: q.start)


def _amount(word: str) -> float | None:
    word = word.lower().replace(",", "")
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    try:
        return float(word)
    except ValueError:
        return None


def verdict_by_quantities(question: str, quoted: Sequence[str]) -> str | None:
    """Yes or No when the quoted sentences settle the question's one stated quantity, else None."""
    if VAGUE.search(question) or SCALED.search(question):
        return None
    stated = quantities(question)
    if len(stated) != 1:
        return None
    asked = stated[0].quantity
    before = question[: stated[0].start]
    relation = _relation(before)
    if relation is None or (asked.kind == "duration" and relation is _equal and not LASTING.search(before)):
        return None  # "the 10-year Treasury yield", "31 days of horror" name things; they claim no length
    values = [s.quantity.value for text in quoted for s in quantities(text) if s.quantity.kind == asked.kind]
    if not values or any(VAGUE.search(text) for text in quoted):
        return None
    outcomes = {relation(value, asked.value) for value in values}
    if len(outcomes) != 1:
        return None
    return "Yes" if outcomes.pop() else "No"


def _relation(before: str) -> Callable[[float, float], bool] | None:
    """How a quoted value must stand to the stated one for "yes"; None for an approximate amount."""
    if APPROXIMATE.search(before):
        return None
    return next((relation for pattern, relation in RELATIONS if pattern.search(before)), _equal)


def _equal(value: float, stated: float) -> bool:
    return abs(value - stated) <= 1e-9 * max(1.0, abs(stated))
