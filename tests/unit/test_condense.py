"""Follow-up questions: made standalone before retrieval."""

from __future__ import annotations

from rag.answer import create_backend
from rag.answer.condense import carry_names
from rag.config import Settings
from rag.embeddings import SentenceTransformerEmbedder
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


def test_two_turn_conversation_through_the_service(settings: Settings, embedder: SentenceTransformerEmbedder) -> None:
    service = RagService(settings, embedder, create_backend(settings, embedder))
    first = run_sync(service.ask("Who did Hakim meet in Baghdad?"))
    assert first.answered
    history = (Turn("user", "Who did Hakim meet in Baghdad?"), Turn("assistant", first.answer))
    second = run_sync(service.ask("What did they discuss?", history=history))
    assert second.answered and second.question != "What did they discuss?"
    assert any(c.doc_id in {"000_377df34418484512", "001_f23d52426f8a3810"} for c in second.citations)
    assert any("exchanged views" in c.text or "discuss" in c.text or "emphasized" in c.text for c in second.citations)
