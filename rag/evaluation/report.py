"""The evaluation figures as rich tables for the terminal, and as Markdown for the README."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rich.table import Table

from rag.evaluation.metrics import CoveragePoint, Rate
from rag.evaluation.runner import STAGES

SECTIONS = {
    "retrieval": [
        "doc_recall@1",
        "doc_recall@5",
        "mrr",
        "evidence_recall@1",
        "evidence_recall@5",
        "evidence_recall@10",
        "paper_hits@4",
        "paper_hits@10",
        "paper_mrr@10",
    ],
    "answers": ["accuracy", "accuracy_not_yes_no", "accuracy_yes_no", "citation_precision", "span_exactness"],
    "honesty": ["abstention", "false_refusal", "false_refusal_not_yes_no"],
}

Summaries = Mapping[str, Mapping[str, float]]  # split name -> summary


def _figure(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def summary_rows(summaries: Summaries) -> list[list[str]]:
    found = [["", "questions", *(f"{int(s['questions'])}" for s in summaries.values())]]
    for section, names in SECTIONS.items():
        found += [[section, name, *(_figure(s[name]) for s in summaries.values())] for name in names]
    for stage in STAGES:
        found.append(
            [
                "latency",
                f"{stage} p50 / p95 ms",
                *(f"{s[f'{stage}_p50_ms']:.1f} / {s[f'{stage}_p95_ms']:.1f}" for s in summaries.values()),
            ]
        )
    return found


def type_rows(rates: Mapping[str, Rate]) -> list[list[str]]:
    rows = []
    for kind, rate in rates.items():
        low, high = rate.interval
        measure = "abstention" if kind in ("unanswerable", "trap", "null_query") else "accuracy"
        rows.append([kind, measure, str(rate.n), _figure(rate.value), f"{_figure(low)}–{_figure(high)}"])
    return rows


def coverage_rows(points: Sequence[CoveragePoint], default: float) -> list[list[str]]:
    return [
        [
            f"{p.threshold:.2f}" + (" (default)" if math.isclose(p.threshold, default) else ""),
            _figure(p.coverage),
            _figure(p.answered_accuracy),
            _figure(p.accuracy),
            _figure(p.abstention),
            _figure(p.false_refusal),
        ]
        for p in points
    ]


SUMMARY_HEAD = ["", "metric"]
TYPE_HEAD = ["type", "measure", "n", "value", "95 % interval"]
COVERAGE_HEAD = ["threshold", "coverage", "accuracy of answered", "accuracy", "abstention", "false refusal"]


def table(head: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> Table:
    view = Table(title=title)
    for column in head:
        view.add_column(column)
    for row in rows:
        view.add_row(*row)
    return view


def markdown(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
