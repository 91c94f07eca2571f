"""Evaluation metrics over question outcomes, as plain functions of plain data.

Normalisation (case, punctuation, whitespace) follows the usual extractive-QA convention, so "$20 billion"
matches "20 billion" and "Al-Sadeq" matches "al sadeq".
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
AS_YES_NO = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}  # "True" is answered by "Yes"
YES_NO = frozenset(AS_YES_NO)
Z95 = 1.959964  # the normal quantile of a two-sided 95 % interval


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

    @property
    def yes_no(self) -> bool:
        """A question whose gold answer is Yes/No (or True/False), counted apart: quoting cannot say "yes"."""
        return bool(self.answers) and all(a.strip().lower() in YES_NO for a in self.answers)


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
    confidence: float = 1.0

    @property
    def correct(self) -> bool:
        """Answered with a gold string, or (unanswerable) declined.

        A Yes/No gold answer is matched by the answer's first word only: a quote that happens to hold "no"
        ("no one was hurt") does not answer "No", and "Yes. … no …" is not both answers at once.
        """
        if not self.item.answerable:
            return not self.answered
        if self.item.yes_no:
            first = normalise(self.answer).split()[:1]
            return self.answered and first == [AS_YES_NO.get(normalise(self.item.answers[0]), "")]
        return self.answered and contains_any(self.answer, self.item.answers)


def normalise(text: str) -> str:
    return " ".join(PUNCTUATION.sub(" ", text.lower()).split())


def contains_any(text: str, needles: Sequence[str]) -> bool:
    """Whether any needle occurs in the text as whole words ("two" is not found in "network")."""
    haystack = f" {normalise(text)} "
    return any(normalise(n) and f" {normalise(n)} " in haystack for n in needles)


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
    scored = _with_evidence(outcomes)
    return _mean([float(any(contains_any(p, o.item.evidence) for p in o.ranked_passages[:k])) for o in scored])


def accuracy(outcomes: Sequence[Outcome]) -> float:
    """Share of answerable questions answered with a gold answer string in the answer."""
    return _mean([float(o.correct) for o in outcomes if o.item.answerable and o.item.answers])


def paper_hits_at(outcomes: Sequence[Outcome], k: int) -> float:
    """MultiHop-RAG's retrieval rule: an evidence fact, spaces and newlines removed, is a substring of one
    of the first `k` passages (case-sensitive), over answerable questions with evidence."""
    return _mean([float(_first_relevant(o) <= k) for o in _with_evidence(outcomes)])


def paper_mrr_at_10(outcomes: Sequence[Outcome]) -> float:
    ranks = [_first_relevant(o) for o in _with_evidence(outcomes)]
    return _mean([1 / rank if rank <= 10 else 0.0 for rank in ranks])


def _with_evidence(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.item.answerable and o.item.evidence]


def _first_relevant(outcome: Outcome) -> float:
    facts = [_squeeze(e) for e in outcome.item.evidence]
    for rank, passage in enumerate(outcome.ranked_passages[:10], start=1):
        text = _squeeze(passage)
        if any(fact in text for fact in facts):
            return rank
    return math.inf


def _squeeze(text: str) -> str:
    return text.replace(" ", "").replace("\n", "")


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


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score 95 % interval of a proportion: honest at small n and near 0 or 1."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Rate:
    """A proportion with its count and 95 % interval."""

    successes: int
    n: int

    @property
    def value(self) -> float:
        return self.successes / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.n)


def rate_by_type(outcomes: Sequence[Outcome]) -> dict[str, Rate]:
    """Per question type, the share handled correctly: accuracy for answerable types, abstention for the rest."""
    found: dict[str, list[bool]] = {}
    for o in outcomes:
        if o.item.answerable and not o.item.answers:
            continue
        found.setdefault(o.item.type or "untyped", []).append(o.correct)
    return {kind: Rate(sum(flags), len(flags)) for kind, flags in sorted(found.items())}


@dataclass(frozen=True)
class CoveragePoint:
    """Answering only when confidence >= threshold: what share is answered and how often rightly."""

    threshold: float
    coverage: float  # share of all questions answered
    answered_accuracy: float  # share of answered questions answered rightly (unanswerable ones count wrong)
    accuracy: float
    abstention: float
    false_refusal: float


def risk_coverage(outcomes: Sequence[Outcome], thresholds: Sequence[float]) -> list[CoveragePoint]:
    """The risk-coverage table of outcomes produced with abstention off (every question answered)."""
    points = []
    for threshold in thresholds:
        kept = [replace(o, answered=o.answered and o.confidence >= threshold) for o in outcomes]
        answered = [o for o in kept if o.answered]
        points.append(
            CoveragePoint(
                threshold=threshold,
                coverage=len(answered) / len(kept) if kept else float("nan"),
                answered_accuracy=_mean([float(o.correct) for o in answered]),
                accuracy=accuracy(kept),
                abstention=abstention_rate(kept),
                false_refusal=false_refusal_rate(kept),
            )
        )
    return points


def latency(outcomes: Sequence[Outcome], stage: str) -> tuple[float, float]:
    """p50 and p95 in milliseconds of one stage across questions."""
    values = sorted(o.timings_ms[stage] for o in outcomes if stage in o.timings_ms)
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]
