"""Converting an index of the old layout (every version a whole copy) into a segment, without re-embedding.

The old live version's vectors, passages and documents are written as one segment and a first version
that names it; then the old version folders are removed.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tempfile
from pathlib import Path

import faiss
import numpy as np

from rag.store.layout import (
    CURRENT,
    SEGMENTS,
    VERSIONS,
    fsync_dir,
    next_name,
    old_layout,
    version_file,
    write_atomically,
    write_json_atomically,
)
from rag.store.lexical import Postings
from rag.store.segment import DOC_FIELDS, repack, write_rows

log = logging.getLogger(__name__)


def upgrade_old_layout(index_dir: Path, ann_min_rows: int) -> bool:
    """Convert the old layout's live version in place; False when there is nothing to convert.

    Call with the write lock held. A kill part-way leaves the old layout as it was (and a stray temporary
    folder the next writer removes).
    """
    if not old_layout(index_dir):
        return False
    try:
        live = (index_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return False
    old = index_dir / VERSIONS / live
    if not old.is_dir():
        return False
    manifest = json.loads((old / "manifest.json").read_text())
    vectors = faiss.read_index(str(old / "passages.faiss"))
    db = sqlite3.connect(f"file:{old / 'store.sqlite'}?mode=ro", uri=True)
    mentions = "mentions" if any(r[1] == "mentions" for r in db.execute("PRAGMA table_info(passages)")) else "'[]'"
    doc_rows = db.execute(f"SELECT {DOC_FIELDS} FROM documents ORDER BY doc_id").fetchall()
    position = {row[0]: i for i, row in enumerate(doc_rows)}
    columns = f"id, chunk_id, doc_id, start, end, text, sentences, sentence_vectors, {mentions}"
    old_rows = db.execute(f"SELECT {columns} FROM passages ORDER BY doc_id, id").fetchall()
    db.close()
    dim = int(manifest["dim"])
    passage_rows = [(row, *old[1:7], repack(old[7], dim, "fp16"), old[8]) for row, old in enumerate(old_rows)]
    matrix = np.stack([vectors.reconstruct(int(old[0])) for old in old_rows]) if old_rows else None
    row_doc = np.array([position[old[2]] for old in old_rows], dtype=np.int32)
    (index_dir / SEGMENTS).mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir / SEGMENTS))
    postings = Postings.of_texts([row[5] for row in passage_rows])
    empty = np.zeros((0, dim), dtype=np.float32)
    write_rows(
        folder,
        dim,
        manifest["model"],
        doc_rows,
        passage_rows,
        empty if matrix is None else matrix,
        postings,
        row_doc,
        ann_min_rows,
    )
    name = next_name(index_dir / SEGMENTS, "s")
    folder.rename(index_dir / SEGMENTS / name)
    fsync_dir(index_dir / SEGMENTS)
    version = next_name(index_dir / VERSIONS, "v")
    write_json_atomically(
        version_file(index_dir, version),
        {
            "dim": dim,
            "model": manifest["model"],
            "documents": len(doc_rows),
            "passages": len(passage_rows),
            "created": manifest.get("created"),
            "segments": [{"name": name, "deleted": []}],
        },
    )
    write_atomically(index_dir / CURRENT, version + "\n")
    for folder in (index_dir / VERSIONS).glob("v[0-9]*"):
        if folder.is_dir():  # a server still reading one keeps its open files
            shutil.rmtree(folder, ignore_errors=True)
    log.info("converted index version %s of the old layout into segment %s (version %s)", live, name, version)
    return True
