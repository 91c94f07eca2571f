"""Run a question set through the same service path as `/v1/ask` and collect outcomes and the summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.progress import track

from rag.evaluation import metrics as m
from rag.evaluation.metrics import CitedSpan, Outcome, QAItem
from rag.evaluation.split import SPLITS, select, split_of
from rag.service import RagService

RETRIEVAL_DEPTH = 30  # passages looked at for the document and evidence recall figures
STAGES = ("embed", "search", "fuse", "compose", "total")


def load_questions(path: Path) -> list[QAItem]:
    return [QAItem.from_json(row) for row in json.loads(path.read_text())]


async def run(
    service: RagService, items: Sequence[QAItem], top_k: int | None = None, progress: bool = False
) -> list[Outcome]:
    outcomes = []
    texts: dict[str, str] = {}
    for item in track(items, description="asking", disable=not progress, transient=True):
        hits = await service.search(item.question, RETRIEVAL_DEPTH)
        answer = await service.ask(item.question, top_k)
        cited = []
        for c in answer.citations:
            if c.doc_id not in texts:
                texts[c.doc_id] = (await service.document(c.doc_id)).text
            cited.append(CitedSpan(c.text, texts[c.doc_id][c.start : c.end] == c.text))
        outcomes.append(
            Outcome(
                item=item,
                ranked_docs=tuple(dict.fromkeys(h.passage.doc_id for h in hits)),
                ranked_passages=tuple(h.passage.text for h in hits),
                answered=answer.answered,
                answer=answer.answer,
                citations=tuple(cited),
                timings_ms=answer.timings_ms,
                confidence=answer.confidence,
            )
        )
    return outcomes


def summarise(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Every figure of the report, by name (the JSON written by `rag eval --json`)."""
    summary = {f"doc_recall@{k}": m.doc_recall_at(outcomes, k) for k in (1, 3, 5, 10)}
    summary["mrr"] = m.mrr(outcomes)
    summary.update({f"evidence_recall@{k}": m.evidence_recall_at(outcomes, k) for k in (1, 3, 5, 10)})
    summary["paper_hits@4"] = m.paper_hits_at(outcomes, 4)
    summary["paper_hits@10"] = m.paper_hits_at(outcomes, 10)
    summary["paper_mrr@10"] = m.paper_mrr_at_10(outcomes)
    summary["accuracy"] = m.accuracy(outcomes)
    summary["accuracy_not_yes_no"] = m.accuracy([o for o in outcomes if not o.item.yes_no])
    summary["accuracy_yes_no"] = m.accuracy([o for o in outcomes if o.item.yes_no])
    summary["citation_precision"] = m.citation_precision(outcomes)
    summary["span_exactness"] = m.span_exactness(outcomes)
    summary["abstention"] = m.abstention_rate(outcomes)
    summary["false_refusal"] = m.false_refusal_rate(outcomes)
    summary["false_refusal_not_yes_no"] = m.false_refusal_rate([o for o in outcomes if not o.item.yes_no])
    for stage in STAGES:
        p50, p95 = m.latency(outcomes, stage)
        summary[f"{stage}_p50_ms"], summary[f"{stage}_p95_ms"] = p50, p95
    summary["questions"] = float(len(outcomes))
    return summary


COVERAGE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))


@dataclass(frozen=True)
class Evaluation:
    """Figures per split (tune, heldout), rates per question type per split, and the held-out risk-coverage."""

    summaries: dict[str, dict[str, float]]
    by_type: dict[str, dict[str, m.Rate]]
    coverage: list[m.CoveragePoint]

    def to_json(self) -> dict:
        return {
            "splits": self.summaries,
            "by_type": {
                split: {kind: {"n": r.n, "value": r.value, "interval": r.interval} for kind, r in rates.items()}
                for split, rates in self.by_type.items()
            },
            "coverage": [point.__dict__ for point in self.coverage],
        }


async def evaluate(
    service: RagService,
    items: Sequence[QAItem],
    top_k: int | None = None,
    coverage_service: RagService | None = None,
    progress: bool = False,
) -> Evaluation:
    """Both splits of `items` through `service`; with `coverage_service` (the same, abstention off) also
    the risk-coverage table of the held-out split."""
    outcomes = await run(service, items, top_k, progress)
    by_split = {split: [o for o in outcomes if split_of(o.item.id) == split] for split in SPLITS}
    points = []
    if coverage_service is not None:
        heldout = select(items, "heldout")
        points = m.risk_coverage(await run(coverage_service, heldout, top_k, progress), COVERAGE_THRESHOLDS)
    return Evaluation(
        summaries={split: summarise(found) for split, found in by_split.items() if found},
        by_type={split: m.rate_by_type(found) for split, found in by_split.items() if found},
        coverage=points,
    )
