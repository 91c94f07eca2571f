"""A segment: an immutable batch of documents with their passages, vectors and BM25 postings.

    segment.json    counts, model and the size of every file (a truncated copy is caught on open)
    store.sqlite    documents, passages with their sentence spans, mentions and sentence vectors; BM25 terms
    vectors.npy     passage vectors (small segments) — or ann.faiss, an HNSW graph holding them (large ones)
    postings.npy, tfs.npy, lengths.npy    BM25 postings (see `rag.store.lexical`)
    row_doc.npy     for every passage row, the position of its document: filters are numpy, not SQL
    columns.npz     per document: doc_id, date, source, agency (what filters compare)

Rows are numbered 0..n-1 inside a segment; a version numbers them across its segments.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.models import Document, Mention, Passage, Span
from rag.store.dense import DenseSegment, write_vectors
from rag.store.layout import SEGMENT_MANIFEST, check_sizes, file_sizes, fsync_tree
from rag.store.lexical import LexicalSegment, Postings

STORE_FILE = "store.sqlite"
ROW_DOC_FILE = "row_doc.npy"
COLUMNS_FILE = "columns.npz"  # per document, in row_doc order: what filters read (without a SQL scan on open)
DOC_COLUMN_NAMES = ("doc_id", "date", "source", "agency")

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source_path TEXT NOT NULL, sha256 TEXT NOT NULL,
    length INTEGER NOT NULL, place TEXT, agency TEXT, author TEXT, date TEXT, url TEXT, source TEXT,
    passage_count INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL,
    sentences TEXT NOT NULL, sentence_vectors BLOB NOT NULL, mentions TEXT NOT NULL
);
"""
INDEXES = "CREATE INDEX passages_chunk ON passages(chunk_id); CREATE INDEX passages_doc ON passages(doc_id);"
PASSAGE_COLUMNS = "id, chunk_id, doc_id, start, end, text, sentences, mentions"
ALL_PASSAGE_FIELDS = "id, chunk_id, doc_id, start, end, text, sentences, sentence_vectors, mentions"
DOC_COLUMNS = "doc_id, title, source_path, sha256, place, agency, author, date, url, source"
# Every column of `documents`, the text last: SQLite reads a row's columns in order, so listing documents (or
# their hashes) never reads the texts in their overflow pages.
DOC_FIELDS = "doc_id, title, source_path, sha256, length, place, agency, author, date, url, source, passage_count, text"


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


PASSAGE_CACHE_ROWS = 4096  # per segment: ~1.5 KB a passage
SENTENCE_CACHE_ROWS = 1024  # per segment: ~9 KB of float32 vectors a passage


_ABSENT = object()


