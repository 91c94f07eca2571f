"""Follow-up questions: made standalone before retrieval."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from rag.answer import create_backend
from rag.answer.condense import carry_names, checked_rewrite
from rag.answer.llm import LLMBackend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.models import Turn
from rag.service import RagService
from tests.support import run_sync

HISTORY = (
    Turn("user", "Who did Hakim meet in Baghdad?"),
    Turn("assistant", "Iraqi politician Ammar Hakim met with Iranian Ambassador to Iraq Mohammad Kazem Al Sadeq. [1]"),
)


def test_names_of_the_last_turn_are_carried() -> None:
    standalone = carry_names("What did they discuss?", HISTORY)
    assert standalone.startswith("What did they discuss?")
    assert "Hakim" in standalone and "Baghdad" in standalone and "Sadeq" in standalone


def test_a_question_that_stands_alone_is_left_alone() -> None:
    assert carry_names("Why was Kadhimi's visit to Riyadh postponed?", HISTORY) == (
        "Why was Kadhimi's visit to Riyadh postponed?"
    )


def test_two_turn_conversation_through_the_service(settings: Settings, embedder: Embedder) -> None:
    service = RagService(settings, embedder, create_backend(settings, embedder))
    first = run_sync(service.ask("Who did Hakim meet in Baghdad?"))
    assert first.answered
    history = (Turn("user", "Who did Hakim meet in Baghdad?"), Turn("assistant", first.answer))
    second = run_sync(service.ask("What did they discuss?", history=history))
    assert second.answered and second.question == "What did they discuss?"
    assert second.standalone_question != second.question and "Hakim" in second.standalone_question
    assert any(c.doc_id in {"000_377df34418484512", "001_f23d52426f8a3810"} for c in second.citations)
    assert any("exchanged views" in c.text or "discuss" in c.text or "emphasized" in c.text for c in second.citations)


@pytest.mark.parametrize(
    ("rewritten", "expected"),
    [
        ("Standalone question: What did Hakim and Al Sadeq discuss?", "What did Hakim and Al Sadeq discuss?"),
        ("The user asked: What did they discuss?", None),  # junk: the names are carried instead
        ("What did Hakim and King Salman discuss?", None),  # invented names: the rewrite is not used
        ("", None),
    ],
)
def test_an_llm_rewrite_is_checked(rewritten: str, expected: str | None) -> None:
    standalone = checked_rewrite(rewritten, "What did they discuss?", HISTORY)
    assert standalone == (expected or carry_names("What did they discuss?", HISTORY))


class ScriptedChat:
    """A chat model that always writes the same text."""

    where = "fake"

    def __init__(self, text: str) -> None:
        self.text = text

    async def stream(self, messages: Sequence[object]) -> AsyncIterator[str]:
        yield self.text


def test_a_junk_llm_rewrite_still_finds_the_meeting(settings: Settings, embedder: Embedder) -> None:
    backend = LLMBackend("fake", ScriptedChat("The user asked: What did they discuss?"), settings, embedder)
    standalone = run_sync(backend.standalone_question("What did they discuss?", HISTORY))
    service = RagService(settings, embedder, backend)
    hits = run_sync(service.search(standalone, 3))
    assert {"000_377df34418484512", "001_f23d52426f8a3810"} <= {hit.passage.doc_id for hit in hits}
