"""Run a question set through the same service path as `/v1/ask` and collect outcomes and the summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rag.evaluation import metrics as m
from rag.evaluation.metrics import CitedSpan, Outcome, QAItem
from rag.service import RagService

RETRIEVAL_DEPTH = 30  # passages looked at for the document and evidence recall figures
STAGES = ("embed", "search", "fuse", "compose", "total")


def load_questions(path: Path) -> list[QAItem]:
    return [QAItem.from_json(row) for row in json.loads(path.read_text())]


async def run(service: RagService, items: Sequence[QAItem], top_k: int | None = None) -> list[Outcome]:
    outcomes = []
    texts: dict[str, str] = {}
    for item in items:
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
            )
        )
    return outcomes


def summarise(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Every figure of the report, by name (the JSON written by `rag eval --json`)."""
    summary = {f"doc_recall@{k}": m.doc_recall_at(outcomes, k) for k in (1, 3, 5, 10)}
    summary["mrr"] = m.mrr(outcomes)
    summary.update({f"evidence_recall@{k}": m.evidence_recall_at(outcomes, k) for k in (1, 3, 5, 10)})
    summary["accuracy"] = m.accuracy(outcomes)
    summary["citation_precision"] = m.citation_precision(outcomes)
    summary["span_exactness"] = m.span_exactness(outcomes)
    summary["abstention"] = m.abstention_rate(outcomes)
    summary["false_refusal"] = m.false_refusal_rate(outcomes)
    for stage in STAGES:
        p50, p95 = m.latency(outcomes, stage)
        summary[f"{stage}_p50_ms"], summary[f"{stage}_p95_ms"] = p50, p95
    summary["questions"] = float(len(outcomes))
    return summary
