"""Evaluation metrics over question outcomes, as plain functions of plain data.

Normalisation (case, punctuation, whitespace) follows the usual extractive-QA convention, so "$20 billion"
matches "20 billion" and "Al-Sadeq" matches "al sadeq".
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]  # doc_ids (file names are reduced to their stem)
    evidence: tuple[str, ...]
    type: str
    answerable: bool

    @classmethod
    def from_json(cls, row: dict) -> QAItem:
        return cls(
            id=str(row["id"]),
            question=row["question"],
            answers=tuple(row.get("answers", ())),
            sources=tuple(PurePath(s).stem for s in row.get("sources", ())),
            evidence=tuple(row.get("evidence", ())),
            type=row.get("type", ""),
            answerable=bool(row.get("answerable", True)),
        )


@dataclass(frozen=True)
class CitedSpan:
    text: str
    exact: bool  # text == document text[start:end]


@dataclass(frozen=True)
class Outcome:
    item: QAItem
    ranked_docs: tuple[str, ...]  # unique doc_ids in retrieval order
    ranked_passages: tuple[str, ...]  # passage texts in retrieval order
    answered: bool
    answer: str
    citations: tuple[CitedSpan, ...]
    timings_ms: dict[str, float]


def normalise(text: str) -> str:
    return " ".join(PUNCTUATION.sub(" ", text.lower()).split())


def contains_any(text: str, needles: Sequence[str]) -> bool:
    haystack = normalise(text)
    return any(normalise(n) and normalise(n) in haystack for n in needles)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _with_sources(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.item.answerable and o.item.sources]


def doc_recall_at(outcomes: Sequence[Outcome], k: int) -> float:
    """Share of answerable questions with a gold document among the first `k` retrieved documents."""
    return _mean([float(any(d in o.item.sources for d in o.ranked_docs[:k])) for o in _with_sources(outcomes)])


def mrr(outcomes: Sequence[Outcome]) -> float:
    """Mean reciprocal rank of the first gold document (0 when none is retrieved)."""
    ranks = []
    for o in _with_sources(outcomes):
        rank = next((i for i, d in enumerate(o.ranked_docs, start=1) if d in o.item.sources), None)
        ranks.append(1 / rank if rank else 0.0)
    return _mean(ranks)


def evidence_recall_at(outcomes: Sequence[Outcome], k: int) -> float:
    """Share of questions with gold evidence where one of the first `k` passages contains it."""
    scored = [o for o in outcomes if o.item.answerable and o.item.evidence]
    return _mean([float(any(contains_any(p, o.item.evidence) for p in o.ranked_passages[:k])) for o in scored])


def accuracy(outcomes: Sequence[Outcome]) -> float:
    """Share of answerable questions answered with a gold answer string in the answer."""
    scored = [o for o in outcomes if o.item.answerable and o.item.answers]
    return _mean([float(o.answered and contains_any(o.answer, o.item.answers)) for o in scored])


def citation_precision(outcomes: Sequence[Outcome]) -> float:
    """Share of citations (of answered, answerable questions) whose text holds the evidence or an answer."""
    flags = [
        contains_any(c.text, o.item.evidence + o.item.answers)
        for o in outcomes
        if o.item.answerable and o.answered
        for c in o.citations
    ]
    return _mean([float(f) for f in flags])


def span_exactness(outcomes: Sequence[Outcome]) -> float:
    """Share of all citations whose text is exactly the document's text at [start, end)."""
    return _mean([float(c.exact) for o in outcomes for c in o.citations])


def abstention_rate(outcomes: Sequence[Outcome]) -> float:
    """Share of unanswerable questions the service declined to answer."""
    return _mean([float(not o.answered) for o in outcomes if not o.item.answerable])


def false_refusal_rate(outcomes: Sequence[Outcome]) -> float:
    """Share of answerable questions the service declined to answer."""
    return _mean([float(not o.answered) for o in outcomes if o.item.answerable])


def latency(outcomes: Sequence[Outcome], stage: str) -> tuple[float, float]:
    """p50 and p95 in milliseconds of one stage across questions."""
    values = sorted(o.timings_ms[stage] for o in outcomes if stage in o.timings_ms)
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]
