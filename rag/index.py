"""The on-disk index: a FAISS vector index plus a SQLite passage store, versioned and swapped atomically.

Layout of `index_dir`:

    CURRENT                 name of the live version, replaced with os.replace (atomic)
    versions/v000003/       one complete, immutable version: passages.faiss, store.sqlite, manifest.json
    versions/.tmp-*/        a version being written; never read, removed by the next writer

A writer copies the live version into a temporary folder, changes it, syncs it, renames it to the next
version and only then points CURRENT at it. A crash or kill at any moment leaves CURRENT on a complete
version, so readers never see a half-written index.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from rag.errors import BadRequest, NotFound, NotReady
from rag.lexical import LexicalIndex
from rag.models import Document, Passage, Span

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
    sentences TEXT NOT NULL, sentence_vectors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
"""

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


class Index:
    """A read-only, loaded version of the index; cheap to query from many threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = path.name
        self.manifest = json.loads((path / MANIFEST_FILE).read_text())
        self._vectors = faiss.read_index(str(path / FAISS_FILE))
        self.lexical = LexicalIndex.load(path)
        uri = f"file:{path / STORE_FILE}?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)

    @classmethod
    def open_current(cls, index_dir: Path) -> Index:
        version = read_current(index_dir)
        if version is None:
            raise NotReady(f"no index in {index_dir}: run `rag ingest PATH` first")
        return cls(index_dir / "versions" / version)

    @property
    def size(self) -> int:
        return int(self._vectors.ntotal)

    def close(self) -> None:
        self._db.close()

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
        rows = self._db.execute(
            f"SELECT id, chunk_id, doc_id, start, end, text, sentences FROM passages WHERE id IN ({marks})",
            list(row_ids),
        )
        return {row[0]: _passage(row[1:]) for row in rows}

    def all_passages(self) -> Iterator[tuple[int, Passage]]:
        rows = self._db.execute("SELECT id, chunk_id, doc_id, start, end, text, sentences FROM passages ORDER BY id")
        for row in rows:
            yield row[0], _passage(row[1:])

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.execute(
            f"SELECT chunk_id, sentence_vectors FROM passages WHERE chunk_id IN ({marks})", list(chunk_ids)
        )
        dim = int(self.manifest["dim"])
        return {cid: np.frombuffer(blob, dtype=np.float16).reshape(-1, dim).astype(np.float32) for cid, blob in rows}

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


def _passage(row: tuple) -> Passage:
    chunk_id, doc_id, start, end, text, sentences = row
    spans = tuple(Span(s, e) for s, e in json.loads(sentences))
    return Passage(chunk_id, doc_id, start, end, text, spans)


class IndexWriter:
    """Changes a private copy of the live version; `commit()` publishes it as the next version."""

    def __init__(self, index_dir: Path, dim: int, model: str, keep_versions: int = 2) -> None:
        self.index_dir = index_dir
        self.dim = dim
        self.model = model
        self.keep_versions = keep_versions
        versions = index_dir / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(versions)
        self.path = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
        self.previous = read_current(index_dir)
        self.version = self.previous
        self.changed = False
        if self.previous is not None:
            self._copy_from(versions / self.previous)
            self.vectors = faiss.read_index(str(self.path / FAISS_FILE))
        else:
            self.vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.db = sqlite3.connect(self.path / STORE_FILE)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)

    def _copy_from(self, source: Path) -> None:
        manifest = json.loads((source / MANIFEST_FILE).read_text())
        if manifest["dim"] != self.dim or manifest["model"] != self.model:
            raise BadRequest(
                f"the index in {self.index_dir} was built with {manifest['model']} ({manifest['dim']}-d); "
                f"re-ingest into a new RAG_INDEX_DIR to use {self.model}"
            )
        shutil.copy2(source / FAISS_FILE, self.path / FAISS_FILE)
        with sqlite3.connect(source / STORE_FILE) as src, sqlite3.connect(self.path / STORE_FILE) as dst:
            src.backup(dst)

    def hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, sha256 FROM documents").fetchall())

    def source_paths(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, source_path FROM documents").fetchall())

    def delete(self, doc_id: str) -> bool:
        ids = [row[0] for row in self.db.execute("SELECT id FROM passages WHERE doc_id = ?", (doc_id,))]
        if ids:
            self.vectors.remove_ids(np.array(ids, dtype=np.int64))  # type: ignore[arg-type]  # SWIG accepts arrays
        deleted = self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount > 0
        self.db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        self.changed = self.changed or deleted
        return deleted

    def put(
        self,
        document: Document,
        passages: Sequence[Passage],
        passage_vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray],
    ) -> None:
        """Insert or replace one document with its passages and vectors."""
        self.delete(document.doc_id)
        self.changed = True
        d = document
        self.db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                d.doc_id,
                d.title,
                d.source_path,
                d.sha256,
                d.length,
                d.place,
                d.agency,
                d.author,
                d.date,
                d.url,
                d.source,
                d.text,
                len(passages),
            ),
        )
        ids = []
        for passage, vectors in zip(passages, sentence_vectors, strict=True):
            spans = json.dumps([[s.start, s.end] for s in passage.sentences])
            cursor = self.db.execute(
                "INSERT INTO passages (chunk_id, doc_id, start, end, text, sentences, sentence_vectors) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    passage.chunk_id,
                    passage.doc_id,
                    passage.start,
                    passage.end,
                    passage.text,
                    spans,
                    vectors.astype(np.float16).tobytes(),
                ),
            )
            ids.append(cursor.lastrowid)
        if ids:
            self.vectors.add_with_ids(passage_vectors.astype(np.float32), np.array(ids, dtype=np.int64))

    def commit(self) -> str:
        """Publish the changes as the next version and return its name."""
        self.db.commit()
        count = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        rows = self.db.execute("SELECT id, text FROM passages ORDER BY id").fetchall()
        self.db.close()
        faiss.write_index(self.vectors, str(self.path / FAISS_FILE))
        LexicalIndex.build(rows).save(self.path)
        manifest = {
            "dim": self.dim,
            "model": self.model,
            "documents": count,
            "passages": int(self.vectors.ntotal),
            "created": time.time(),
        }
        (self.path / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
        _fsync_tree(self.path)
        version = _next_version(self.index_dir / "versions")
        final = self.index_dir / "versions" / version
        os.replace(self.path, final)
        _write_atomically(self.index_dir / "CURRENT", version + "\n")
        _prune_versions(self.index_dir / "versions", self.keep_versions)
        self.version = version
        log.info("published index version %s (%d documents, %d passages)", version, count, manifest["passages"])
        return version

    def abort(self) -> None:
        self.db.close()
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def writing(index_dir: Path, dim: int, model: str, keep_versions: int = 2) -> Iterator[IndexWriter]:
    """Hold the index's write lock while changing a copy; publish on success, discard on error."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadRequest(f"another ingest is writing to {index_dir}; try again when it ends") from None
        writer = IndexWriter(index_dir, dim, model, keep_versions)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        if writer.changed or writer.previous is None:
            writer.commit()
        else:
            writer.abort()  # nothing changed: keep the live version, publish nothing


def _next_version(versions: Path) -> str:
    numbers = [int(p.name[1:]) for p in versions.glob("v[0-9]*") if p.name[1:].isdigit()]
    return f"v{max(numbers, default=0) + 1:06d}"


def _write_atomically(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir():
            _fsync_tree(child)
            continue
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(versions: Path) -> None:
    """Folders left by a writer that was killed; safe to drop because we hold the write lock."""
    for stale in versions.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _prune_versions(versions: Path, keep: int) -> None:
    names = sorted(p.name for p in versions.glob("v[0-9]*"))
    for name in names[:-keep]:
        shutil.rmtree(versions / name, ignore_errors=True)
