"""Retrieval: embed the query and find the nearest passages in the loaded index."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rag.embeddings import Embedder
from rag.index import Index
from rag.models import Hit


@dataclass(frozen=True)
class Retrieved:
    query_vector: np.ndarray
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


def retrieve(index: Index, embedder: Embedder, query: str, k: int) -> Retrieved:
    """The `k` best passages for `query`, best first, with per-stage timings."""
    started = time.perf_counter()
    vector = embedder.encode_queries([query])[0]
    embedded = time.perf_counter()
    ranked = index.search(vector, k)
    passages = index.passages([row for row, _ in ranked])
    titles = index.titles(sorted({p.doc_id for p in passages.values()}))
    hits = tuple(
        Hit(passages[row], score, titles.get(passages[row].doc_id, "")) for row, score in ranked if row in passages
    )
    done = time.perf_counter()
    timings = {"embed": (embedded - started) * 1000, "search": (done - embedded) * 1000}
    return Retrieved(vector, hits, timings)
