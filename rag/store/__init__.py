"""The index store, chosen by RAG_STORE: FAISS segments on disk (the embedded default) or Milvus.

`protocol` says what a store offers. The segment store: `layout` says where things live, `segment` what a
segment holds, `dense` and `lexical` how one is searched, `index` how a version reads as a whole, `writer`
how changes are published. `milvus` is the same for Milvus. The functions here pick one by the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rag.config import Settings
from rag.errors import NotReady
from rag.store.index import Index, IndexDamaged, live_manifest, newest_whole_version, no_index
from rag.store.layout import read_current
from rag.store.protocol import Reader, Selection, Writer
from rag.store.segment import DocumentInfo
from rag.store.writer import IndexWriter, Tuning, write_lock_held, writing

__all__ = [
    "DocumentInfo",
    "Index",
    "IndexDamaged",
    "IndexWriter",
    "Reader",
    "Selection",
    "Tuning",
    "Writer",
    "current_version",
    "live_manifest",
    "missing",
    "newest_whole_version",
    "no_index",
    "open_index_writer",
    "open_reader",
    "open_writer",
    "read_current",
    "store_manifest",
    "write_lock_held",
    "writing",
]


def open_reader(settings: Settings, reuse: Reader | None = None) -> Reader:
    """The live version of the configured store (reusing what `reuse` already has open)."""
    if settings.store == "milvus":
        from rag.store.milvus import MilvusIndex

        return MilvusIndex(settings)
    previous = reuse if isinstance(reuse, Index) else None
    return Index.open_current(settings.index_dir, previous, settings.ann_ef_search)


def current_version(settings: Settings) -> str | None:
    """Name of the published version, cheap enough to ask on every request."""
    if settings.store == "milvus":
        return _milvus_watch(settings).current()
    return read_current(settings.index_dir)


_watches: dict[tuple[str, str], object] = {}


def _milvus_watch(settings: Settings):  # type: ignore[no-untyped-def]
    from rag.store.milvus import MilvusVersionWatch, milvus_uri

    key = (milvus_uri(settings), settings.milvus_collection)
    return _watches.setdefault(key, MilvusVersionWatch(settings))


def missing(settings: Settings) -> NotReady:
    """The error for a store with nothing published yet, saying what to run."""
    if settings.store == "milvus":
        from rag.store.milvus import no_milvus_index

        return no_milvus_index(settings)
    return no_index(settings.index_dir)


def store_manifest(settings: Settings) -> dict:
    """Dimension and model of what the store holds, without opening it."""
    if settings.store == "milvus":
        from rag.store.milvus import Names, client_for, read_state

        state = read_state(client_for(settings), Names(settings.milvus_collection))
        if state is None:
            raise missing(settings)
        return state
    return live_manifest(settings.index_dir)


def open_index_writer(settings: Settings, wait: float = 0.0, merge: bool = True):  # type: ignore[no-untyped-def]
    """A writer over the existing index, with the model and dimension it was built with (deletes, compaction)."""
    manifest = store_manifest(settings)
    return open_writer(settings, int(manifest["dim"]), str(manifest["model"]), wait, merge=merge)


@contextmanager
def open_writer(
    settings: Settings,
    dim: int,
    model: str,
    wait: float = 0.0,
    give_up: Callable[[], bool] = lambda: False,
    merge: bool = True,
) -> Iterator[Writer]:
    """The configured store's writer under the index's write lock; publishes on success, discards on error.

    `merge=False`: publish without merging small segments (for a delete answered within a request).
    """
    if settings.store != "milvus":
        with writing(
            settings.index_dir, dim, model, settings.keep_versions, wait, give_up, Tuning.of(settings), merge
        ) as writer:
            yield writer
        return
    from rag.store.milvus import MilvusWriter
    from rag.store.writer import hold_lock

    with hold_lock(settings.index_dir, wait, give_up):
        milvus = MilvusWriter(settings, dim, model, settings.segment_passages)
        try:
            yield milvus
        except BaseException:
            milvus.abort()
            raise
        if milvus.changed or milvus.previous is None:
            milvus.commit()
