"""Retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank fusion, with filters.

Fusion decides the *order*; every hit's score stays the cosine similarity of its passage to the question,
so the answer step's evidence threshold means the same whichever retrievers found the passage.
Optional steps, measured in `bench/quality.py`: sentence re-scoring and MMR diversity.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from rag.config import Settings
from rag.embeddings import Embedder
from rag.models import Hit
from rag.store import Reader, Selection


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to documents by id, source, or ISO date range (where documents have them)."""

    doc_ids: tuple[str, ...] = ()
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.source or self.date_from or self.date_to)


@dataclass(frozen=True)
class Retrieved:
    query_vector: np.ndarray
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


def retrieve(
    index: Reader,
    embedder: Embedder,
    query: str,
    k: int,
    settings: Settings,
    filters: Filters | None = None,
    vector: np.ndarray | None = None,
) -> Retrieved:
    """The `k` best passages for `query`, best first, with per-stage timings.

    A question that names publishers or agencies of the index ("according to TechCrunch and The Verge",
    "the Tasnim report") is also searched within each of them, so every named source contributes its best
    passages. Pass `vector` when the query is already embedded (the server embeds concurrent questions together).
    """
    started = time.perf_counter()
    vector = embedder.encode_queries([query])[0] if vector is None else vector
    embedded = time.perf_counter()
    allowed = index.rows_where(filters.doc_ids, filters.source, filters.date_from, filters.date_to) if filters else None
    pool = max(settings.candidates, k)
    cosine: dict[int, float] = {}
    order = _ranked(index, vector, query, pool, settings, allowed, cosine)
    named = [] if filters and filters.source else mentioned_publishers(index, query)
    if named:
        per_source = [
            _ranked(index, vector, query, pool, settings, index.rows_published_by(name, allowed), cosine)
            for name in named
        ]
        interleaved = [row for group in zip_longest(*per_source) for row in group if row is not None]
        order = list(dict.fromkeys(interleaved[: max(k, len(named))] + order))
    searched = time.perf_counter()
    if settings.sentence_rescore:
        order = rescore(index, vector, order[:pool], cosine)
    if settings.mmr_lambda < 1.0:
        order = mmr(index, vector, order[:pool], k, settings.mmr_lambda)
    chosen = order[:k]
    passages = index.passages(chosen)
    titles = index.titles(sorted({p.doc_id for p in passages.values()}))
    hits = tuple(Hit(passages[row], cosine[row], titles.get(passages[row].doc_id, "")) for row in chosen)
    done = time.perf_counter()
    timings = {
        "embed": (embedded - started) * 1000,
        "search": (searched - embedded) * 1000,
        "fuse": (done - searched) * 1000,
    }
    return Retrieved(vector, hits, timings)


def _ranked(
    index: Reader,
    vector: np.ndarray,
    query: str,
    pool: int,
    settings: Settings,
    allowed: Selection | None,
    cosine: dict[int, float],
) -> list[int]:
    """Dense and lexical candidates fused into one order; fills `cosine` for every candidate."""
    dense = index.search(vector, pool, allowed) if settings.retrieval != "lexical" else []
    lexical = index.lexical.search(query, pool, allowed) if settings.retrieval != "dense" and index.lexical else []
    cosine.update(dense)
    cosine.update(index.similarity(vector, [row for row, _ in lexical if row not in cosine]))
    if settings.fusion == "relative":
        return fuse_scores(dense, lexical, settings)
    return fuse([row for row, _ in dense], [row for row, _ in lexical], settings)


def mentioned_publishers(index: Reader, query: str) -> list[str]:
    """Publishers and agencies of the index named in the query, as whole words ("The Verge", "Tasnim")."""
    return [name for name in index.publishers if _names_publisher(query, name)]


# A source the question cites by name: "a Bloomberg article", "a Reuters report", "as reported by Reuters". Only
# words that mean a piece of news: "a Taylor Swift interview" or "a Department of Justice investigation" are
# about their subject.
_NAME = r"[A-Z][\w&.'’-]*(?:\s+(?:[A-Z][\w&.'’-]*|and|&|\||-))*"
CITED_SOURCE = re.compile(
    r"\ban?\s+['\"‘“]?(" + _NAME + r")['\"’”]?\s+(?:article|report|piece|story|editorial|op-ed)s?\b"
    r"|\b(?:reported|published) by ['\"‘“]?(?:the\s+)?(" + _NAME + r")"
)


