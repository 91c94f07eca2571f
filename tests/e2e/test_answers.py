"""Answers through the real service on the bundled corpus: the short answer leads, sits inside its citation
at the exact offsets, and questions the corpus cannot answer are declined."""

from __future__ import annotations

import json

import pytest

from rag.answer import create_backend
from rag.config import PROJECT_ROOT, Settings
from rag.embeddings import Embedder
from rag.models import Answer
from rag.service import RagService
from tests.support import run_sync

SHORT_ANSWERS = [
    ("Who invited Hakim to Tehran?", "Ghalibaf", "formally invited him"),
    ("Where did the acting foreign minister go on the second day of his Iraq trip?", "Erbil", "left for Erbil"),
    ("When were Iraq's parliamentary elections scheduled?", "November 11", "November 11"),
    ("Who wrote the article about Kadhimi's visit to Iran?", "Eslam Mohamed", "Eslam Mohamed"),
    # Compared in code: the winner's name in the sentence that states its value.
    ("Which visit was longer, Hakim's visit to Iran or Bagheri Kani's visit to Baghdad?", "Hakim", "three-day"),
    # Settled by the stated duration: the value that settles it is the short answer.
    ("Did Hakim's visit to Iran last a week?", "three-day", "three-day visit"),
]
NOT_IN_CORPUS = [
    "Who is the mayor of Baghdad?",
    "In which month did Bagheri Kani arrive in Baghdad?",  # only a weekday and a day number are given
    "Who won the 2022 FIFA World Cup?",
    "Which visit was longer, Hakim's visit to Iran or Zarif's visit to Baghdad?",  # no duration for Zarif's
]


@pytest.fixture(scope="module")
def service(settings: Settings, embedder: Embedder) -> RagService:
    return RagService(settings, embedder, create_backend(settings, embedder))


def _ask(service: RagService, question: str) -> Answer:
    return run_sync(service.ask(question))


@pytest.mark.parametrize(("question", "short", "evidence"), SHORT_ANSWERS)
def test_the_short_answer_leads_and_lies_inside_its_citation(
    service: RagService, question: str, short: str, evidence: str
) -> None:
    answer = _ask(service, question)
    assert answer.answered, answer.answer
    span = answer.answer_span
    assert span is not None and short in span.text, (answer.answer, span)
    assert answer.answer.startswith(answer.answer.split(" — ")[0]) and short in answer.answer.split("[")[0]
    cited = next(c for c in answer.citations if c.marker == span.marker)
    assert evidence in cited.text
    assert cited.doc_id == span.doc_id and cited.start <= span.start < span.end <= cited.end
    text = run_sync(service.document(span.doc_id)).text
    assert text[span.start : span.end] == span.text
    assert text[cited.start : cited.end] == cited.text


@pytest.mark.parametrize("question", NOT_IN_CORPUS)
def test_questions_the_corpus_does_not_answer_are_declined(service: RagService, question: str) -> None:
    answer = _ask(service, question)
    assert not answer.answered, answer.answer
    assert answer.citations == () and answer.answer_span is None
    assert "corpus does not say" in answer.answer


def test_an_answer_cites_one_sentence_when_one_holds_the_answer(service: RagService) -> None:
    answer = _ask(service, "Who invited Hakim to Tehran?")
    assert len(answer.citations) == 1


def test_every_short_answer_and_citation_is_the_original_text(service: RagService) -> None:
    """Over every question we wrote, whichever way it is answered (a fuller name quoted from another
    sentence or article included): each citation is its document's text at its offsets, and the short answer
    lies inside the citation it names."""
    questions = json.loads((PROJECT_ROOT / "tests/data/corpus_qa.json").read_text())
    spans = 0
    for row in questions:
        answer = _ask(service, row["question"])
        for cited in answer.citations:
            assert run_sync(service.document(cited.doc_id)).text[cited.start : cited.end] == cited.text
        span = answer.answer_span
        if span is None:
            continue
        spans += 1
        cited = next(c for c in answer.citations if c.marker == span.marker)
        assert cited.doc_id == span.doc_id and cited.start <= span.start < span.end <= cited.end, row["question"]
        assert run_sync(service.document(span.doc_id)).text[span.start : span.end] == span.text
    assert spans >= 100  # most of them have a short answer
