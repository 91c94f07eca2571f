"""Follow-up questions made standalone: carry the names of the previous turn along, and check LLM rewrites.

"What did they discuss?" after "Who did Hakim meet in Baghdad?" retrieves nothing useful on its own;
with the names of the previous question and answer it finds the meeting again. A small model asked to
rewrite the follow-up often returns junk ("The user asked: What did they discuss?") or adds names nobody
mentioned, so its rewrite is only used when every name in it comes from the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.models import Turn
from rag.terms import names

REFERS_BACK = re.compile(r"\b(?:they|them|their|he|him|his|she|her|it|its|this|that|these|those|there|then)\b", re.I)
LABEL = re.compile(r"^(?:standalone question|rewritten question|question|the user asked|user)\s*:\s*", re.I)
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


def checked_rewrite(rewritten: str, question: str, history: Sequence[Turn]) -> str:
    """An LLM's standalone version of `question`, kept only if it invents no names; names carried as needed."""
    line = next((ln.strip() for ln in rewritten.splitlines() if ln.strip()), "")
    while LABEL.match(line):
        line = LABEL.sub("", line, count=1)
    line = line.strip().strip("\"'“”").strip()
    mentioned = {word.lower() for turn in history for word in re.findall(r"[A-Za-z]+", turn.content)}
    mentioned |= {word.lower() for word in re.findall(r"[A-Za-z]+", question)}
    invented = [name for name in names(line) if name.lower().split("'")[0].split("’")[0] not in mentioned]
    if not line or invented:
        return carry_names(question, history)
    return carry_names(line, history)
