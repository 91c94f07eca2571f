"""The evaluator on the dev question set, through the real service: quality may not fall below the floors.

Reached when the floors were set (bundled corpus, extractive backend, hybrid retrieval): accuracy 1.00,
abstention 1.00, false refusals 0.00, evidence recall@5 1.00, citation precision 0.59, span exactness 1.00.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer import create_backend
from rag.config import PROJECT_ROOT, Settings
from rag.embeddings import SentenceTransformerEmbedder
from rag.evaluation import runner
from rag.service import RagService
from tests.support import run_sync

FLOORS = {
    "accuracy": 0.9,
    "abstention": 0.9,
    "evidence_recall@5": 0.9,
    "doc_recall@5": 0.9,
    "citation_precision": 0.5,
    "span_exactness": 1.0,
}
CEILINGS = {"false_refusal": 0.05}


@pytest.fixture(scope="module")
def summary(settings: Settings, embedder: SentenceTransformerEmbedder) -> dict[str, float]:
    service = RagService(settings, embedder, create_backend(settings, embedder))
    items = runner.load_questions(Path(PROJECT_ROOT / "tests/data/dev_qa.json"))
    return runner.summarise(run_sync(runner.run(service, items)))


@pytest.mark.parametrize(("metric", "floor"), FLOORS.items())
def test_metric_stays_above_its_floor(summary: dict[str, float], metric: str, floor: float) -> None:
    assert summary[metric] >= floor, f"{metric} = {summary[metric]:.3f}, floor {floor}"


@pytest.mark.parametrize(("metric", "ceiling"), CEILINGS.items())
def test_metric_stays_below_its_ceiling(summary: dict[str, float], metric: str, ceiling: float) -> None:
    assert summary[metric] <= ceiling, f"{metric} = {summary[metric]:.3f}, ceiling {ceiling}"


def test_the_cli_prints_the_table(built_index: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "eval.json"
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", str(PROJECT_ROOT / "tests/data/dev_qa.json"), "--json", str(out)],
        env={**os.environ, "RAG_INDEX_DIR": str(built_index), "RAG_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    assert "evidence_recall@5" in result.stdout and "abstention" in result.stdout
    assert json.loads(out.read_text())["questions"] == 16
