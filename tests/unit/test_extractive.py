"""The extractive backend through the real service: cited text holds the answer; weak evidence abstains."""

from __future__ import annotations

import pytest

from rag.answer import create_backend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import ConfigError, QuestionInvalid
from rag.models import Answer
from rag.service import RagService
from tests.support import run_sync

ANSWERABLE = [
    ("Why was Kadhimi's visit to Riyadh postponed?", "hospital"),
    ("Where did Iran's acting foreign minister go on the second day of his Iraq trip?", "Erbil"),
    ("Which ministers accompanied the Iraqi prime minister to Tehran?", "oil"),
    ("How did Raisi and al-Kadhimi talk on Saturday?", "phone call"),
    ("What level of bilateral trade did Rouhani want with Iraq?", "$20 billion"),
    ("Who invited Hakim to Tehran?", "Ghalibaf"),
]
UNANSWERABLE = [
    "What is the population of Baghdad?",
    "Which football team won the Iraqi league?",
    "Which website did the blog commenter recommend?",
    "How many days did Hakim spend in Saudi Arabia?",  # his three-day visit was to Iran
    # The vetoes read the sentence quoted first, which the passages' agreement put there (not the top-ranked one).
    "What are the names of the Egyptian officials who spoke to The National?",
]


@pytest.fixture(scope="module")
def service(settings: Settings, embedder: Embedder) -> RagService:
    return RagService(settings, embedder, create_backend(settings, embedder))


def _ask(service: RagService, question: str, **kw: object) -> Answer:
    return run_sync(service.ask(question, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_cited_text_contains_the_answer(service: RagService, question: str, expected: str) -> None:
    answer = _ask(service, question)
    assert answer.answered, answer.answer
    assert any(expected in c.text for c in answer.citations), (answer.answer, [c.text for c in answer.citations])
    for citation in answer.citations:
        document = run_sync(service.document(citation.doc_id))
        assert document.text[citation.start : citation.end] == citation.text
        assert f"[{citation.marker}]" in answer.answer
    assert set(answer.timings_ms) >= {"embed", "search", "compose", "total"}


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_unanswerable_questions_are_not_answered(service: RagService, question: str) -> None:
    answer = _ask(service, question)
    assert not answer.answered and not answer.citations
    assert "corpus does not say" in answer.answer


@pytest.mark.parametrize(
    ("question", "top_k"), [("", None), ("   ", None), ("x" * 2001, None), ("ok?", 0), ("ok?", 51)]
)
def test_bad_questions_raise(service: RagService, question: str, top_k: int | None) -> None:
    with pytest.raises(QuestionInvalid):
        _ask(service, question, top_k=top_k)


def test_unknown_backend_fails_with_one_clear_line(embedder: Embedder) -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'gpt9'.*choose one of: .*extractive"):
        create_backend(Settings(backend="gpt9"), embedder)
