"""The evaluation metrics on hand-made outcomes whose right values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from rag.evaluation import metrics as m
from rag.evaluation.metrics import CitedSpan, Outcome, QAItem
from rag.evaluation.split import split_of


def item(
    answerable: bool = True,
    sources: tuple[str, ...] = ("a",),
    answers: tuple[str, ...] = ("$20 billion",),
    evidence: tuple[str, ...] = ("about $20 billion",),
    kind: str = "factoid",
) -> QAItem:
    return QAItem("q", "question?", answers, sources, evidence, kind, answerable)


def outcome(
    qa: QAItem,
    docs: tuple[str, ...] = (),
    passages: tuple[str, ...] = (),
    answered: bool = True,
    answer: str = "",
    citations: tuple[CitedSpan, ...] = (),
    total: float = 10.0,
    confidence: float = 1.0,
) -> Outcome:
    return Outcome(qa, docs, passages, answered, answer, citations, {"total": total}, confidence)


def test_normalise_drops_case_punctuation_and_spacing() -> None:
    assert m.normalise("  About $20-Billion,\n said ") == "about 20 billion said"
    assert m.contains_any("It reached about $20 billion.", ["20 BILLION"])
    assert not m.contains_any("It reached 200 billion.", ["20 billion"])
    assert not m.contains_any("a regional network", ["two"])  # whole words only


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


def test_the_split_is_fixed_by_id_and_roughly_even() -> None:
    assert split_of("q001") == split_of("q001")
    splits = [split_of(f"q{i:03d}") for i in range(1, 401)]
    assert 150 < splits.count("heldout") < 250
    assert {split_of("d01"), split_of("d02"), split_of("d03"), split_of("d04")} == {"tune", "heldout"}


def test_wilson_interval() -> None:
    low, high = m.wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=1e-3) and high == pytest.approx(0.943, abs=1e-3)
    assert m.wilson_interval(0, 5)[0] == 0.0 and m.wilson_interval(5, 5)[1] == 1.0


def test_rates_by_type_use_abstention_for_unanswerable_questions() -> None:
    outcomes = [
        outcome(item(kind="who"), answer="about $20 billion"),
        outcome(item(kind="who"), answer="nothing"),
        outcome(item(answerable=False, answers=(), kind="unanswerable"), answered=False),
    ]
    rates = m.rate_by_type(outcomes)
    assert (rates["who"].successes, rates["who"].n) == (1, 2)
    assert (rates["unanswerable"].successes, rates["unanswerable"].n) == (1, 1)


def test_risk_coverage_answers_only_above_the_threshold() -> None:
    outcomes = [
        outcome(item(), answer="$20 billion", confidence=0.9),
        outcome(item(), answer="wrong", confidence=0.4),
        outcome(item(answerable=False, answers=()), answer="a guess", confidence=0.3),
    ]
    low, high = m.risk_coverage(outcomes, [0.0, 0.5])
    assert (low.coverage, low.answered_accuracy, low.abstention) == (1.0, pytest.approx(1 / 3), 0.0)
    assert (high.coverage, high.answered_accuracy, high.abstention) == (pytest.approx(1 / 3), 1.0, 1.0)
    assert high.false_refusal == pytest.approx(1 / 2)


def test_the_benchmark_retrieval_rule_ignores_spaces_and_newlines() -> None:
    qa = item(evidence=("left for\nErbil on Friday.",))
    found = outcome(qa, passages=("x", "y", "z", "w", "Then he left for Erbil on Friday. More."))
    assert m.paper_hits_at([found], 4) == 0.0 and m.paper_hits_at([found], 10) == 1.0
    assert m.paper_mrr_at_10([found]) == pytest.approx(1 / 5)


def test_yes_no_questions_are_known_by_their_gold_answer() -> None:
    assert item(answers=("Yes",)).yes_no and item(answers=("no",)).yes_no
    assert not item(answers=("Google",)).yes_no


def test_a_yes_no_answer_is_judged_by_its_first_word() -> None:
    no = item(answers=("no",))
    assert outcome(no, answer="No. The report says the talks went on [1].").correct
    assert not outcome(no, answer="Yes. Officials said no one was hurt [1].").correct
    assert not outcome(no, answer="Officials said no one was hurt [1].").correct  # a quote says neither
    assert not outcome(no, answered=False, answer="No").correct
    assert outcome(item(answers=("True",)), answer="Yes. The report says so [1].").correct
