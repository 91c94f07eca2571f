"""Lexical retrieval: a BM25 index (bm25s) over the passages of one index version, saved beside FAISS.

Rebuilt from the version's passages at every publish (about 0.1 s per 1,000 passages), so it is always
consistent with the vectors and needs no incremental bookkeeping of its own. Tokens are the same light-
stemmed content terms the answer step matches on, so "visited" finds "visit".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.terms import content_terms

log = logging.getLogger(__name__)

FOLDER = "bm25"
IDS_FILE = "row_ids.npy"


class LexicalIndex:
    def __init__(self, retriever: object, row_ids: np.ndarray) -> None:
        self._retriever = retriever
        self._row_ids = row_ids
        self._position = {int(row): i for i, row in enumerate(row_ids)}

    @classmethod
    def build(cls, rows: Sequence[tuple[int, str]]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25()
        # An empty token list would make bm25s drop the row and shift every position after it.
        tokens = [content_terms(text) or ["<empty>"] for _, text in rows]
        if rows:
            retriever.index(tokens, show_progress=False)
        return cls(retriever, np.array([row for row, _ in rows], dtype=np.int64))

    def save(self, version_dir: Path) -> None:
        folder = version_dir / FOLDER
        folder.mkdir(exist_ok=True)
        if len(self._row_ids):
            self._retriever.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        np.save(folder / IDS_FILE, self._row_ids)

    @classmethod
    def load(cls, version_dir: Path) -> LexicalIndex | None:
        folder = version_dir / FOLDER
        if not (folder / IDS_FILE).exists():
            log.warning("index version %s has no BM25 index: lexical retrieval is off until re-ingest", version_dir)
            return None
        import bm25s

        row_ids = np.load(folder / IDS_FILE)
        retriever = bm25s.BM25.load(str(folder), show_progress=False) if len(row_ids) else bm25s.BM25()
        return cls(retriever, row_ids)

    def unknown(self, terms: list[str]) -> list[str]:
        """The terms no indexed passage contains."""
        vocabulary = self._retriever.vocab_dict if len(self._row_ids) else {}  # type: ignore[attr-defined]
        return [t for t in terms if t not in vocabulary]

    def search(self, query: str, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Row ids and BM25 scores of the `k` best passages containing any query term, best first."""
        vocabulary = self._retriever.vocab_dict if len(self._row_ids) else {}  # type: ignore[attr-defined]
        tokens = [t for t in content_terms(query) if t in vocabulary]
        if not tokens:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self._row_ids), dtype=np.float32)
            mask[[self._position[row] for row in allowed if row in self._position]] = 1.0
        k = min(k, len(self._row_ids))
        positions, scores = self._retriever.retrieve(  # type: ignore[attr-defined]
            [tokens], k=k, show_progress=False, weight_mask=mask
        )
        return [(int(self._row_ids[p]), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if s > 0]
