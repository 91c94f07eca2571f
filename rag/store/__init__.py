"""The index store: immutable segments named by small versions, read as one index, written incrementally.

`rag.store.layout` says where things live, `segment` what a segment holds, `dense` and `lexical` how one is
searched, `index` how a version reads as a whole, and `writer` how changes are published.
"""

from rag.store.index import Index, IndexDamaged, live_manifest, newest_whole_version, no_index
from rag.store.layout import read_current
from rag.store.segment import DocumentInfo
from rag.store.writer import IndexWriter, Tuning, writing

__all__ = [
    "DocumentInfo",
    "Index",
    "IndexDamaged",
    "IndexWriter",
    "Tuning",
    "live_manifest",
    "newest_whole_version",
    "no_index",
    "read_current",
    "writing",
]
