"""Writing the index: change a private copy of the live version, then publish it atomically.

A writer copies the live version into a temporary folder, changes it, syncs it, renames it to the next
version and only then points CURRENT at it (see `rag.index` for the layout). A crash or kill at any
moment leaves CURRENT on a complete version; the next writer removes what a killed one left behind.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import faiss
import numpy as np

from rag.errors import BadRequest, Conflict
from rag.index import (
    FAISS_FILE,
    MANIFEST_FILE,
    MENTIONS_COLUMN,
    SCHEMA,
    STORE_FILE,
    file_sizes,
    has_mentions,
    newest_whole_version,
)
from rag.lexical import LexicalIndex
from rag.models import Document, Passage

log = logging.getLogger(__name__)


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
        self.previous = newest_whole_version(index_dir)  # never build on a damaged version
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
        if not has_mentions(self.db):  # a version written before mentions were stored
            self.db.execute(f"ALTER TABLE passages ADD COLUMN {MENTIONS_COLUMN}")

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
            found = json.dumps([[m.start, m.end, m.label] for m in passage.mentions])
            cursor = self.db.execute(
                "INSERT INTO passages (chunk_id, doc_id, start, end, text, sentences, sentence_vectors, mentions) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    passage.chunk_id,
                    passage.doc_id,
                    passage.start,
                    passage.end,
                    passage.text,
                    spans,
                    vectors.astype(np.float16).tobytes(),
                    found,
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
            "files": file_sizes(self.path),
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
def writing(
    index_dir: Path,
    dim: int,
    model: str,
    keep_versions: int = 2,
    wait: float = 0.0,
    give_up: Callable[[], bool] = lambda: False,
) -> Iterator[IndexWriter]:
    """Hold the index's write lock while changing a copy; publish on success, discard on error.

    With `wait`, wait up to that many seconds for another writer to finish (or until `give_up()` says so)
    before giving up with a Conflict.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as lock:
        _lock(lock, index_dir, wait, give_up)
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


def _lock(lock: IO[str], index_dir: Path, wait: float, give_up: Callable[[], bool]) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline or give_up():
                raise Conflict(f"another ingest is writing to {index_dir}; try again when it ends") from None
            time.sleep(0.2)


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
