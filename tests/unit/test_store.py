"""The segment store: writes cost what they change, deletions vanish everywhere, merging loses nothing.

These are tests of the store's logic, so the vectors are random unit vectors (the store never embeds);
retrieval quality with the real model is tested in test_index.py and the e2e suite.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.config import PROJECT_ROOT, Settings
from rag.errors import NotFound, NotReady
from rag.models import Document, Mention, Passage, Span
from rag.store import Index, Tuning, open_reader, open_writer, read_current, writing

DIM = 16
WORDS = (
    "minister parliament budget harbour drought election court strike embassy refinery coalition "
    "protest vaccine tariff summit ceasefire pipeline satellite museum festival"
).split()


def article(number: int, date: str | None = None, source: str = "Wire") -> tuple[Document, list[Passage]]:
    """A three-sentence article with one passage per sentence; each has a word no other article has."""
    rng = np.random.default_rng(number)
    sentences = [" ".join(rng.choice(WORDS, 6)).capitalize() + f" marker{number}x{i}." for i in range(3)]
    text = " ".join(sentences)
    doc_id = f"doc{number:04d}"
    document = Document(doc_id, text, f"Title {number}", f"{doc_id}.txt", f"{number:064d}", date=date, source=source)
    passages, start = [], 0
    for i, sentence in enumerate(sentences):
        end = start + len(sentence)
        mentions = (Mention(start, start + 3, "ORG"),)
        passages.append(Passage(f"{doc_id}:{i}", doc_id, start, end, sentence, (Span(start, end),), mentions))
        start = end + 1
    return document, passages


def vectors_for(document: Document, passages: list[Passage]) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(zlib.crc32((document.doc_id + document.text).encode()))
    matrix = rng.normal(size=(len(passages), DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix, [matrix[i : i + 1] for i in range(len(passages))]


def put(writer, number: int, **kw) -> tuple[Document, np.ndarray]:  # type: ignore[no-untyped-def]
    document, passages = article(number, **kw)
    matrix, sentences = vectors_for(document, passages)
    writer.put(document, passages, matrix, sentences)
    return document, matrix


def build(index_dir: Path, numbers: range, tuning: Tuning | None = None, **kw) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    found = {}
    with writing(index_dir, DIM, "test-model", tuning=tuning) as writer:
        for number in numbers:
            document, matrix = put(writer, number, **kw)
            found[document.doc_id] = matrix
    return found


def disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def snapshot(index: Index) -> list[tuple]:
    """Every live passage with its offsets, spans and mentions, and its vector, in a comparable form."""
    rows = []
    for row, p in index.all_passages():
        rows.append(
            (p.chunk_id, p.doc_id, p.start, p.end, p.text, p.sentences, p.mentions, index.vector(row).tobytes())
        )
    return sorted(rows)


def store_settings(tmp_path: Path, store: str) -> Settings:
    return Settings(index_dir=tmp_path, store=store, milvus_uri=str(tmp_path / "milvus.db"))


def fill(settings: Settings, numbers: range, **kw) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    found = {}
    with open_writer(settings, DIM, "test-model") as writer:
        for number in numbers:
            document, matrix = put(writer, number, **kw)
            found[document.doc_id] = matrix
    return found


def doc_of(index, row: int) -> str:  # type: ignore[no-untyped-def]
    return index.passages([row])[row].doc_id


class StoreContract:
    """What every store does, through the protocol only; subclasses name the store."""

    store = "faiss"

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return store_settings(tmp_path, self.store)

    def test_an_added_document_is_found_by_every_path(self, settings: Settings) -> None:
        fill(settings, range(30))
        with open_writer(settings, DIM, "test-model") as writer:
            _, matrix = put(writer, 1000)
        index = open_reader(settings)
        assert len(index.documents()) == 31 and index.size == 93 and index.manifest["documents"] == 31
        assert [doc_of(index, r) for r, _ in index.lexical.search("marker1000x1", 5)] == ["doc1000"]
        ((row, score),) = index.search(matrix[1], 1)
        assert doc_of(index, row) == "doc1000" and score == pytest.approx(1.0, abs=1e-3)
        assert index.similarity(matrix[1], [row])[row] == pytest.approx(1.0, abs=1e-3)
        document, passages = article(1000)
        assert index.document("doc1000") == document and index.passages([row])[row] == passages[1]
        assert index.titles(["doc1000"]) == {"doc1000": "Title 1000"}
        assert np.allclose(index.sentence_vectors(["doc1000:1"])["doc1000:1"], matrix[1:2], atol=4e-3)  # int8
        assert index.lexical.unknown(["marker1000x1", "nowhere"]) == ["nowhere"]

    def test_a_deleted_document_is_gone_from_every_path(self, settings: Settings) -> None:
        vectors = fill(settings, range(40))
        with open_writer(settings, DIM, "test-model") as writer:
            assert writer.delete("doc0007") and not writer.delete("doc0007")
        index = open_reader(settings)
        assert "doc0007" not in {d.doc_id for d in index.documents()} and index.size == 39 * 3
        for vector in vectors["doc0007"]:
            hits = index.search(vector, 10)
            assert hits and all(doc_of(index, r) != "doc0007" for r, _ in hits)
        assert index.lexical.search("marker7x0", 10) == []
        assert index.search(vectors["doc0007"][0], 10, index.rows_where(doc_ids=("doc0007",))) == []
        assert index.sentence_vectors(["doc0007:0"]) == {} and index.titles(["doc0007"]) == {}
        with pytest.raises(NotFound):
            index.document("doc0007")

    def test_replacing_a_document_keeps_only_the_new_one(self, settings: Settings) -> None:
        fill(settings, range(5))
        replacement = Document("doc0002", "The harbour reopened on Monday.", "New", "doc0002.txt", "f" * 64)
        passage = Passage("doc0002:0", "doc0002", 0, 31, replacement.text, (Span(0, 31),))
        matrix, sentences = vectors_for(replacement, [passage])
        with open_writer(settings, DIM, "test-model") as writer:
            writer.put(replacement, [passage], matrix, sentences)
        index = open_reader(settings)
        assert index.document("doc0002").text == replacement.text
        assert [d.passage_count for d in index.documents() if d.doc_id == "doc0002"] == [1]
        assert index.titles(["doc0002"]) == {"doc0002": "New"}
        ((row, score),) = index.search(matrix[0], 1)
        assert index.passages([row])[row].text == replacement.text and score > 0.99
        assert set(index.sentence_vectors(["doc0002:0", "doc0002:1"])) == {"doc0002:0"}
        with open_writer(settings, DIM, "test-model") as writer:
            assert writer.hashes()["doc0002"] == "f" * 64 and len(writer.hashes()) == 5

    def test_filters_by_date_source_and_publisher(self, settings: Settings) -> None:
        fill(settings, range(0, 10), date="2023-10-01", source="Wire")
        fill(settings, range(10, 20), date="2023-11-15", source="Daily")
        index = open_reader(settings)
        november = index.rows_where(date_from="2023-11-01", date_to="2023-11-30")
        query = vectors_for(*article(3, date="2023-10-01", source="Wire"))[0][0]
        hits = index.search(query, 50, november)
        assert len(hits) == 30 and {doc_of(index, r) for r, _ in hits} == {f"doc{n:04d}" for n in range(10, 20)}
        lexical = index.lexical.search("marker3x0 marker12x0", 10, november)
        assert [doc_of(index, r) for r, _ in lexical] == ["doc0012"]
        assert index.publishers == ("Daily", "Wire")
        wire_in_november = index.rows_published_by("Wire", november)
        assert index.search(query, 10, wire_in_november) == []
        assert {doc_of(index, r) for r, _ in index.search(query, 50, index.rows_published_by("Wire"))} == {
            f"doc{n:04d}" for n in range(10)
        }

    def test_a_failed_write_publishes_nothing(self, settings: Settings) -> None:
        fill(settings, range(5))
        before = open_reader(settings).version
        with pytest.raises(RuntimeError), open_writer(settings, DIM, "test-model") as writer:
            put(writer, 99)
            writer.delete("doc0001")
            raise RuntimeError("boom")
        index = open_reader(settings)
        assert index.version == before and len(index.documents()) == 5 and index.lexical.search("marker99x0", 3) == []


class TestSegmentStore(StoreContract):
    tuning = Tuning(segment_passages=10_000, max_segments=100, ann_min_rows=10_000)

    def test_adding_one_document_writes_only_that_document(self, tmp_path: Path) -> None:
        build(tmp_path, range(1000), self.tuning)
        before = disk_bytes(tmp_path)
        with writing(tmp_path, DIM, "test-model", tuning=self.tuning) as writer:
            put(writer, 1000)
        assert writer.bytes_written < before / 20, f"{writer.bytes_written} bytes written to add one document"

    def test_compaction_keeps_every_passage_offset_and_vector(self, tmp_path: Path) -> None:
        for start in range(0, 60, 10):  # six segments
            build(tmp_path, range(start, start + 10), self.tuning)
        lexical = Index.open_current(tmp_path).lexical.search("minister marker20x1", 20)
        with writing(tmp_path, DIM, "test-model", tuning=self.tuning) as writer:
            writer.compact()
        merged = Index.open_current(tmp_path).lexical.search("minister marker20x1", 20)
        assert merged == [(r, pytest.approx(s)) for r, s in lexical], "BM25 statistics are corpus-wide already"

        with writing(tmp_path, DIM, "test-model", tuning=self.tuning) as writer:
            for number in (3, 14, 15, 51):
                writer.delete(f"doc{number:04d}")
            put(writer, 60)
        before = Index.open_current(tmp_path)
        expected, query = snapshot(before), before.vector(100)
        results = [(before.passages([r])[r].chunk_id, s) for r, s in before.search(query, 20)]
        with writing(tmp_path, DIM, "test-model", tuning=self.tuning) as writer:
            writer.compact()
        after = Index.open_current(tmp_path)
        assert len(after.segments) == 1 and snapshot(after) == expected
        assert [(after.passages([r])[r].chunk_id, s) for r, s in after.search(query, 20)] == [
            (c, pytest.approx(s)) for c, s in results
        ]

    def test_small_segments_are_merged_by_the_writer(self, tmp_path: Path) -> None:
        tuning = Tuning(segment_passages=10_000, max_segments=3, ann_min_rows=10_000)
        for start in range(0, 50, 5):
            build(tmp_path, range(start, start + 5), tuning)
        index = Index.open_current(tmp_path)
        assert len(index.segments) <= 4 and len(index.documents()) == 50
        assert len(list((tmp_path / "segments").iterdir())) <= 8, "merged-away segments are removed"

    def test_a_long_write_publishes_as_it_goes(self, tmp_path: Path) -> None:
        tuning = Tuning(segment_passages=30, max_segments=100, ann_min_rows=10_000)
        with pytest.raises(RuntimeError), writing(tmp_path, DIM, "test-model", tuning=tuning) as writer:
            for number in range(25):
                put(writer, number)
            raise RuntimeError("killed after 25 documents")
        published = {d.doc_id for d in Index.open_current(tmp_path).documents()}
        assert published == {f"doc{n:04d}" for n in range(20)}, "every full segment of 10 documents stays"
        with writing(tmp_path, DIM, "test-model", tuning=tuning) as writer:
            assert set(writer.hashes()) == published, "a re-run knows what is already in and skips it"

    def test_hnsw_search_matches_exact_search(self, tmp_path: Path) -> None:
        exact = tmp_path / "exact"
        ann = tmp_path / "ann"
        build(exact, range(1500), Tuning(ann_min_rows=100_000, segment_passages=100_000))
        build(ann, range(1500), Tuning(ann_min_rows=1_000, segment_passages=100_000))
        with writing(exact, DIM, "test-model") as w1, writing(ann, DIM, "test-model") as w2:
            for writer in (w1, w2):
                for number in range(0, 1500, 7):
                    writer.delete(f"doc{number:04d}")
        a, e = Index.open_current(ann), Index.open_current(exact)
        assert a.segments[0].dense.ann is not None and e.segments[0].dense.ann is None
        rng = np.random.default_rng(1)
        overlap = []
        for _ in range(50):
            query = rng.normal(size=DIM).astype(np.float32)
            query /= np.linalg.norm(query)
            got, want = a.search(query, 10), e.search(query, 10)
            overlap.append(len({r for r, _ in got} & {r for r, _ in want}) / 10)
            assert got[0] == want[0]
            assert all(a.alive()[r] for r, _ in got), "deleted rows are never returned"
        assert np.mean(overlap) >= 0.99

    def test_a_killed_write_leaves_the_previous_version_answering(self, tmp_path: Path) -> None:
        build(tmp_path, range(20), self.tuning)
        before = read_current(tmp_path)
        script = (
            "import sys; sys.path.insert(0, '.');"
            "from pathlib import Path; from tests.unit.test_store import put, DIM;"
            "from rag.store import writing, Tuning;"
            f"w = writing(Path({str(tmp_path)!r}), DIM, 'test-model', tuning=Tuning(ann_min_rows=2_000,"
            " segment_passages=10**9, max_segments=100)).__enter__();"
            "[put(w, n) for n in range(100, 20_100)]; w.commit()"
        )
        process = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, env={**os.environ})
        deadline = time.monotonic() + 120
        while not list((tmp_path / "segments").glob(".tmp-*/*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the write ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert read_current(tmp_path) == before
        index = Index.open_current(tmp_path)
        assert len(index.documents()) == 20 and index.search(index.vector(5), 1)[0][0] == 5
        build(tmp_path, range(20, 21), self.tuning)
        assert not list((tmp_path / "segments").glob(".tmp-*")), "the next writer removes what the killed one left"

    def test_an_index_of_the_old_layout_is_converted_without_embedding(self, tmp_path: Path) -> None:
        documents = [article(n) for n in range(3)]
        _write_old_layout(tmp_path, documents)
        with pytest.raises(NotReady, match="rag compact"):
            Index.open_current(tmp_path)
        with writing(tmp_path, DIM, "test-model") as writer:
            writer.compact()
        index = Index.open_current(tmp_path)
        assert [d.doc_id for d in index.documents()] == ["doc0000", "doc0001", "doc0002"]
        document, passages = documents[1]
        row = next(r for r, p in index.all_passages() if p.chunk_id == passages[2].chunk_id)
        assert np.allclose(index.vector(row), vectors_for(document, passages)[0][2])
        assert index.passages([row])[row] == passages[2]
        assert not [p for p in (tmp_path / "versions").iterdir() if p.is_dir()], "the old folders are gone"


def _write_old_layout(index_dir: Path, documents: list[tuple[Document, list[Passage]]]) -> None:
    """An index as the whole-copy layout wrote it: versions/v000001/ with FAISS ids = SQLite row ids."""
    folder = index_dir / "versions" / "v000001"
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "store.sqlite")
    db.executescript(
        "CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source_path TEXT NOT NULL,"
        " sha256 TEXT NOT NULL, length INTEGER NOT NULL, place TEXT, agency TEXT, author TEXT, date TEXT, url TEXT,"
        " source TEXT, text TEXT NOT NULL, passage_count INTEGER NOT NULL);"
        "CREATE TABLE passages (id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,"
        " doc_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL,"
        " sentences TEXT NOT NULL, sentence_vectors BLOB NOT NULL, mentions TEXT NOT NULL DEFAULT '[]');"
    )
    vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    for document, passages in documents:
        d = document
        db.execute(
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
        matrix, sentences = vectors_for(document, passages)
        for p, v, s in zip(passages, matrix, sentences, strict=True):
            row = db.execute(
                "INSERT INTO passages (chunk_id, doc_id, start, end, text, sentences, sentence_vectors, mentions)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    p.chunk_id,
                    p.doc_id,
                    p.start,
                    p.end,
                    p.text,
                    json.dumps([[x.start, x.end] for x in p.sentences]),
                    s.astype(np.float16).tobytes(),
                    json.dumps([[m.start, m.end, m.label] for m in p.mentions]),
                ),
            ).lastrowid
            vectors.add_with_ids(v[None], np.array([row]))
    db.commit()
    db.close()
    faiss.write_index(vectors, str(folder / "passages.faiss"))
    manifest = {"dim": DIM, "model": "test-model", "documents": 3, "passages": 9}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (index_dir / "CURRENT").write_text("v000001\n")


class TestMilvusStore(StoreContract):
    """The same contract against Milvus Lite (a .db file, in process)."""

    store = "milvus"

    def test_a_writer_killed_before_it_publishes_leaves_nothing_visible(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from rag.store.milvus import MilvusWriter

        fill(settings, range(5))
        before = open_reader(settings).version

        def killed(self: MilvusWriter) -> None:
            raise KeyboardInterrupt("killed between inserting rows and publishing them")

        with monkeypatch.context() as patch:
            patch.setattr(MilvusWriter, "_save_state", killed)
            with pytest.raises(KeyboardInterrupt), open_writer(settings, DIM, "test-model") as writer:
                put(writer, 77)
                writer.commit()
        index = open_reader(settings)
        assert index.version == before and index.lexical.search("marker77x0", 3) == []
        assert index.search(vectors_for(*article(77))[0][0], 1)[0][1] < 0.99
        with open_writer(settings, DIM, "test-model") as writer:
            assert "doc0077" not in writer.hashes()
        assert open_reader(settings).lexical.unknown(["marker77x0"]) == ["marker77x0"], "the next writer dropped them"


def test_top_k_is_exact_whatever_the_scores() -> None:
    from rag.store.lexical import top_k

    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(1, 150_000))
        scores = np.zeros(n, np.float32)
        filled = int(rng.integers(0, n + 1))
        scores[rng.choice(n, filled, replace=False)] = rng.integers(0, 5, filled) if trial % 2 else rng.random(filled)
        if trial % 3 == 0:
            scores -= 0.5  # negative scores too (dense inner products)
        k = int(rng.integers(1, 60))
        for positive in (True, False):
            rows = np.flatnonzero(scores > 0) if positive else np.arange(n)
            expected = rows[np.lexsort((rows, -scores[rows]))][:k]  # best first, ties by position
            assert np.array_equal(top_k(scores, k, positive), expected), (trial, n, k, positive)


def test_versions_order_by_number_and_unpublished_ones_are_dropped(tmp_path: Path) -> None:
    from rag.store.layout import version_file, version_names

    build(tmp_path, range(3))
    live = read_current(tmp_path)
    (tmp_path / "versions").joinpath("v999999.json").write_text("{}")  # written, never published: a kill
    assert version_names(tmp_path)[-1] == "v999999"
    with writing(tmp_path, DIM, "test-model") as writer:
        put(writer, 50)
    assert not version_file(tmp_path, "v999999").exists(), "a version newer than CURRENT was never published"
    assert read_current(tmp_path) != live and len(Index.open_current(tmp_path).documents()) == 4
    (tmp_path / "versions").joinpath("v1000000.json").write_text("{}")
    assert version_names(tmp_path)[-1] == "v1000000", "v1000000 comes after v999999"


def test_a_reopened_milvus_lite_file_answers(tmp_path: Path) -> None:
    from rag.store.milvus import close_client

    settings = store_settings(tmp_path, "milvus")
    fill(settings, range(3))
    close_client(settings)  # as a new process finds it: every collection released
    index = open_reader(settings)
    assert len(index.documents()) == 3 and index.lexical.search("marker1x0", 3)
    with open_writer(settings, DIM, "test-model") as writer:
        assert writer.delete("doc0001")


def test_the_segment_read_cache_reads_each_key_once_and_stays_bounded() -> None:
    from rag.store.segment import ReadCache

    reads: list[list[int]] = []

    def read(keys: list[int]) -> dict[int, str]:
        reads.append(keys)
        return {k: f"row {k}" for k in keys if k != 99}  # 99 is not in the segment

    cache = ReadCache(size=4)
    assert cache.get_many([1, 2, 99], read) == {1: "row 1", 2: "row 2"}
    assert cache.get_many([2, 1, 3], read) == {1: "row 1", 2: "row 2", 3: "row 3"}
    assert reads == [[1, 2, 99], [3]]
    assert cache.get_many([99], read) == {} and len(reads) == 2  # an absent key is remembered, not read again
    cache.get_many([4, 5], read)  # would hold 5: emptied first
    assert len(cache._items) <= 4
    assert cache.get_many([5], read) == {5: "row 5"} and reads[-1] == [4, 5]


def test_a_replaced_current_file_is_read_again_at_once(tmp_path: Path) -> None:
    """`read_current` keeps the last name while the file stays the same; a publish (`os.replace`) is seen
    on the very next call, and so is a CURRENT that names a version which does not exist."""
    from rag.store.layout import version_file

    build(tmp_path, range(2))
    first = read_current(tmp_path)
    assert first is not None and read_current(tmp_path) == first
    with writing(tmp_path, DIM, "test-model") as writer:
        put(writer, 60)
    second = read_current(tmp_path)
    assert second is not None and second != first
    staged = tmp_path / "CURRENT.staged"
    staged.write_text(first)
    os.replace(staged, tmp_path / "CURRENT")
    assert read_current(tmp_path) == first, "a rollback written the same way is seen too"
    staged.write_text("v777777")
    os.replace(staged, tmp_path / "CURRENT")
    assert not version_file(tmp_path, "v777777").exists() and read_current(tmp_path) is None