class ReadCache:
    """A bounded map of what a segment's SQLite file gave for each key.

    Segments never change, so nothing cached goes stale; the questions of a busy server keep reaching the same
    passages, and reading and parsing them was ~2 ms of a request. A key the segment does not hold is
    remembered too: an index asks each of its segments for chunk ids, and most segments have none of them.
    Full means emptied: simple, and safe for the server's threads (each dict operation is atomic).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[Any, Any] = {}

    def get_many(self, keys: Sequence[Any], read: Callable[[list[Any]], dict[Any, Any]]) -> dict[Any, Any]:
        missing = [key for key in keys if key not in self._items]
        if missing:
            fresh = read(missing)
            if len(self._items) + len(missing) > self.size:
                self._items.clear()
            self._items.update({key: fresh.get(key, _ABSENT) for key in missing})
        return {key: value for key in keys if (value := self._items.get(key, _ABSENT)) is not _ABSENT}


class Segment:
    """A segment opened for reading: memory-mapped arrays and a read-only SQLite connection."""

    def __init__(self, folder: Path, ef_search: int = 256) -> None:
        self.name = folder.name
        self.manifest = json.loads((folder / SEGMENT_MANIFEST).read_text())
        check_sizes(folder, self.manifest["files"])
        self.db = sqlite3.connect(f"file:{folder / STORE_FILE}?mode=ro", uri=True, check_same_thread=False)
        self._passages = ReadCache(PASSAGE_CACHE_ROWS)
        self._sentence_vectors = ReadCache(SENTENCE_CACHE_ROWS)
        self.dense = DenseSegment(folder, ef_search)
        self.lexical = LexicalSegment(folder, self.db)
        self.row_doc = np.load(folder / ROW_DOC_FILE)
        self.sentence_format = self.manifest.get("sentence_vectors", "fp16")  # fp16: written before int8
        if (folder / COLUMNS_FILE).exists():
            with np.load(folder / COLUMNS_FILE) as columns:
                doc_ids, dates, sources, agencies = (columns[name] for name in DOC_COLUMN_NAMES)
        else:  # a segment written before the columns file: read them from SQLite
            rows = self.db.execute("SELECT doc_id, date, source, agency FROM documents ORDER BY rowid").fetchall()
            doc_ids, dates, sources, agencies = (np.array([r[i] or "" for r in rows], dtype=str) for i in range(4))
        self.doc_ids = doc_ids.tolist()
        self.doc_position = {doc_id: i for i, doc_id in enumerate(self.doc_ids)}
        self._dates, self._sources, self._agencies = dates, sources, agencies
        if not len(self.row_doc) == len(self.dense) == len(self.lexical.lengths) == self.manifest["passages"]:
            raise ValueError(f"segment {self.name} is inconsistent: its row counts differ")

    def __len__(self) -> int:
        return len(self.row_doc)

    # -- masks over rows -------------------------------------------------------------------------

    def documents_among(self, doc_ids: Collection[str]) -> np.ndarray:
        """Mask over the segment's documents (in row_doc order): those in `doc_ids`."""
        wanted = np.zeros(len(self.doc_ids), dtype=bool)
        wanted[[self.doc_position[d] for d in doc_ids if d in self.doc_position]] = True
        return wanted

    def rows_of(self, doc_ids: Collection[str]) -> np.ndarray:
        """Mask of the rows of these documents."""
        return self.documents_among(doc_ids)[self.row_doc]

    def rows_where(
        self, doc_ids: Sequence[str], source: str | None, date_from: str | None, date_to: str | None
    ) -> np.ndarray:
        """Mask of the rows whose document matches every given filter (dates compare as ISO strings)."""
        docs = np.ones(len(self.doc_ids), dtype=bool)
        if doc_ids:
            docs &= self.documents_among(doc_ids)
        if source:
            docs &= self._sources == source
        if date_from:
            docs &= (self._dates != "") & (self._dates >= date_from)
        if date_to:
            docs &= (self._dates != "") & (self._dates <= date_to)
        return docs[self.row_doc]

    def rows_published_by(self, publisher: str) -> np.ndarray:
        return ((self._sources == publisher) | (self._agencies == publisher))[self.row_doc]

    @cached_property
    def publishers(self) -> frozenset[str]:
        return frozenset(str(p) for p in (*self._sources, *self._agencies) if p)

    def publishers_of(self, alive_docs: np.ndarray) -> set[str]:
        return {str(p) for p in (*self._sources[alive_docs], *self._agencies[alive_docs]) if p}

    # -- rows and documents ----------------------------------------------------------------------

    def passages(self, rows: Sequence[int]) -> dict[int, Passage]:
        return self._passages.get_many(rows, self._read_passages)

    def _read_passages(self, rows: list[int]) -> dict[int, Passage]:
        marks = ",".join("?" * len(rows))
        found = self.db.execute(f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", rows)
        return {row[0]: _passage(row[1:]) for row in found}

    def all_passages(self) -> Iterator[tuple[int, Passage]]:
        for row in self.db.execute(f"SELECT {PASSAGE_COLUMNS} FROM passages ORDER BY id"):
            yield row[0], _passage(row[1:])

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> Iterator[tuple[int, str, np.ndarray]]:
        for chunk_id, (row, vectors) in self._sentence_vectors.get_many(chunk_ids, self._read_vectors).items():
            yield row, chunk_id, vectors

    def _read_vectors(self, chunk_ids: list[str]) -> dict[str, tuple[int, np.ndarray]]:
        marks = ",".join("?" * len(chunk_ids))
        dim = int(self.manifest["dim"])
        query = f"SELECT id, chunk_id, sentence_vectors FROM passages WHERE chunk_id IN ({marks})"
        found = {}
        for row, chunk_id, blob in self.db.execute(query, chunk_ids):
            vectors = unpack_sentence_vectors(blob, dim, self.sentence_format)
            vectors.setflags(write=False)  # shared by every request through the cache
            found[chunk_id] = (row, vectors)
        return found

    def document_infos(self) -> Iterator[DocumentInfo]:
        for row in self.db.execute(f"SELECT {DOC_COLUMNS}, length, passage_count FROM documents"):
            yield DocumentInfo(*row)

    def document(self, doc_id: str) -> Document | None:
        row = self.db.execute(f"SELECT {DOC_COLUMNS}, text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        (doc_id, title, source_path, sha256, place, agency, author, date, url, source, text) = row
        return Document(doc_id, text, title, source_path, sha256, place, agency, author, date, url, source)

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        marks = ",".join("?" * len(doc_ids))
        return dict(self.db.execute(f"SELECT doc_id, title FROM documents WHERE doc_id IN ({marks})", list(doc_ids)))

    def hashes(self) -> Iterator[tuple[str, str, str]]:
        """(doc_id, sha256, source_path) of every document in the segment."""
        yield from self.db.execute("SELECT doc_id, sha256, source_path FROM documents")

    def close(self) -> None:
        self.db.close()


# -- writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One document with everything the writer was given for it."""

    document: Document
    passages: Sequence[Passage]
    passage_vectors: np.ndarray
    sentence_vectors: Sequence[np.ndarray]


def write_segment(folder: Path, batches: Sequence[Batch], dim: int, model: str, ann_min_rows: int) -> dict:
    """Write new documents as a segment into `folder` (tokenising each passage once) and sync it."""
    doc_rows = [_document_row(b.document, len(b.passages)) for b in batches]
    passage_rows: list[tuple] = []
    row_doc: list[int] = []
    for position, batch in enumerate(batches):
        for passage, vectors in zip(batch.passages, batch.sentence_vectors, strict=True):
            passage_rows.append(_passage_row(len(passage_rows), passage, vectors))
            row_doc.append(position)
    blocks = [b.passage_vectors for b in batches if len(b.passages)]
    matrix = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
    postings = Postings.of_texts([row[5] for row in passage_rows])
    return write_rows(folder, dim, model, doc_rows, passage_rows, matrix, postings, np.array(row_doc), ann_min_rows)


def merge_segments(
    folder: Path, parts: Sequence[tuple[Segment, frozenset[str]]], dim: int, model: str, ann_min_rows: int
) -> dict:
    """Write the live documents of several segments (`parts` pairs each with its deleted ids) as one segment.

    Rows keep their order; postings are renumbered, not rebuilt, so nothing is tokenised again.
    """
    doc_rows: list[tuple] = []
    passage_rows: list[tuple] = []
    row_doc: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    renumbering: list[tuple[LexicalSegment, np.ndarray]] = []
    for segment, deleted in parts:
        alive_docs = ~segment.documents_among(deleted)
        alive = alive_docs[segment.row_doc]
        doc_number = np.cumsum(alive_docs) - 1 + len(doc_rows)
        for row in segment.db.execute(f"SELECT {DOC_FIELDS} FROM documents ORDER BY rowid"):
            if alive_docs[segment.doc_position[row[0]]]:
                doc_rows.append(row)
        new_rows = np.full(len(segment), -1, dtype=np.int64)
        new_rows[alive] = np.arange(int(alive.sum())) + len(passage_rows)
        for row in segment.db.execute(f"SELECT {ALL_PASSAGE_FIELDS} FROM passages ORDER BY id"):
            if alive[row[0]]:
                blob = row[7] if segment.sentence_format == "int8" else repack(row[7], dim, segment.sentence_format)
                passage_rows.append((int(new_rows[row[0]]), *row[1:7], blob, row[8]))
        row_doc.append(doc_number[segment.row_doc[alive]])
        vectors.append(np.asarray(segment.dense.vectors[alive]))
        renumbering.append((segment.lexical, new_rows))
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
    postings = Postings.merged(renumbering)
    rows = np.concatenate(row_doc) if row_doc else np.zeros(0, np.int64)
    return write_rows(folder, dim, model, doc_rows, passage_rows, matrix, postings, rows, ann_min_rows)


def write_rows(
    folder: Path,
    dim: int,
    model: str,
    doc_rows: list[tuple],
    passage_rows: list[tuple],
    vectors: np.ndarray,
    postings: Postings,
    row_doc: np.ndarray,
    ann_min_rows: int,
) -> dict:
    db = sqlite3.connect(folder / STORE_FILE)
    db.executescript(SCHEMA)
    db.executemany(f"INSERT INTO documents ({DOC_FIELDS}) VALUES ({','.join('?' * 13)})", doc_rows)
    db.executemany(f"INSERT INTO passages ({ALL_PASSAGE_FIELDS}) VALUES ({','.join('?' * 9)})", passage_rows)
    postings.write(db, folder)
    db.executescript(INDEXES)
    db.commit()
    db.close()
    np.save(folder / ROW_DOC_FILE, row_doc.astype(np.int32))
    # doc_rows are in DOC_FIELDS order: doc_id 0, agency 6, date 8, source 10
    columns = {
        name: np.array([r[i] or "" for r in doc_rows], dtype=str)
        for name, i in zip(DOC_COLUMN_NAMES, (0, 8, 10, 6), strict=True)
    }
    np.savez(folder / COLUMNS_FILE, **columns)  # type: ignore[arg-type]  # numpy stubs: **arrays are fine
    write_vectors(folder, vectors, ann_min_rows)
    manifest = {
        "dim": dim,
        "model": model,
        "documents": len(doc_rows),
        "passages": len(passage_rows),
        "ann": "hnsw" if len(passage_rows) >= ann_min_rows else "flat",
        "sentence_vectors": "int8",
        "files": file_sizes(folder),
    }
    (folder / SEGMENT_MANIFEST).write_text(json.dumps(manifest, indent=1))
    fsync_tree(folder)
    return manifest


def _document_row(d: Document, passage_count: int) -> tuple:
    return (
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
        passage_count,
        d.text,
    )


def _passage_row(row: int, passage: Passage, sentence_vectors: np.ndarray) -> tuple:
    return (
        row,
        passage.chunk_id,
        passage.doc_id,
        passage.start,
        passage.end,
        passage.text,
        json.dumps([[s.start, s.end] for s in passage.sentences]),
        pack_sentence_vectors(sentence_vectors),
        json.dumps([[m.start, m.end, m.label] for m in passage.mentions]),
    )


INT8 = b"\x01"  # first byte of an int8 blob (a segment's manifest says which format its blobs are)


def pack_sentence_vectors(vectors: np.ndarray) -> bytes:
    """Sentence vectors as int8 with one float32 scale per sentence: half the bytes of fp16 (they were 58 % of
    the store), and every dot product within 0.0025 of fp16's on MiniLM vectors (cosine to fp16 >= 0.9999)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.size == 0:
        return INT8
    scales = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / 127
    codes = np.round(matrix / scales[:, None]).astype(np.int8)
    return INT8 + scales.astype(np.float32).tobytes() + codes.tobytes()


def unpack_sentence_vectors(blob: bytes, dim: int, form: str = "int8") -> np.ndarray:
    if form == "fp16":  # segments written before int8
        return np.frombuffer(blob, dtype=np.float16).reshape(-1, dim).astype(np.float32)
    count = (len(blob) - 1) // (dim + 4)
    if count == 0:
        return np.zeros((0, dim), dtype=np.float32)
    scales = np.frombuffer(blob, dtype=np.float32, count=count, offset=1)
    codes = np.frombuffer(blob, dtype=np.int8, offset=1 + 4 * count).reshape(count, dim)
    return codes.astype(np.float32) * scales[:, None]


def repack(blob: bytes, dim: int, form: str) -> bytes:
    """A sentence-vector blob of another format as int8."""
    return pack_sentence_vectors(unpack_sentence_vectors(blob, dim, form))


def _passage(row: tuple) -> Passage:
    chunk_id, doc_id, start, end, text, sentences, found = row
    spans = tuple(Span(s, e) for s, e in json.loads(sentences))
    return Passage(chunk_id, doc_id, start, end, text, spans, tuple(Mention(*m) for m in json.loads(found)))
