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

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.places import with_countries
from rag.terms import name_terms, stem, term, term_set

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
}  # fmt: skip
DAYS_IN = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365,
           "decade": 3650}  # fmt: skip
WORDS = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
NUMERALS = "|".join(w for w in sorted(NUMBER_WORDS, key=len, reverse=True) if w not in ("a", "an"))  # "a two-day"
# "1,200" or "3.5", never a piece of "Covid-19", "F-16" or "1,2,3"; thousands groups are read in one pass.
DIGITS = r"(?<![\w.,/-])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w,/]\d)"
AMOUNT = r"(?P<amount>" + DIGITS + r"|\b(?:" + WORDS + r"))"
DURATION = re.compile(
    AMOUNT + r"[- ](?P<unit>minute|hour|day|week|fortnight|month|year|decade)s?\b(?![- ](?:ago|later|earlier|old)\b)",
    re.I,
)
# "10 people", "1,200 troops": a number and the plural noun it counts; a year ("2023 elections") counts nothing.
COUNT = re.compile(r"(?!(?:1[89]|20)\d\d\b)" + AMOUNT + r"\s+(?P<noun>people|children|men|women|[a-z]+s)\b", re.I)
# Amounts this module does not read, which make a text's quantities unsafe to judge by: "twenty-five", "two
# hundred", "5 million", "half a day", "an hour and a half", "3 1/2 days".
UNREADABLE = re.compile(
    r"\b(?:" + NUMERALS + r"|\d+)[- ](?:" + NUMERALS + r"|thousand|million|billion)\b|\bhalf\b|\bquarter\b|\d/\d",
    re.I,
)
# The relation the question asks about, read just before its quantity.
RELATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:at least|no (?:less|fewer) than|a minimum of)\s*$", re.I), ">="),
    (re.compile(r"\b(?:at most|no more than|up to|a maximum of)\s*$", re.I), "<="),
    (re.compile(r"\b(?:more than|over|longer than|above|exceed(?:ed|ing|s)?|beyond|upwards of)\s*$", re.I), ">"),
    (re.compile(r"\b(?:less than|fewer than|under|shorter than|below|within)\s*$", re.I), "<"),
]
APPROXIMATE = re.compile(r"\b(?:about|around|roughly|nearly|almost|some|approximately|close to)\s*$", re.I)
# A duration the question claims, not one inside a name or a passing phrase: "did the visit *last* a week",
# "stay *for* two days"; not "the 10-year Treasury yield", "31 days of horror", "the talks over two days".
LASTING = re.compile(r"\b(?:last|lasted|lasting|for|spend|spent|take|took|stay|stayed|run|ran|span|spanned)\s+"
                     r"(?:only\s+|just\s+)?$", re.I)  # fmt: skip
# A count the question refers to rather than claims: "did *the* 12 people arrested appear in court?"
REFERRED = re.compile(r"\b(?:the|these|those|this|that|its|his|her|their|our)\s+$", re.I)
# "a week or two", "three days or more", "two to three days": a range, not one amount.
RANGE_AFTER = re.compile(r"^\s*(?:or|to|-|–)\s", re.I)
NEGATION = re.compile(r"\b(?:not|never)\b|n['’]t\b", re.I)
VAGUE = re.compile(r"\b(?:several|a few|a couple|many|dozens|hundreds|thousands|millions)\b", re.I)
TOLERANCE = 0.05  # "a year" and "12 months" are one length (365 and 360 days); counts must match exactly


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


def readable(text: str) -> bool:
    """Whether every amount in the text is one this module reads right (see UNREADABLE)."""
    return not UNREADABLE.search(text) and not VAGUE.search(text)


def quantities(text: str) -> list[Stated]:
    """The durations and counts a text states, in text order. A number after a mid-sentence name ("Boeing 737
    jets") or a duration before one ("the 10-year Treasury yield") is part of the name, not a quantity."""
    found: list[Stated] = []
    for match in DURATION.finditer(text):
        amount = _amount(match.group("amount"))
        if amount is not None and not _in_name(text, match):
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
            or _in_name(text, match)
        ):
            continue
        amount = _amount(word)
        if amount is not None:
            found.append(Stated(Quantity(stem(noun), amount), match.start(), match.end()))
    return sorted(found, key=lambda q: q.start)


def _in_name(text: str, match: re.Match[str]) -> bool:
    after_name = bool(re.search(r"[a-z0-9,;]\s+[A-Z][\w-]*\s+$", text[: match.start()]))  # "… 30 Boeing 737"
    before_name = bool(re.match(r"[ -][A-Z]", text[match.end() :]))  # "10-year Treasury"
    return after_name or before_name


def _amount(word: str) -> float | None:
    word = word.lower().replace(",", "")
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    try:
        return float(word)
    except ValueError:
        return None


def same_amount(a: float, b: float, kind: str = "duration") -> bool:
    """Equal, or for durations within the rounding of one unit into another."""
    tolerance = TOLERANCE if kind == "duration" else 0.0
    return abs(a - b) <= tolerance * max(abs(a), abs(b)) + 1e-9


def verdict_by_quantities(question: str, quoted: Sequence[str]) -> str | None:
    """Yes or No when the quoted sentences settle the question's one stated quantity, else None."""
    if not readable(question) or NEGATION.search(question):
        return None
    stated = quantities(question)
    if len(stated) != 1:
        return None
    asked, at = stated[0].quantity, stated[0]
    before, after = question[: at.start], question[at.end :]
    if APPROXIMATE.search(before) or RANGE_AFTER.search(after):
        return None
    relation = next((r for pattern, r in RELATIONS if pattern.search(before)), "=")
    claim = next((before[: m.start()] for pattern, _ in RELATIONS if (m := pattern.search(before))), before)
    if asked.kind == "duration" and not LASTING.search(claim):
        return None  # "the 10-year Treasury yield", "the talks over two days": no length is claimed
    if asked.kind != "duration" and REFERRED.search(claim):
        return None  # "did the 12 people arrested appear …?" claims nothing about twelve
    values = []
    for text in quoted:
        found = [s for s in quantities(text) if s.quantity.kind == asked.kind]
        if found and not (readable(text) and _names_subject(question, text)):
            return None  # an amount not read, or a sentence about someone else
        for s in found:
            if APPROXIMATE.search(text[: s.start]) or any(p.search(text[: s.start]) for p, _ in RELATIONS):
                return None  # "at least 10", "about 1,200": a bound is not the value
            values.append(s.quantity.value)
    if not values:
        return None
    outcomes = {_holds(value, relation, asked) for value in values}
    return None if len(outcomes) != 1 else "Yes" if outcomes.pop() else "No"


def _holds(value: float, relation: str, asked: Quantity) -> bool:
    """Whether the quoted value stands to the stated one as the question asks, durations within TOLERANCE."""
    same = same_amount(value, asked.value, asked.kind)
    if relation == "=":
        return same
    if relation in (">=", "<="):
        return same or (value > asked.value if relation == ">=" else value < asked.value)
    return not same and (value > asked.value if relation == ">" else value < asked.value)


def _names_subject(question: str, sentence: str) -> bool:
    """Whether the sentence names everyone and everywhere the question names (a demonym names its country):
    "Did Zarif's visit last a week?" is not settled by a sentence about Hakim's."""
    return name_terms(question) <= with_countries(term_set(sentence))
