"""Answer-type checks: evidence that cannot hold the kind of answer a question asks for is no answer.

A "how many" question answered by a sentence without a number, or a "when" question answered by one
without any time expression, is the classic way extractive QA confidently quotes the wrong thing.
"""

from __future__ import annotations

import re

QUANTITY_QUESTION = re.compile(r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|amount)\b", re.I)
TIME_QUESTION = re.compile(r"^\s*when\b|\bwhat (?:year|date|day|month|time)\b|\bin which year\b", re.I)
NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve dozen dozens hundred hundreds "
    "thousand thousands million millions billion billions half"
).split()
NUMBER = re.compile(r"\d|\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.I)
MONTHS = "january february march april may june july august september october november december"
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday"
TIME_EXPRESSION = re.compile(
    r"\b\d{1,4}\b|\b(?:" + "|".join((MONTHS + " " + WEEKDAYS).split()) + r")\b"
    r"|\b(?:today|yesterday|tomorrow|week|weeks|month|months|year|years|ago|earlier|later|since|until)\b",
    re.I,
)


def missing_answer_type(question: str, best_sentence: str) -> str | None:
    """Why the best evidence sentence cannot answer this kind of question, or None when it can."""
    if QUANTITY_QUESTION.search(question) and not NUMBER.search(best_sentence):
        return "the question asks for a number and the evidence has none"
    if TIME_QUESTION.search(question) and not TIME_EXPRESSION.search(best_sentence):
        return "the question asks when and the evidence has no time expression"
    return None
