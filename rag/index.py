"""The on-disk index: a FAISS vector index plus a SQLite passage store, versioned and swapped atomically.

Layout of `index_dir`:

    CURRENT                 name of the live version, replaced with os.replace (atomic)
    versions/v000003/       one complete, immutable version: passages.faiss, store.sqlite, bm25/, manifest.json
    versions/.tmp-*/        a version being written; never read, removed by the next writer

This module reads; `rag.index_writer` publishes new versions atomically, so readers never see a
half-written index.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from rag.errors import NotFound, NotReady
from rag.lexical import LexicalIndex
from rag.models import Document, Mention, Passage, Span

log = logging.getLogger(__name__)

FAISS_FILE = "passages.faiss"
STORE_FILE = "store.sqlite"
MANIFEST_FILE = "manifest.json"

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source_path TEXT NOT NULL, sha256 TEXT NOT NULL,
    length INTEGER NOT NULL, place TEXT, agency TEXT, author TEXT, date TEXT, url TEXT, source TEXT,
    text TEXT NOT NULL, passage_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL,
    sentences TEXT NOT NULL, sentence_vectors BLOB NOT NULL, mentions TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
"""

MENTIONS_COLUMN = "mentions TEXT NOT NULL DEFAULT '[]'"
PASSAGE_COLUMNS = "id, chunk_id, doc_id, start, end, text, sentences, mentions"
DOC_COLUMNS = "doc_id, title, source_path, sha256, place, agency, author, date, url, source"


@dataclass(frozen=True)
class DocumentInfo:
    """A document's metadata without its text, as listed by `rag docs` and `GET /v1/documents`."""

    doc_id: str
    title: str
    source_path: str
    sha256: str
    place: str | None
    agency: str | None
    author: str | None
    date: str | None
    url: str | None
    source: str | None
    length: int
    passage_count: int


