"""Which of two things lasted longer, or counts more: the values the text states for each, compared in code.

"Whose visit lasted longer: Hakim's trip to Iran or Bagheri Kani's trip to Iraq?" names two options. For each,
the best-scored retrieved sentence that names its owner ("Hakim", "Bagheri Kani"; a demonym stands for its
country: "the Omani ruler" is named by "Oman's ruler") and states one quantity of the asked kind (a duration for
longer/shorter, a count of the noun the question counts for more/fewer) gives its value. The answer is the option
whose value wins, with both sentences quoted so the reader sees the two values. When a value is missing, two
options share one sentence's value, or the values are equal, there is no comparison, and the ordinary answer
(or abstention) stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.quantities import Stated, quantities, readable, same_amount
from rag.answer.question import OPTIONS
from rag.answer.scoring import Candidate
from rag.places import with_countries
from rag.terms import content_terms, term_set

GREATER = {"longer": "duration", "more": "count", "larger": "count", "bigger": "count", "higher": "count"}
SMALLER = {"shorter": "duration", "fewer": "count", "less": "count", "smaller": "count", "lower": "count"}
COMPARATIVE = re.compile(r"\b(" + "|".join([*GREATER, *SMALLER]) + r")\b", re.I)
CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*")
POSSESSIVE = re.compile(r"['’]s\b")


@dataclass(frozen=True)
class Value:
    option: str  # as the question words it
    candidate: Candidate  # the sentence that states it
    stated: Stated  # where in that sentence's text


@dataclass(frozen=True)
class Comparison:
    winner: Value
    other: Value


def compare(question: str, candidates: Sequence[Candidate]) -> Comparison | None:
    """The option whose stated value wins the comparison the question asks for, or None."""
    comparative = COMPARATIVE.search(question)
    options = OPTIONS.search(question)
    if comparative is None or options is None:
        return None
    word = comparative.group(1).lower()
    kind = GREATER.get(word) or SMALLER[word]
    counted = _counted_noun(question, comparative.end()) if kind == "count" else "duration"
    if counted is None:
        return None
    first, second = (_value(options.group(g), counted, candidates) for g in ("first", "second"))
    if first is None or second is None or _where(first) == _where(second):
        return None
    a, b = first.stated.quantity.value, second.stated.quantity.value
    if same_amount(a, b, counted):
        return None
    greater, lesser = (first, second) if a > b else (second, first)
    return Comparison(greater, lesser) if word in GREATER else Comparison(lesser, greater)


def _where(value: Value) -> tuple[str, int]:
    return value.candidate.doc_id, value.candidate.span.start


def _counted_noun(question: str, after: int) -> str | None:
    """The stem of the noun a "more/fewer" question counts: "more troops" → troop."""
    following = content_terms(question[after:])
    return following[0] if following else None


def _value(option: str, kind: str, candidates: Sequence[Candidate]) -> Value | None:
    """The best-scored sentence naming the option's owner and stating one value of the kind."""
    owner = _owner_terms(option)
    if not owner:
        return None
    wanted = set(content_terms(option))
    best: tuple[float, float, Value] | None = None
    for candidate in candidates:
        named = with_countries(term_set(candidate.text))  # "Oman's ruler" names the Omani ruler
        if not owner <= named:
            continue
        if not readable(candidate.text):
            continue  # "an hour and a half", "twenty-five": amounts not read right
        values = [s for s in quantities(candidate.text) if s.quantity.kind == kind]
        if len({s.quantity.value for s in values}) != 1:
            continue  # none, or two different ones: which belongs to the option is not clear
        rank = (len(wanted & named) / len(wanted), candidate.score)
        if best is None or rank > best[:2]:
            best = (*rank, Value(option, candidate, values[0]))
    return best[2] if best else None


def named_in(value: Value) -> tuple[int, int] | None:
    """Where the option's owner is named in its sentence's text ("Hakim"), if by name and not by pronoun."""
    words = _owner_words(value.option)
    for name in [" ".join(words), *words]:  # "Bagheri Kani" whole, else "Bagheri"
        found = re.search(r"\b" + re.escape(name) + r"\b", value.candidate.text) if name else None
        if found:
            return found.span()
    return None


def _owner_words(option: str) -> list[str]:
    """The names that say whose the option is: the capitalised words before the possessive ("Bagheri Kani's
    trip" → Bagheri, Kani), or in the whole option when it has none."""
    return CAPITALISED.findall(POSSESSIVE.split(option, maxsplit=1)[0])


def _owner_terms(option: str) -> set[str]:
    return {t for word in _owner_words(option) for t in content_terms(word)}
