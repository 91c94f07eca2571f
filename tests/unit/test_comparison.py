"""Comparisons across documents: the values stated for each option, compared in code, over the real index."""

from __future__ import annotations

import pytest

from rag.answer import Evidence
from rag.answer.comparison import compare
from rag.answer.extractive import draft
from rag.answer.question import analyse
from rag.answer.scoring import score_sentences
from rag.config import Settings
from rag.embeddings import Embedder
from rag.retrieval import retrieve
from rag.store import Index


def _evidence(question: str, settings: Settings, embedder: Embedder) -> Evidence:
    index = Index.open_current(settings.index_dir)
    found = retrieve(index, embedder, question, 5, settings)
    vectors = index.sentence_vectors([h.passage.chunk_id for h in found.hits])
    documents = {h.passage.doc_id: index.document(h.passage.doc_id) for h in found.hits}
    return Evidence(question, found.query_vector, found.hits, vectors, documents=documents)


@pytest.mark.parametrize(
    ("question", "winner", "values"),
    [
        ("Which visit was longer, Hakim's visit to Iran or Bagheri Kani's visit to Baghdad?", "Hakim", (3, 2)),
        ("Which visit was shorter: Hakim's visit to Iran or Bagheri Kani's visit to Baghdad?", "Bagheri", (2, 3)),
    ],
)
def test_the_option_whose_stated_duration_wins_answers(
    question: str, winner: str, values: tuple[int, int], settings: Settings, embedder: Embedder
) -> None:
    evidence = _evidence(question, settings, embedder)
    compared = compare(question, score_sentences(evidence, analyse(question)))
    assert compared is not None
    assert winner in compared.winner.option
    assert (compared.winner.stated.quantity.value, compared.other.stated.quantity.value) == values
    assert compared.winner.candidate.doc_id != compared.other.candidate.doc_id


def test_the_answer_leads_with_the_winner_and_quotes_both_values_exactly(
    settings: Settings, embedder: Embedder
) -> None:
    question = "Which visit was longer, Hakim's visit to Iran or Bagheri Kani's visit to Baghdad?"
    evidence = _evidence(question, settings, embedder)
    found = draft(evidence, 3)
    text = "".join(found.pieces)
    assert text.startswith("Hakim's visit to Iran (three-day against two-day) — ")
    assert len(found.citations) == 2 and found.answer_span is not None
    for citation in found.citations:
        original = evidence.documents[citation.doc_id].text
        assert original[citation.start : citation.end] == citation.text
        assert f"[{citation.marker}]" in text
    span, holding = found.answer_span, found.citations[0]
    assert span.text == "Hakim" and holding.start <= span.start < span.end <= holding.end
    assert evidence.documents[span.doc_id].text[span.start : span.end] == span.text


@pytest.mark.parametrize(
    "question",
    [
        "Which visit was longer, Hakim's visit to Iran or Zarif's visit to Baghdad?",  # no duration for Zarif's
        "Which visit was longer, Hakim's visit to Iran or Hakim's visit to Iran?",  # one sentence, one value
        "Was Hakim's visit longer than a week?",  # no two options
    ],
)
def test_without_two_stated_values_there_is_no_comparison(
    question: str, settings: Settings, embedder: Embedder
) -> None:
    evidence = _evidence(question, settings, embedder)
    assert compare(question, score_sentences(evidence, analyse(question))) is None


def test_a_comparison_the_text_does_not_settle_is_not_answered_by_a_quote(
    settings: Settings, embedder: Embedder
) -> None:
    """No quote says which of two visits was longer: without both values the extractive answer abstains (an LLM
    backend may still compose one: the confidence stays the evidence's)."""
    question = "Which visit was longer, Hakim's visit to Iran or Zarif's visit to Baghdad?"
    found = draft(_evidence(question, settings, embedder), 3)
    assert found.citations == () and found.pieces == () and not found.settled
    assert found.ranked, "the ranking is kept for an LLM backend"