def read_current(index_dir: Path) -> str | None:
    """Name of the live version, or None when nothing has been written yet."""
    try:
        return (index_dir / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None


class IndexDamaged(NotReady):
    """A version on disk that cannot be read whole (truncated, corrupt, or missing files)."""


class Index:
    """A read-only, loaded version of the index; cheap to query from many threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = path.name
        try:
            self.manifest = json.loads((path / MANIFEST_FILE).read_text())
            _check_sizes(path, self.manifest)
            self._vectors = faiss.read_index(str(path / FAISS_FILE))
            self.lexical = LexicalIndex.load(path)
            uri = f"file:{path / STORE_FILE}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            stored = self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        except (OSError, RuntimeError, ValueError, KeyError, sqlite3.DatabaseError) as error:
            raise IndexDamaged(f"index version {path.name} cannot be read: {_short(error)}") from error
        if not stored == self.size == self.manifest.get("passages", self.size):
            raise IndexDamaged(
                f"index version {path.name} is inconsistent: {stored} passages stored, {self.size} vectors, "
                f"{self.manifest.get('passages')} in its manifest"
            )
        self._columns = PASSAGE_COLUMNS
        if not has_mentions(self._db):
            log.warning("index version %s has no entity mentions: re-ingest with --force for typed answers", path)
            self._columns = PASSAGE_COLUMNS.replace("mentions", "'[]'")

    @classmethod
    def open_current(cls, index_dir: Path) -> Index:
        """The live version; if it is damaged, say so in one line and open the newest older version that is whole."""
        version = read_current(index_dir)
        if version is None:
            raise NotReady(f"no index in {index_dir}: run `rag ingest PATH` first")
        damage: IndexDamaged | None = None
        for name in _newest_first(index_dir, version):
            try:
                index = cls(index_dir / "versions" / name)
            except IndexDamaged as error:
                log.error("%s; trying the previous version", error.message)
                damage = damage or error
                continue
            if name != version:
                log.error("answering from index version %s: the live version %s is damaged", name, version)
            return index
        assert damage is not None
        raise damage

    @property
    def size(self) -> int:
        return int(self._vectors.ntotal)

    def search(self, query: np.ndarray, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Row ids and inner-product scores of the `k` nearest passages (among `allowed`), best first."""
        if self.size == 0 or (allowed is not None and not allowed):
            return []
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        vector = query.reshape(1, -1).astype(np.float32)
        scores, ids = self._vectors.search(vector, min(k, self.size), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vector(self, row_id: int) -> np.ndarray:
        return np.asarray(self._vectors.reconstruct(row_id), dtype=np.float32)

    def similarity(self, query: np.ndarray, row_ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of the query to given passages (for passages found only lexically)."""
        return {row: float(self.vector(row) @ query) for row in row_ids}

    def rows_where(
        self,
        doc_ids: Sequence[str] = (),
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> set[int]:
        """Passage row ids of documents matching every given filter (dates compare as ISO strings)."""
        clauses: list[str] = []
        values: list[str] = []
        if doc_ids:
            clauses.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})")
            values.extend(doc_ids)
        if source:
            clauses.append("d.source = ?")
            values.append(source)
        if date_from:
            clauses.append("d.date >= ?")
            values.append(date_from)
        if date_to:
            clauses.append("d.date <= ?")
            values.append(date_to)
        where = " AND ".join(clauses) or "1"
        query = f"SELECT p.id FROM passages p JOIN documents d ON d.doc_id = p.doc_id WHERE {where}"
        return {row[0] for row in self._db.execute(query, values)}

    def passages(self, row_ids: Sequence[int]) -> dict[int, Passage]:
        marks = ",".join("?" * len(row_ids))
        rows = self._db.execute(f"SELECT {self._columns} FROM passages WHERE id IN ({marks})", list(row_ids))
        return {row[0]: _passage(row[1:]) for row in rows}

    def all_passages(self) -> Iterator[tuple[int, Passage]]:
        rows = self._db.execute(f"SELECT {self._columns} FROM passages ORDER BY id")
        for row in rows:
            yield row[0], _passage(row[1:])

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.execute(
            f"SELECT chunk_id, sentence_vectors FROM passages WHERE chunk_id IN ({marks})", list(chunk_ids)
        )
        dim = int(self.manifest["dim"])
        return {cid: np.frombuffer(blob, dtype=np.float16).reshape(-1, dim).astype(np.float32) for cid, blob in rows}

    @cached_property
    def publishers(self) -> tuple[str, ...]:
        """The distinct publishers and agencies of the documents (read once: a version never changes)."""
        rows = self._db.execute(
            "SELECT source FROM documents WHERE source != '' UNION SELECT agency FROM documents WHERE agency != ''"
        )
        return tuple(row[0] for row in rows)

    def rows_published_by(self, publisher: str) -> set[int]:
        """Passage row ids of documents whose source or agency is `publisher`."""
        query = "SELECT p.id FROM passages p JOIN documents d ON d.doc_id = p.doc_id WHERE d.source = ? OR d.agency = ?"
        return {row[0] for row in self._db.execute(query, (publisher, publisher))}

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        marks = ",".join("?" * len(doc_ids))
        rows = self._db.execute(f"SELECT doc_id, title FROM documents WHERE doc_id IN ({marks})", list(doc_ids))
        return dict(rows.fetchall())

    def documents(self) -> list[DocumentInfo]:
        rows = self._db.execute(f"SELECT {DOC_COLUMNS}, length, passage_count FROM documents ORDER BY doc_id")
        return [DocumentInfo(*row) for row in rows]

    def document(self, doc_id: str) -> Document:
        row = self._db.execute(f"SELECT {DOC_COLUMNS}, text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"unknown document {doc_id!r}")
        (doc_id, title, source_path, sha256, place, agency, author, date, url, source, text) = row
        return Document(doc_id, text, title, source_path, sha256, place, agency, author, date, url, source)


def live_manifest(index_dir: Path) -> dict:
    """The manifest of the newest whole version (its model and dimension), without loading the version."""
    version = newest_whole_version(index_dir)
    if version is None:
        raise NotReady(f"no index in {index_dir}: run `rag ingest PATH` first")
    return dict(json.loads((index_dir / "versions" / version / MANIFEST_FILE).read_text()))


def newest_whole_version(index_dir: Path) -> str | None:
    """CURRENT, or if its files are damaged the newest older version whose files are whole.

    Cheap checks only (the manifest parses, every file has the size it was written with); None when nothing
    was written yet.
    """
    current = read_current(index_dir)
    if current is None:
        return None
    versions = index_dir / "versions"
    for name in _newest_first(index_dir, current):
        try:
            _check_sizes(versions / name, json.loads((versions / name / MANIFEST_FILE).read_text()))
        except (OSError, ValueError) as error:
            log.error("index version %s is damaged (%s); writing on top of an older one", name, _short(error))
            continue
        return name
    raise IndexDamaged(f"every index version in {index_dir} is damaged: re-ingest into a new RAG_INDEX_DIR")


def file_sizes(path: Path) -> dict[str, int]:
    """Size of every file of a version, recorded in its manifest so a truncated copy is caught on open."""
    return {str(f.relative_to(path)): f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}


def _newest_first(index_dir: Path, current: str) -> list[str]:
    """The live version, then the older ones on disk, newest first: where a reader or writer falls back to."""
    older = (p.name for p in (index_dir / "versions").glob("v[0-9]*") if p.name < current)
    return [current, *sorted(older, reverse=True)]


def _check_sizes(path: Path, manifest: dict) -> None:
    for name, size in manifest.get("files", {}).items():
        found = (path / name).stat().st_size  # a missing file raises FileNotFoundError: damaged
        if found != size:
            raise ValueError(f"{name} is {found} bytes, {size} were written")


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def has_mentions(db: sqlite3.Connection) -> bool:
    return any(row[1] == "mentions" for row in db.execute("PRAGMA table_info(passages)"))


def _passage(row: tuple) -> Passage:
    chunk_id, doc_id, start, end, text, sentences, found = row
    spans = tuple(Span(s, e) for s, e in json.loads(sentences))
    return Passage(chunk_id, doc_id, start, end, text, spans, tuple(Mention(*m) for m in json.loads(found)))
