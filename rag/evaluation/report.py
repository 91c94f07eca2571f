"""The evaluation summary as a rich table for the terminal, and as Markdown for the README."""

from __future__ import annotations

from rich.table import Table

from rag.evaluation.runner import STAGES

SECTIONS = {
    "retrieval": [
        "doc_recall@1",
        "doc_recall@3",
        "doc_recall@5",
        "doc_recall@10",
        "mrr",
        "evidence_recall@1",
        "evidence_recall@3",
        "evidence_recall@5",
        "evidence_recall@10",
    ],
    "answers": ["accuracy", "citation_precision", "span_exactness"],
    "honesty": ["abstention", "false_refusal"],
}


def rows(summary: dict[str, float]) -> list[tuple[str, str, str]]:
    found = [(section, name, f"{summary[name]:.3f}") for section, names in SECTIONS.items() for name in names]
    for stage in STAGES:
        found.append(
            ("latency", f"{stage} p50 / p95", f"{summary[f'{stage}_p50_ms']:.1f} / {summary[f'{stage}_p95_ms']:.1f} ms")
        )
    return found


def table(summary: dict[str, float], title: str) -> Table:
    view = Table(title=title)
    for column in ("", "metric", "value"):
        view.add_column(column)
    for section, name, value in rows(summary):
        view.add_row(section, name, value)
    return view


def markdown(summary: dict[str, float]) -> str:
    lines = ["| | metric | value |", "|---|---|---|"]
    lines += [f"| {section} | {name} | {value} |" for section, name, value in rows(summary)]
    return "\n".join(lines)
