"""Writing the index: new documents become a new segment, deletions are recorded, the version swaps atomically.

A write costs what it changes: the new documents' segment (written in a temporary folder, synced, then
renamed) and a new version file naming the live segments. CURRENT moves to it last, with os.replace, so a
crash or kill at any moment leaves CURRENT on a complete version; the next writer removes what a killed
one left behind. Small segments are merged once there are too many of them, by the writer after it has
published (never in a request), and `rag compact` merges everything into one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from rag.config import Settings
from rag.errors import BadRequest, Conflict
from rag.models import Document, Passage
from rag.store.index import newest_whole_version
from rag.store.layout import (
    CURRENT,
    SEGMENT_MANIFEST,
    SEGMENTS,
    VERSIONS,
    fsync_dir,
    next_name,
    number,
    read_current,
    version_file,
    version_names,
    write_atomically,
    write_json_atomically,
)
from rag.store.segment import STORE_FILE, Batch, Segment, merge_segments, write_segment
from rag.store.upgrade import upgrade_old_layout

log = logging.getLogger(__name__)
LOOKUPS_BEFORE_LISTING = 200  # one SQLite lookup per segment each; listing all reads every documents table


@dataclass(frozen=True)
class Tuning:
    """How segments are cut and merged (settings `RAG_SEGMENT_PASSAGES`, `RAG_MAX_SEGMENTS`, `RAG_ANN_MIN_ROWS`)."""

    segment_passages: int = 5_000  # a long ingest publishes a segment every this many passages
    max_segments: int = 8  # more small segments than this and the writer merges them
    ann_min_rows: int = 50_000  # segments this large get an HNSW graph instead of exact search

    @classmethod
    def of(cls, settings: Settings) -> Tuning:
        return cls(settings.segment_passages, settings.max_segments, settings.ann_min_rows)


@dataclass
class _Live:
    segment: str | None  # None: not yet written (in this writer's pending batch)
    sha256: str
    source_path: str
    passages: int


class IndexWriter:
    """Adds and deletes documents; `commit()` publishes the changes as the next version."""

    def __init__(
        self, index_dir: Path, dim: int, model: str, keep_versions: int = 2, tuning: Tuning | None = None
    ) -> None:
        self.index_dir = index_dir
        self.dim = dim
        self.model = model
        self.keep_versions = keep_versions
        self.tuning = tuning or Tuning()
        for folder in (VERSIONS, SEGMENTS):
            (index_dir / folder).mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(index_dir / SEGMENTS)
        upgrade_old_layout(index_dir, self.tuning.ann_min_rows)
        _remove_unpublished_versions(index_dir)
        self.previous = newest_whole_version(index_dir)  # never build on a damaged version
        self.version = self.previous
        self.changed = False
        self.bytes_written = 0
        self._segments: list[tuple[str, set[str]]] = []  # live segments with the documents deleted from each
        # Documents looked up, added or listed so far. Only hashes() and source_paths() list them all (an
        # ingest's first step): a delete or an upload of a few documents looks just those up.
        self._live: dict[str, _Live] = {}
        self._listed = False
        self._lookups = 0
        self._pending: dict[str, Batch] = {}
        self._pending_passages = 0
        self._documents = self._passages = 0
        if self.previous is not None:
            self._load(json.loads(version_file(index_dir, self.previous).read_text()))

    def _load(self, manifest: dict) -> None:
        if manifest["dim"] != self.dim or manifest["model"] != self.model:
            raise BadRequest(
                f"the index in {self.index_dir} was built with {manifest['model']} ({manifest['dim']}-d); "
                f"re-ingest into a new RAG_INDEX_DIR to use {self.model}"
            )
        self._segments = [(entry["name"], set(entry.get("deleted", ()))) for entry in manifest["segments"]]
        self._documents, self._passages = int(manifest["documents"]), int(manifest["passages"])

    def _rows(self, segment: str, query: str, values: tuple = ()) -> list[tuple]:
        path = self.index_dir / SEGMENTS / segment / STORE_FILE
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute(query, values).fetchall()

    def _entry(self, doc_id: str) -> _Live | None:
        """Where a live document is (a segment, or this writer's pending batch), or None."""
        if doc_id in self._live or self._listed:
            return self._live.get(doc_id)
        query = "SELECT sha256, source_path, passage_count FROM documents WHERE doc_id = ?"
        for name, deleted in reversed(self._segments):  # a document is live in one segment at most
            if doc_id not in deleted and (found := self._rows(name, query, (doc_id,))):
                self._live[doc_id] = _Live(name, *found[0])
                return self._live[doc_id]
        return None

    def _list(self) -> dict[str, _Live]:
        if not self._listed:
            query = "SELECT doc_id, sha256, source_path, passage_count FROM documents"
            for name, deleted in self._segments:
                for doc_id, sha256, source_path, passages in self._rows(name, query):
                    if doc_id not in deleted:
                        self._live.setdefault(doc_id, _Live(name, sha256, source_path, passages))
            self._listed = True
        return self._live

    @property
    def segments(self) -> list[str]:
        return [name for name, _ in self._segments]

    def sha256_of(self, doc_id: str) -> str | None:
        """The content hash of a live document, or None; looked up alone until an ingest touches many."""
        self._lookups += 1
        if self._lookups > LOOKUPS_BEFORE_LISTING:
            self._list()
        live = self._entry(doc_id)
        return live.sha256 if live else None

    def hashes(self) -> dict[str, str]:
        return {doc_id: live.sha256 for doc_id, live in self._list().items()}

    def source_paths(self) -> dict[str, str]:
        return {doc_id: live.source_path for doc_id, live in self._list().items()}

    def delete(self, doc_id: str) -> bool:
        live = self._entry(doc_id)
        if live is None:
            return False
        del self._live[doc_id]
        self._documents -= 1
        self._passages -= live.passages
        if live.segment is None:
            self._pending_passages -= len(self._pending.pop(doc_id).passages)
        else:
            next(deleted for name, deleted in self._segments if name == live.segment).add(doc_id)
        self.changed = True
        return True

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
        self._pending[document.doc_id] = Batch(document, passages, passage_vectors, sentence_vectors)
        self._live[document.doc_id] = _Live(None, document.sha256, document.source_path, len(passages))
        self._documents += 1
        self._passages += len(passages)
        self._pending_passages += len(passages)
        if self._pending_passages >= self.tuning.segment_passages:
            self.commit()  # a long ingest publishes as it goes, and a re-run after a kill resumes after it

    def commit(self, merge: bool = True) -> str:
        """Publish the changes as the next version and return its name; then merge small segments if due."""
        if self._pending:
            name = self._write_segment(lambda folder: write_segment(folder, list(self._pending.values()), *self._args))
            self._segments.append((name, set()))
            for doc_id in self._pending:
                self._live[doc_id].segment = name
            self._pending.clear()
            self._pending_passages = 0
        self._publish()
        if merge:
            self._merge_if_due()
        return str(self.version)

    def compact(self) -> str:
        """Merge every segment into one, dropping deleted rows, and publish it."""
        if self.changed:
            self.commit(merge=False)
        self._merge([name for name, _ in self._segments])
        return str(self.version)

    def abort(self) -> None:
        self._pending.clear()
        self._pending_passages = 0

    @property
    def _args(self) -> tuple[int, str, int]:
        return self.dim, self.model, self.tuning.ann_min_rows

    # -- segments and versions -------------------------------------------------------------------

    def _write_segment(self, write: Callable[[Path], dict]) -> str:
        folder = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.index_dir / SEGMENTS))
        try:
            write(folder)
            self.bytes_written += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            name = next_name(self.index_dir / SEGMENTS, "s")
            folder.rename(self.index_dir / SEGMENTS / name)
            fsync_dir(self.index_dir / SEGMENTS)  # the rename is on disk before a version names it
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return name

    def _publish(self) -> None:
        manifest = {
            "dim": self.dim,
            "model": self.model,
            "documents": self._documents,
            "passages": self._passages,
            "created": time.time(),
            "segments": [{"name": name, "deleted": sorted(deleted)} for name, deleted in self._segments],
        }
        version = next_name(self.index_dir / VERSIONS, "v")
        write_json_atomically(version_file(self.index_dir, version), manifest)
        write_atomically(self.index_dir / CURRENT, version + "\n")
        self.bytes_written += version_file(self.index_dir, version).stat().st_size
        _prune(self.index_dir, self.keep_versions)
        self.version = version
        self.previous = version
        self.changed = False
        log.info(
            "published index version %s (%d documents, %d passages, %d segments)",
            version,
            manifest["documents"],
            manifest["passages"],
            len(self._segments),
        )

    def _merge_if_due(self) -> None:
        """Merge the small segments once there are more than `max_segments`, and any half-deleted segment."""
        sizes = {name: self._segment_size(name) for name, _ in self._segments}
        small = [name for name, _ in self._segments if sizes[name][0] < self.tuning.ann_min_rows]
        emptied = [  # a large (HNSW) segment is rebuilt only by `rag compact`: that takes minutes
            name
            for name, deleted in self._segments
            if deleted and len(deleted) * 2 >= sizes[name][1] and sizes[name][0] < self.tuning.ann_min_rows
        ]
        chosen = emptied + (small if len(small) > self.tuning.max_segments else [])
        if chosen:
            self._merge(list(dict.fromkeys(chosen)))

    def _merge(self, names: list[str]) -> None:
        if len(names) < 2 and not any(deleted for name, deleted in self._segments if name in names):
            return
        chosen = [(name, deleted) for name, deleted in self._segments if name in names]
        opened = [Segment(self.index_dir / SEGMENTS / name) for name, _ in chosen]
        try:
            parts = [(s, frozenset(deleted)) for s, (_, deleted) in zip(opened, chosen, strict=True)]
            merged = self._write_segment(lambda folder: merge_segments(folder, parts, *self._args))
        finally:
            for segment in opened:
                segment.close()
        first = self._segments.index(chosen[0])
        kept = [(n, d) for n, d in self._segments if n not in names]
        self._segments = [*kept[:first], (merged, set()), *kept[first:]]
        for live in self._live.values():
            if live.segment in names:
                live.segment = merged
        log.info("merged %d segments into %s", len(chosen), merged)
        self._publish()

    def _segment_size(self, name: str) -> tuple[int, int]:
        """(passages, documents) a segment was written with."""
        manifest = json.loads((self.index_dir / SEGMENTS / name / SEGMENT_MANIFEST).read_text())
        return manifest["passages"], manifest["documents"]


