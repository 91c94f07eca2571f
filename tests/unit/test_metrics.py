"""The evaluation metrics on hand-made outcomes whose right values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from rag.evaluation import metrics as m
from rag.evaluation.metrics import CitedSpan, Outcome, QAItem


def item(
    answerable: bool = True,
    sources: tuple[str, ...] = ("a",),
    answers: tuple[str, ...] = ("$20 billion",),
    evidence: tuple[str, ...] = ("about $20 billion",),
) -> QAItem:
    return QAItem("q", "question?", answers, sources, evidence, "factoid", answerable)


def outcome(
    qa: QAItem,
    docs: tuple[str, ...] = (),
    passages: tuple[str, ...] = (),
    answered: bool = True,
    answer: str = "",
    citations: tuple[CitedSpan, ...] = (),
    total: float = 10.0,
) -> Outcome:
    return Outcome(qa, docs, passages, answered, answer, citations, {"total": total})


def test_normalise_drops_case_punctuation_and_spacing() -> None:
    assert m.normalise("  About $20-Billion,\n said ") == "about 20 billion said"
    assert m.contains_any("It reached about $20 billion.", ["20 BILLION"])
    assert not m.contains_any("It reached 200 billion.", ["20 billion"])


def test_doc_recall_and_mrr() -> None:
    outcomes = [
        outcome(item(sources=("a",)), docs=("a", "b", "c")),  # rank 1
        outcome(item(sources=("c",)), docs=("a", "b", "c")),  # rank 3
        outcome(item(sources=("z",)), docs=("a", "b", "c")),  # missed
        outcome(item(answerable=False, sources=()), docs=("a",)),  # not counted
    ]
    assert m.doc_recall_at(outcomes, 1) == pytest.approx(1 / 3)
    assert m.doc_recall_at(outcomes, 3) == pytest.approx(2 / 3)
    assert m.mrr(outcomes) == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_evidence_recall_counts_passages_not_documents() -> None:
    qa = item(evidence=("left for Erbil",))
    hit_second = outcome(qa, passages=("nothing here", "He left for Erbil on Friday."))
    assert m.evidence_recall_at([hit_second], 1) == 0.0
    assert m.evidence_recall_at([hit_second], 2) == 1.0


def test_accuracy_needs_an_answered_question_with_a_gold_string() -> None:
    outcomes = [
        outcome(item(), answer="Trade of about $20 billion [1]"),
        outcome(item(), answered=False, answer="$20 billion is what they did not say"),  # refused: wrong
        outcome(item(), answer="Some other figure"),
        outcome(item(answerable=False, answers=()), answer="anything"),  # not counted
    ]
    assert m.accuracy(outcomes) == pytest.approx(1 / 3)


def test_citation_precision_and_span_exactness() -> None:
    good, off, wrong_span = CitedSpan("about $20 billion", True), CitedSpan("unrelated", True), CitedSpan("x", False)
    outcomes = [
        outcome(item(), citations=(good, off)),
        outcome(item(), answered=False, citations=(off,)),  # refused: precision ignores it
        outcome(item(answerable=False), citations=(wrong_span,)),
    ]
    assert m.citation_precision(outcomes) == pytest.approx(1 / 2)
    assert m.span_exactness(outcomes) == pytest.approx(3 / 4)


def test_abstention_and_false_refusal() -> None:
    outcomes = [
        outcome(item(answerable=False), answered=False),
        outcome(item(answerable=False), answered=True),
        outcome(item(answerable=False), answered=False),
        outcome(item(), answered=False),
        outcome(item(), answered=True),
    ]
    assert m.abstention_rate(outcomes) == pytest.approx(2 / 3)
    assert m.false_refusal_rate(outcomes) == pytest.approx(1 / 2)


def test_latency_percentiles() -> None:
    outcomes = [outcome(item(), total=float(v)) for v in range(1, 101)]
    p50, p95 = m.latency(outcomes, "total")
    assert p50 == pytest.approx(50.5) and p95 == pytest.approx(95.05)
    assert all(math.isnan(v) for v in m.latency([], "total"))


def test_file_names_become_doc_ids() -> None:
    row = {"id": "d1", "question": "Q?", "answers": [], "sources": ["000_x.txt"], "evidence": [], "answerable": True}
    assert QAItem.from_json(row).sources == ("000_x",)
