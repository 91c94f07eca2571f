"""What the rest of the service needs from a store, whichever one RAG_STORE names.

Rows are integers that mean something only within one opened version; a selection (the result of
`rows_where`, taken by the searches) is whatever the store filters with: a row mask for the segment store,
a filter expression for Milvus. Ingest, the answer layer and the API use only these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from rag.models import Document, Passage
from rag.store.segment import DocumentInfo

Selection = Any  # a numpy row mask (segment store) or a filter expression (Milvus)


class LexicalSearch(Protocol):
    def search(self, query: str, k: int, allowed: Selection | None = None) -> list[tuple[int, float]]: ...

    def unknown(self, terms: list[str]) -> list[str]: ...


class Reader(Protocol):
    version: str
    size: int
    manifest: dict

    @property
    def lexical(self) -> LexicalSearch: ...

    @property
    def publishers(self) -> tuple[str, ...]: ...

    def search(self, query: np.ndarray, k: int, allowed: Selection | None = None) -> list[tuple[int, float]]: ...

    def vector(self, row: int) -> np.ndarray: ...

    def similarity(self, query: np.ndarray, row_ids: Sequence[int]) -> dict[int, float]: ...

    def rows_where(
        self,
        doc_ids: Sequence[str] = (),
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Selection: ...

    def rows_published_by(self, publisher: str, within: Selection | None = None) -> Selection: ...

    def passages(self, row_ids: Sequence[int]) -> dict[int, Passage]: ...

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def documents(self) -> list[DocumentInfo]: ...

    def document(self, doc_id: str) -> Document: ...

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]: ...


class Writer(Protocol):
    version: str | None
    previous: str | None
    changed: bool
    bytes_written: int

    @property
    def segments(self) -> list[str]: ...

    def sha256_of(self, doc_id: str) -> str | None: ...

    def hashes(self) -> dict[str, str]: ...

    def source_paths(self) -> dict[str, str]: ...

    def delete(self, doc_id: str) -> bool: ...

    def put(
        self,
        document: Document,
        passages: Sequence[Passage],
        passage_vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray],
    ) -> None: ...

    def commit(self) -> str: ...

    def compact(self) -> str: ...

    def abort(self) -> None: ...
