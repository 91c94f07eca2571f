"""The on-disk index: incremental ingest, deletion, and atomic publishing under a kill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import ingest
from rag.config import PROJECT_ROOT, Settings
from rag.embeddings import Embedder
from rag.errors import BadRequest
from rag.models import Document, Passage, Span
from rag.store import Index, read_current, write_lock_held, writing

MODEL = "all-MiniLM-L6-v2"


def _ingest(paths: list[Path], index_dir: Path, embedder: Embedder, **kw: bool):  # type: ignore[no-untyped-def]
    return ingest(paths, Settings(index_dir=index_dir), embedder, MODEL, progress=False, **kw)


def test_incremental_ingest(tmp_path: Path, copy_corpus: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    first = _ingest([copy_corpus], index_dir, embedder)
    assert len(first.added) == 5 and first.version == "v000001"

    again = _ingest([copy_corpus], index_dir, embedder)
    assert len(again.unchanged) == 5 and not again.added and again.passages == 0
    assert read_current(index_dir) == "v000001", "an ingest that changes nothing publishes nothing"

    changed = copy_corpus / "002_a1f3d825a8827267.txt"
    changed.write_text(
        changed.read_text() + "\nThe envoy later flew to Muscat for further talks with Omani officials.\n"
    )
    (copy_corpus / "003_c0864d09f7a77bb2.txt").unlink()
    report = _ingest([copy_corpus], index_dir, embedder)
    assert report.updated == ["002_a1f3d825a8827267"] and len(report.unchanged) == 3 and not report.removed
    assert len(Index.open_current(index_dir).documents()) == 5, "without --prune nothing is dropped"

    pruned = _ingest([copy_corpus], index_dir, embedder, prune=True)
    assert pruned.removed == ["003_c0864d09f7a77bb2"]
    index = Index.open_current(index_dir)
    assert [d.doc_id for d in index.documents()] == sorted(p.stem for p in copy_corpus.iterdir())
    assert "Muscat" in index.document("002_a1f3d825a8827267").text
    assert index.size == sum(d.passage_count for d in index.documents()), "FAISS and the store agree"


def test_replaced_document_is_searchable_and_old_vectors_gone(tmp_path: Path, embedder: Embedder) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    path = source / "note.txt"
    path.write_text("The committee approved the desalination plant in Basra after a long debate.")
    index_dir = tmp_path / "index"
    _ingest([source], index_dir, embedder)
    path.write_text("The football federation appointed a new national coach on Tuesday.")
    _ingest([source], index_dir, embedder)
    index = Index.open_current(index_dir)
    assert index.size == 1
    vector = embedder.encode_queries(["new national football coach"])[0]
    ((row, score),) = index.search(vector, 5)
    assert "football" in index.passages([row])[row].text and score > 0.5


def test_writer_refuses_a_second_concurrent_ingest(tmp_path: Path) -> None:
    with writing(tmp_path, 4, "m") as first:
        first.changed = False
        with pytest.raises(BadRequest, match="another ingest"), writing(tmp_path, 4, "m"):
            pass


def test_failed_write_publishes_nothing(tmp_path: Path) -> None:
    document = Document("d", "Some text.", "T", "d.txt", "0" * 64)
    passage = Passage("d:0", "d", 0, 10, "Some text.", (Span(0, 10),))
    with pytest.raises(RuntimeError), writing(tmp_path, 4, "m") as writer:
        writer.put(document, [passage], np.ones((1, 4), dtype=np.float32), [np.ones((1, 4), dtype=np.float32)])
        raise RuntimeError("boom")
    assert read_current(tmp_path) is None
    assert not list((tmp_path / "versions").iterdir()) and not list((tmp_path / "segments").iterdir())


def test_kill_during_ingest_leaves_the_old_index_usable(
    tmp_path: Path,
    corpus_dir: Path,
    build_index,
    embedder: Embedder,  # type: ignore[no-untyped-def]
) -> None:
    index_dir = build_index(corpus_dir, index_dir=tmp_path / "index")
    before = read_current(index_dir)
    big = tmp_path / "big"
    big.mkdir()
    texts = [p.read_text() for p in sorted(corpus_dir.iterdir())]
    for i in range(120):  # enough passages that embedding takes many seconds
        (big / f"copy_{i:03d}.txt").write_text(f"Copy {i}. " + texts[i % len(texts)])
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(big), "--no-progress"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    segments = index_dir / "segments"
    deadline = time.monotonic() + 60
    while not write_lock_held(index_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # well inside the embedding phase
    assert process.poll() is None, "ingest finished before it could be killed; make the corpus bigger"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert read_current(index_dir) == before
    index = Index.open_current(index_dir)
    assert len(index.documents()) == 5 and index.size > 0
    shutil.rmtree(big)
    report = _ingest([corpus_dir], index_dir, embedder)
    assert len(report.unchanged) == 5
    assert not list(segments.glob(".tmp-*")), "the next writer clears what the killed one left"
