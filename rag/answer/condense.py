"""Follow-up questions made standalone without an LLM: carry the names of the previous turn along.

"What did they discuss?" after "Who did Hakim meet in Baghdad?" retrieves nothing useful on its own;
with the names of the previous question and answer it finds the meeting again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.models import Turn
from rag.terms import names

REFERS_BACK = re.compile(r"\b(?:they|them|their|he|him|his|she|her|it|its|this|that|these|those|there|then)\b", re.I)
MAX_CARRIED = 12


def carry_names(question: str, history: Sequence[Turn]) -> str:
    """The question plus the names of the last exchange, when the question leans on it."""
    own = set(names(question))
    if own and not REFERS_BACK.search(question):
        return question
    previous_question = next((t.content for t in reversed(history) if t.role == "user"), "")
    previous_answer = next((t.content for t in reversed(history) if t.role == "assistant"), "")
    first_sentence = re.split(r"(?<=[.?!])\s", previous_answer.strip(), maxsplit=1)[0]
    carried = [n for n in dict.fromkeys(names(previous_question) + names(first_sentence)) if n not in own]
    if not carried:
        return question
    return f"{question} ({', '.join(carried[:MAX_CARRIED])})"