def unknown_publishers(index: Reader, query: str) -> list[str]:
    """Sources the query cites that no document of the index comes from ("a Bloomberg article" in a corpus
    with no Bloomberg document): what such an article says, the corpus cannot say.

    Empty when the index knows no publisher at all: then any document may be from anyone.
    """
    known = index.publishers
    if not known:
        return []
    rest = query
    for name in sorted(known, key=len, reverse=True):
        if _names_publisher(rest, name):
            bare = " ".join(name.split()).removeprefix("The ").removeprefix("the ")
            # Blanked out, so "a TechCrunch article" is not taken for an unknown source.
            words = r"\s+".join(map(re.escape, bare.split()))
            rest = re.sub(r"(?<!\w)(?:the\s+)?" + words + r"(?!\w)", "\0", rest, flags=re.I)
    cited = (match.group(1) or match.group(2) for match in CITED_SOURCE.finditer(rest))
    # Not a possessive: "a Tesla's report" is about Tesla.
    return [name for name in cited if name and not name.endswith(("'s", "’s", "'", "’"))]


def _names_publisher(query: str, publisher: str | None) -> bool:
    """Whether the query names the publisher ("the Verge" for "The Verge"), as whole words."""
    bare = " ".join((publisher or "").lower().split()).removeprefix("the ")
    text = " ".join(query.lower().replace("’", "'").split())
    return len(bare) >= 3 and re.search(r"(?<!\w)" + re.escape(bare) + r"(?!\w)", text) is not None


def fuse(dense: list[int], lexical: list[int], settings: Settings) -> list[int]:
    """Reciprocal rank fusion: score = Σ weight / (rrf_k + rank); ties keep the dense order."""
    scores: dict[int, float] = {}
    for ranking, weight in ((dense, settings.dense_weight), (lexical, settings.lexical_weight)):
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (settings.rrf_k + rank)
    return sorted(scores, key=lambda row: scores[row], reverse=True)


def fuse_scores(dense: list[tuple[int, float]], lexical: list[tuple[int, float]], settings: Settings) -> list[int]:
    """Relative score fusion: each ranking's scores scaled to 0..1 over its candidates, then weighted and
    summed; unlike RRF it keeps how far ahead a passage is (one BM25 hit at three times the next one)."""
    scores: dict[int, float] = {}
    for ranking, weight in ((dense, settings.dense_weight), (lexical, settings.lexical_weight)):
        if not ranking:
            continue
        values = [score for _, score in ranking]
        low, high = min(values), max(values)
        for row, score in ranking:
            scaled = (score - low) / (high - low) if high > low else 1.0
            scores[row] = scores.get(row, 0.0) + weight * scaled
    return sorted(scores, key=lambda row: scores[row], reverse=True)


def rescore(index: Reader, query: np.ndarray, rows: list[int], cosine: dict[int, float]) -> list[int]:
    """Order passages by their best sentence's similarity (averaged with the passage's own)."""
    passages = index.passages(rows)
    vectors = index.sentence_vectors([p.chunk_id for p in passages.values()])
    best = {row: float((vectors[p.chunk_id] @ query).max()) for row, p in passages.items() if p.chunk_id in vectors}
    return sorted(rows, key=lambda row: (best.get(row, 0.0) + cosine.get(row, 0.0)) / 2, reverse=True)


def mmr(index: Reader, query: np.ndarray, rows: list[int], k: int, trade_off: float) -> list[int]:
    """Maximal marginal relevance: prefer relevant passages unlike those already chosen."""
    vectors = {row: index.vector(row) for row in rows}
    chosen: list[int] = []
    remaining = list(rows)
    while remaining and len(chosen) < k:

        def gain(row: int) -> float:
            redundancy = max((float(vectors[row] @ vectors[c]) for c in chosen), default=0.0)
            return trade_off * float(vectors[row] @ query) - (1 - trade_off) * redundancy

        best = max(remaining, key=gain)
        chosen.append(best)
        remaining.remove(best)
    return chosen + remaining