@contextmanager
def writing(
    index_dir: Path,
    dim: int,
    model: str,
    keep_versions: int = 2,
    wait: float = 0.0,
    give_up: Callable[[], bool] = lambda: False,
    tuning: Tuning | None = None,
    merge: bool = True,
) -> Iterator[IndexWriter]:
    """Hold the index's write lock while changing it; publish on success, discard what is pending on error.

    With `wait`, wait up to that many seconds for another writer to finish (or until `give_up()` says so)
    before giving up with a Conflict. `merge=False` leaves merging small segments to a later writer (a delete
    answered in a request should not wait for one).
    """
    with hold_lock(index_dir, wait, give_up):
        writer = IndexWriter(index_dir, dim, model, keep_versions, tuning)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        if writer.changed or writer.previous is None:
            writer.commit(merge=merge)


@contextmanager
def hold_lock(index_dir: Path, wait: float = 0.0, give_up: Callable[[], bool] = lambda: False) -> Iterator[None]:
    """The index's write lock: one writer at a time, whichever store it writes to."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as lock:
        _lock(lock, index_dir, wait, give_up)
        yield


def write_lock_held(index_dir: Path) -> bool:
    """Whether a writer (an ingest, an upload, a delete) holds the index's write lock right now."""
    try:
        with open(index_dir / ".lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


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


def _remove_unpublished_versions(index_dir: Path) -> None:
    """Version files newer than CURRENT: a writer was killed between writing one and moving CURRENT to it."""
    current = read_current(index_dir)
    if current is None:
        return
    for name in version_names(index_dir):
        if number(name) > number(current):
            version_file(index_dir, name).unlink(missing_ok=True)


def _remove_stale_temporaries(segments: Path) -> None:
    """Folders left by a writer that was killed; safe to drop because we hold the write lock."""
    for stale in segments.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _prune(index_dir: Path, keep: int) -> None:
    """Drop versions beyond the newest `keep`, then every segment no kept version names.

    A server still answering from a dropped version keeps working: its files are open, and an unlinked file
    lives on until it is closed.
    """
    names = version_names(index_dir)
    for name in names[:-keep]:
        version_file(index_dir, name).unlink(missing_ok=True)
    named: set[str] = set()
    for name in names[-keep:]:
        named.update(e["name"] for e in json.loads(version_file(index_dir, name).read_text())["segments"])
    for folder in (index_dir / SEGMENTS).glob("s[0-9]*"):
        if folder.name not in named:
            shutil.rmtree(folder, ignore_errors=True)
