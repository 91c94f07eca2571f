"""Reading a version: its live segments, searched as one index with rows numbered across them.

A version names its segments and, for each, the documents deleted from it since it was written (a document
that was replaced lives on in a newer segment). Deleted rows are masked out of every search. Segments never
change, so a reader that moves to a newer version keeps the segments it already has open.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import NotFound, NotReady
from rag.models import Document, Passage
from rag.store.layout import (
    CURRENT,
    SEGMENT_MANIFEST,
    SEGMENTS,
    VERSIONS,
    check_sizes,
    number,
    old_layout,
    read_current,
    short,
    version_file,
    version_names,
)
from rag.store.lexical import Lexical
from rag.store.segment import DocumentInfo, Segment


class IndexDamaged(NotReady):
    """A version on disk that cannot be read whole (truncated, corrupt, or missing files)."""


log = logging.getLogger(__name__)
READ_ERRORS = (OSError, RuntimeError, ValueError, KeyError, sqlite3.DatabaseError)


class Index:
    """A read-only, loaded version of the index; cheap to query from many threads."""

    def __init__(
        self, index_dir: Path, version: str, reuse: Mapping[str, Segment] | None = None, ef_search: int = 256
    ) -> None:
        self.path = index_dir
        self.version = version
        reuse = reuse or {}
        try:
            self.manifest = json.loads(version_file(index_dir, version).read_text())
            entries = self.manifest["segments"]
            self.segments = [
                reuse.get(e["name"]) or Segment(index_dir / SEGMENTS / e["name"], ef_search) for e in entries
            ]
        except READ_ERRORS as error:
            raise IndexDamaged(f"index version {version} cannot be read: {short(error)}") from error
        self._deleted = [frozenset(e.get("deleted", ())) for e in entries]
        self._alive = [
            ~segment.rows_of(deleted) if deleted else None
            for segment, deleted in zip(self.segments, self._deleted, strict=True)
        ]
        self._bases = np.cumsum([0] + [len(s) for s in self.segments])
        self.rows = int(self._bases[-1])
        self.size = sum(len(s) if a is None else int(a.sum()) for s, a in zip(self.segments, self._alive, strict=True))
        if self.size != self.manifest.get("passages", self.size):
            raise IndexDamaged(
                f"index version {version} is inconsistent: {self.size} passages in its segments, "
                f"{self.manifest.get('passages')} in its manifest"
            )
        self.lexical = Lexical([s.lexical for s in self.segments], [int(b) for b in self._bases[:-1]], self._alive)

    @classmethod
    def open_current(cls, index_dir: Path, reuse: Index | None = None, ef_search: int = 256) -> Index:
        """The live version; if it is damaged, say so in one line and open the newest older version that is whole."""
        version = read_current(index_dir)
        if version is None:
            raise no_index(index_dir)
        try:
            return cls._open_newest(index_dir, version, reuse, ef_search)
        except IndexDamaged:
            if read_current(index_dir) == version:
                raise
            # A writer published and pruned while this version was being opened: open the new one.
            return cls._open_newest(index_dir, str(read_current(index_dir)), reuse, ef_search)

    @classmethod
    def _open_newest(cls, index_dir: Path, version: str, reuse: Index | None, ef_search: int) -> Index:
        damage: IndexDamaged | None = None
        segments = {s.name: s for s in reuse.segments} if reuse else None
        for name in newest_first(index_dir, version):
            try:
                index = cls(index_dir, name, segments, ef_search)
            except IndexDamaged as error:
                log.error("%s; trying the previous version", error.message)
                damage = damage or error
                continue
            if name != version:
                log.error("answering from index version %s: the live version %s is damaged", name, version)
            return index
        assert damage is not None
        raise damage

    # -- search ----------------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Row ids and inner-product scores of the `k` nearest passages (among `allowed`), best first."""
        if self.size == 0 or (allowed is not None and not allowed.any()):
            return []
        query = np.asarray(query, dtype=np.float32)
        found: list[tuple[int, float]] = []
        for i, segment in enumerate(self.segments):
            mask = self._segment_mask(i, allowed)
            if mask is not None and not mask.any():
                continue
            rows, scores = segment.dense.search(query, k, mask)
            base = int(self._bases[i])
            found.extend((base + int(r), float(s)) for r, s in zip(rows, scores, strict=True))
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found[:k]

    def _segment_mask(self, i: int, allowed: np.ndarray | None) -> np.ndarray | None:
        if allowed is None:
            return self._alive[i]
        return allowed[self._bases[i] : self._bases[i + 1]]

    def alive(self) -> np.ndarray:
        """Mask over every row of the version: False for rows of deleted documents."""
        return np.concatenate(
            [np.ones(len(s), dtype=bool) if a is None else a for s, a in zip(self.segments, self._alive, strict=True)]
            or [np.zeros(0, dtype=bool)]
        )

    def vector(self, row: int) -> np.ndarray:
        segment, local = self._locate(row)
        return np.asarray(segment.dense.vectors[local], dtype=np.float32)

    def similarity(self, query: np.ndarray, row_ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of the query to given passages (for passages found only lexically)."""
        return {row: float(self.vector(row) @ query) for row in row_ids}

    def rows_where(
        self,
        doc_ids: Sequence[str] = (),
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> np.ndarray:
        """Mask of the live rows whose documents match every given filter (dates compare as ISO strings)."""
        return self._mask(lambda s: s.rows_where(doc_ids, source, date_from, date_to))

    def rows_published_by(self, publisher: str, within: np.ndarray | None = None) -> np.ndarray:
        """Mask of the live rows of documents whose source or agency is `publisher` (and in `within`)."""
        rows = self._mask(lambda s: s.rows_published_by(publisher))
        return rows if within is None else rows & within

    def _mask(self, per_segment) -> np.ndarray:  # type: ignore[no-untyped-def]
        parts = []
        for segment, alive in zip(self.segments, self._alive, strict=True):
            mask = per_segment(segment)
            parts.append(mask if alive is None else mask & alive)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    @cached_property
    def publishers(self) -> tuple[str, ...]:
        """The distinct publishers and agencies of the live documents (read once: a version never changes)."""
        names: set[str] = set()
        for segment, deleted in zip(self.segments, self._deleted, strict=True):
            if deleted:
                names |= segment.publishers_of(~segment.documents_among(deleted))
            else:
                names |= segment.publishers
        return tuple(sorted(names))

    # -- rows and documents ----------------------------------------------------------------------

    def passages(self, row_ids: Sequence[int]) -> dict[int, Passage]:
        by_segment: dict[int, list[int]] = {}
        for row in row_ids:
            i = self._segment_of(row)
            by_segment.setdefault(i, []).append(row - int(self._bases[i]))
        found: dict[int, Passage] = {}
        for i, local in by_segment.items():
            base = int(self._bases[i])
            found.update({base + r: p for r, p in self.segments[i].passages(local).items()})
        return found

    def all_passages(self) -> Iterator[tuple[int, Passage]]:
        for i, (segment, alive) in enumerate(zip(self.segments, self._alive, strict=True)):
            base = int(self._bases[i])
            for row, passage in segment.all_passages():
                if alive is None or alive[row]:
                    yield base + row, passage

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for segment, alive in zip(reversed(self.segments), reversed(self._alive), strict=True):
            wanted = [c for c in chunk_ids if c not in found]
            if not wanted:
                break
            for row, chunk_id, vectors in segment.sentence_vectors(wanted):
                if alive is None or alive[row]:
                    found[chunk_id] = vectors
        return found

    def documents(self) -> list[DocumentInfo]:
        found: dict[str, DocumentInfo] = {}
        for segment, deleted in zip(self.segments, self._deleted, strict=True):
            found.update((d.doc_id, d) for d in segment.document_infos() if d.doc_id not in deleted)
        return [found[d] for d in sorted(found)]

    def document(self, doc_id: str) -> Document:
        for segment, deleted in self._holders(doc_id):
            document = segment.document(doc_id)
            if document is not None and doc_id not in deleted:
                return document
        raise NotFound(f"unknown document {doc_id!r}")

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for segment, deleted in zip(reversed(self.segments), reversed(self._deleted), strict=True):
            wanted = [d for d in doc_ids if d not in found and d not in deleted and d in segment.doc_position]
            if wanted:
                found.update(segment.titles(wanted))
        return found

    def _holders(self, doc_id: str) -> Iterator[tuple[Segment, frozenset[str]]]:
        for segment, deleted in zip(reversed(self.segments), reversed(self._deleted), strict=True):
            if doc_id in segment.doc_position:
                yield segment, deleted

    def _segment_of(self, row: int) -> int:
        return int(np.searchsorted(self._bases, row, side="right")) - 1

    def _locate(self, row: int) -> tuple[Segment, int]:
        i = self._segment_of(row)
        return self.segments[i], row - int(self._bases[i])


def no_index(index_dir: Path) -> NotReady:
    """The error for a folder with no readable version, saying what to run."""
    if old_layout(index_dir):
        return NotReady(
            f"the index in {index_dir} was written by an older newsrag (whole-copy versions): "
            "run `rag compact` once to convert it (nothing is embedded again)"
        )
    return NotReady(f"no index in {index_dir} yet: run `rag ingest PATH` first")


def live_manifest(index_dir: Path) -> dict:
    """The manifest of the newest whole version (its model and dimension), without loading it."""
    version = newest_whole_version(index_dir)
    if version is None and old_layout(index_dir):  # to be converted by the next writer: same model, same size
        old = index_dir / VERSIONS / (index_dir / CURRENT).read_text().strip()
        return dict(json.loads((old / "manifest.json").read_text()))
    if version is None:
        raise no_index(index_dir)
    return dict(json.loads(version_file(index_dir, version).read_text()))


def newest_whole_version(index_dir: Path) -> str | None:
    """CURRENT, or if its files are damaged the newest older version whose files are whole.

    Cheap checks only (the manifests parse, every segment file has the size it was written with); None when
    nothing was written yet.
    """
    current = read_current(index_dir)
    if current is None:
        return None
    for name in newest_first(index_dir, current):
        try:
            manifest = json.loads(version_file(index_dir, name).read_text())
            for entry in manifest["segments"]:
                folder = index_dir / SEGMENTS / entry["name"]
                check_sizes(folder, json.loads((folder / SEGMENT_MANIFEST).read_text())["files"])
        except (OSError, ValueError, KeyError) as error:
            log.error("index version %s is damaged (%s); writing on top of an older one", name, short(error))
            continue
        return name
    raise IndexDamaged(f"every index version in {index_dir} is damaged: re-ingest into a new RAG_INDEX_DIR")


def newest_first(index_dir: Path, current: str) -> list[str]:
    """The live version, then the older ones on disk, newest first: where a reader or writer falls back to."""
    older = [n for n in version_names(index_dir) if number(n) < number(current)]
    return [current, *reversed(older)]
