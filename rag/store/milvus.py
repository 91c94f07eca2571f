"""The Milvus store (RAG_STORE=milvus): the same reads and writes as the segment store, kept in Milvus.

For an archive that outgrows one machine. The same code talks to Milvus Lite (a `.db` file, in process: what the
tests use) and to a Milvus standalone or cluster (`http://host:19530`). Three collections, named by
RAG_MILVUS_COLLECTION (default `newsrag`):

    {prefix}_passages    one row per passage: the vector (HNSW, inner product), its BM25 terms (Milvus' own
                         BM25 function over the same stemmed content terms the segment store indexes), the
                         filter fields (doc_id, date, source, agency), and the passage itself as JSON (offsets,
                         text, sentence spans, mentions, sentence vectors)
    {prefix}_documents   one row per document part: metadata, and the text in parts of at most 16,000 characters
    {prefix}_meta        one row: the published version, its counts, dimension and model

Publishing: a writer inserts its rows with `batch` = the published batch + 1, which no reader sees (every read
filters `batch <= published`), then moves `published` in the meta row, then deletes the rows its new version
replaced. A killed writer leaves invisible rows, removed by the next writer; a writer killed after the move
leaves the replaced rows listed in the meta row, and the next writer deletes them first.
Milvus has no multi-row transaction, so between the move and the delete (milliseconds) a replaced document's
old and new passages can both be found. Milvus Lite lets one process open a `.db` file: with it, upload over
HTTP while `rag serve` runs instead of running `rag ingest` beside it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import BadRequest, NotFound, NotReady
from rag.models import Document, Mention, Passage, Span
from rag.store.segment import Batch, DocumentInfo, pack_sentence_vectors, unpack_sentence_vectors
from rag.terms import content_terms

log = logging.getLogger(__name__)
# Milvus Lite has no server timestamp for iterators; pymilvus warns so on every one and then does the right thing.
logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)

TEXT_PART = 16_000  # characters per document part: VARCHAR holds 65,535 bytes, and a character is up to 4
LIMIT = 16_384  # Milvus' largest page for query()
META_KEY = "state"
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def milvus_uri(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def client_for(settings: Settings):  # type: ignore[no-untyped-def]
    """One client per URI in a process (Milvus Lite serves a .db file to a single process)."""
    from pymilvus import MilvusClient

    uri = milvus_uri(settings)
    with _clients_lock:
        if uri not in _clients:
            if "://" not in uri:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            _clients[uri] = MilvusClient(uri=uri, token=settings.milvus_token)
        return _clients[uri]


def no_milvus_index(settings: Settings) -> NotReady:
    return NotReady(f"no index in Milvus at {milvus_uri(settings)} yet: run `rag ingest PATH` first")


def close_client(settings: Settings) -> None:
    """Close this process' client of the configured Milvus (Milvus Lite: frees the .db file for another process)."""
    with _clients_lock:
        client = _clients.pop(milvus_uri(settings), None)
    if client is not None:
        client.close()
        _loaded.difference_update({key for key in _loaded if key[0] == id(client)})


class Names:
    def __init__(self, prefix: str) -> None:
        self.passages = f"{prefix}_passages"
        self.documents = f"{prefix}_documents"
        self.meta = f"{prefix}_meta"


_loaded: set[tuple[int, str]] = set()


def ensure_loaded(client, name: str) -> None:  # type: ignore[no-untyped-def]
    """Load a collection once per client: a reopened Milvus has its collections released."""
    if (id(client), name) not in _loaded:
        client.load_collection(name)
        _loaded.add((id(client), name))


def read_state(client, names: Names) -> dict | None:  # type: ignore[no-untyped-def]
    if not client.has_collection(names.meta):
        return None
    ensure_loaded(client, names.meta)
    rows = client.query(names.meta, ids=[META_KEY], output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def version_name(state: dict) -> str:
    return f"v{state['version']:06d}"


def quoted(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(value, ensure_ascii=False)  # Milvus unquotes like Go: no UTF-16 surrogate escapes


def _in(field: str, values: Sequence[str]) -> str:
    return f"{field} in [{', '.join(quoted(v) for v in values)}]"


class MilvusIndex:
    """A published version of the Milvus store, with the reads `rag.store.Index` has.

    A selection (what `rows_where` returns and `search` takes) is a filter expression.
    """

    def __init__(self, settings: Settings) -> None:
        self.client = client_for(settings)
        self.names = Names(settings.milvus_collection)
        state = read_state(self.client, self.names)
        if state is None:
            raise no_milvus_index(settings)
        for name in (self.names.passages, self.names.documents, self.names.meta):
            ensure_loaded(self.client, name)
        self.state = state
        self.version = version_name(state)
        self.size = int(state["passages"])
        self.manifest = {k: state[k] for k in ("dim", "model", "documents", "passages")}
        self.visible = f"batch <= {int(state['published'])}"
        self.lexical = MilvusLexical(self)
        self.path = milvus_uri(settings)

    # -- search ----------------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed: str | None = None) -> list[tuple[int, float]]:
        hits = self.client.search(
            self.names.passages,
            data=[np.asarray(query, dtype=np.float32).tolist()],
            anns_field="vector",
            limit=k,
            filter=self.where(allowed),
            search_params={"metric_type": "IP"},
        )
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def where(self, allowed: str | None) -> str:
        return self.visible if allowed is None else f"({self.visible}) and ({allowed})"

    def vector(self, row: int) -> np.ndarray:
        return self.similarity_vectors([row])[row]

    def similarity_vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        if not rows:
            return {}
        found = self.client.query(self.names.passages, ids=list(rows), output_fields=["vector"])
        return {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in found}

    def similarity(self, query: np.ndarray, row_ids: Sequence[int]) -> dict[int, float]:
        return {row: float(vector @ query) for row, vector in self.similarity_vectors(row_ids).items()}

    def rows_where(
        self,
        doc_ids: Sequence[str] = (),
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> str:
        clauses = []
        if doc_ids:
            clauses.append(_in("doc_id", doc_ids))
        if source:
            clauses.append(f"source == {quoted(source)}")
        if date_from:
            clauses.append(f'date != "" and date >= {quoted(date_from)}')
        if date_to:
            clauses.append(f'date != "" and date <= {quoted(date_to)}')
        return " and ".join(clauses) or "id >= 0"

    def rows_published_by(self, publisher: str, within: str | None = None) -> str:
        expression = f"(source == {quoted(publisher)} or agency == {quoted(publisher)})"
        return expression if within is None else f"{expression} and ({within})"

    @property
    def publishers(self) -> tuple[str, ...]:
        return tuple(self.state.get("publishers", ()))

    # -- rows and documents ----------------------------------------------------------------------

    def passages(self, row_ids: Sequence[int]) -> dict[int, Passage]:
        if not row_ids:
            return {}
        rows = self.client.query(self.names.passages, ids=list(row_ids), output_fields=["payload"])
        return {int(r["id"]): _passage(json.loads(r["payload"])) for r in rows}

    def all_passages(self) -> Iterator[tuple[int, Passage]]:
        for row in self._iterate(self.names.passages, self.visible, ["payload"]):
            yield int(row["id"]), _passage(json.loads(row["payload"]))

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        rows = self.client.query(
            self.names.passages, filter=self.where(_in("chunk_id", chunk_ids)), output_fields=["payload"]
        )
        dim = int(self.state["dim"])
        found = {}
        for row in rows:
            payload = json.loads(row["payload"])
            blob = base64.b64decode(payload["sentence_vectors"])
            found[payload["chunk_id"]] = unpack_sentence_vectors(blob, dim)
        return found

    def documents(self) -> list[DocumentInfo]:
        rows = self._iterate(self.names.documents, f"{self.visible} and part == 0", ["meta"])
        infos = [_info(json.loads(r["meta"])) for r in rows]
        return sorted(infos, key=lambda d: d.doc_id)

    def document(self, doc_id: str) -> Document:
        rows = self.client.query(
            self.names.documents,
            filter=self.where(f"doc_id == {quoted(doc_id)}"),
            output_fields=["part", "meta", "text", "batch"],
            limit=LIMIT,
        )
        if not rows:
            raise NotFound(f"unknown document {doc_id!r}")
        newest = max(r["batch"] for r in rows)  # a replaced copy may linger for milliseconds after a publish
        rows = sorted((r for r in rows if r["batch"] == newest), key=lambda r: r["part"])
        meta = json.loads(rows[0]["meta"])
        text = "".join(r["text"] for r in rows)
        return Document(
            doc_id, text, meta["title"], meta["source_path"], meta["sha256"], meta["place"], meta["agency"],
            meta["author"], meta["date"], meta["url"], meta["source"],
        )  # fmt: skip

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        if not doc_ids:
            return {}
        rows = self.client.query(
            self.names.documents,
            filter=self.where(f"part == 0 and {_in('doc_id', doc_ids)}"),
            output_fields=["doc_id", "meta"],
            limit=LIMIT,
        )
        return {r["doc_id"]: json.loads(r["meta"])["title"] for r in rows}

    def _iterate(self, collection: str, expression: str, fields: list[str]) -> Iterator[dict]:
        iterator = self.client.query_iterator(collection, filter=expression, output_fields=fields, batch_size=1000)
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()


class MilvusLexical:
    """BM25 through Milvus' own BM25 function, over the stemmed content terms the segment store indexes."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index

    def search(self, query: str, k: int, allowed: str | None = None) -> list[tuple[int, float]]:
        terms = " ".join(content_terms(query))
        if not terms:
            return []
        hits = self._index.client.search(
            self._index.names.passages,
            data=[terms],
            anns_field="sparse",
            limit=k,
            filter=self._index.where(allowed),
            search_params={"metric_type": "BM25"},
        )
        # Milvus Lite reports BM25 as a negative distance; a server as the positive score.
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits[0] if h["distance"]]

    def unknown(self, terms: list[str]) -> list[str]:
        return [t for t in dict.fromkeys(terms) if not self.search(t, 1)] if terms else []


# -- writing ---------------------------------------------------------------------------------------


class MilvusWriter:
    """The Milvus counterpart of `rag.store.IndexWriter`: put, delete, commit, compact."""

    def __init__(self, settings: Settings, dim: int, model: str, segment_passages: int = 5_000) -> None:
        self.client = client_for(settings)
        self.names = Names(settings.milvus_collection)
        self.dim = dim
        self.model = model
        self.segment_passages = segment_passages
        self.bytes_written = 0
        self.changed = False
        self._ensure_collections()
        for name in (self.names.passages, self.names.documents, self.names.meta):
            ensure_loaded(self.client, name)
        state = read_state(self.client, self.names)
        if state is not None and (state["dim"] != dim or state["model"] != model):
            raise BadRequest(
                f"the Milvus collections {settings.milvus_collection}_* hold {state['model']} ({state['dim']}-d) "
                f"vectors; set another RAG_MILVUS_COLLECTION to use {model}"
            )
        self.state = state or {
            "version": 0, "published": 0, "next_id": 0, "dim": dim, "model": model, "documents": 0,
            "passages": 0, "publishers": [], "cleanup": [],
        }  # fmt: skip
        self.previous = version_name(self.state) if state else None
        self.version = self.previous
        self._finish_cleanup()
        self._drop_unpublished()
        self._live = self._load_live()
        self._pending: dict[str, Batch] = {}
        self._pending_passages = 0
        self._removed: set[str] = set()  # published documents to delete at the next commit

    @property
    def segments(self) -> list[str]:
        return [self.names.passages]

    def _ensure_collections(self) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        client = self.client
        if not client.has_collection(self.names.passages):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            for field in ("chunk_id", "doc_id", "date", "source", "agency"):
                schema.add_field(field, DataType.VARCHAR, max_length=1024)
            schema.add_field("batch", DataType.INT64)
            schema.add_field(
                "terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"},
            )  # fmt: skip
            schema.add_field("payload", DataType.VARCHAR, max_length=65_535)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
            schema.add_function(
                Function(
                    name="bm25", function_type=FunctionType.BM25,
                    input_field_names=["terms"], output_field_names=["sparse"],
                )
            )  # fmt: skip
            index = client.prepare_index_params()
            index.add_index(field_name="vector", index_type="HNSW", metric_type="IP", params={"M": 32,
                            "efConstruction": 80})  # fmt: skip
            index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            client.create_collection(self.names.passages, schema=schema, index_params=index, consistency_level="Strong")
        for name, fields in (
            (self.names.documents, (("doc_id", 1024), ("meta", 65_535), ("text", 65_535))),
            (self.names.meta, (("value", 65_535),)),
        ):
            if client.has_collection(name):
                continue
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1100)
            for field, length in fields:
                schema.add_field(field, DataType.VARCHAR, max_length=length)
            if name == self.names.documents:
                schema.add_field("part", DataType.INT64)
                schema.add_field("batch", DataType.INT64)
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
            index = client.prepare_index_params()
            index.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
            client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")

    def _finish_cleanup(self) -> None:
        """Delete the old rows of what the published version replaced or deleted (again, if a writer was
        killed before it could). The document ids are in meta rows of their own: one row holds 64 KB."""
        parts = self.state.get("cleanup") or []
        if not parts:
            return
        for part in parts:
            rows = self.client.query(self.names.meta, ids=[part], output_fields=["value"])
            if rows:
                self._delete_rows(json.loads(rows[0]["value"]), int(self.state["published"]))
        self.state["cleanup"] = []
        self._save_state()
        self.client.delete(self.names.meta, ids=parts)

    def _save_cleanup(self, doc_ids: list[str]) -> list[str]:
        """Store the ids to clean up in meta rows of at most ~60 KB each; their keys."""
        keys: list[str] = []
        chunk: list[str] = []
        size = 0
        for doc_id in [*doc_ids, None]:
            if doc_id is None or size + len(doc_id) + 4 > 60_000:
                if chunk:
                    key = f"cleanup-{len(keys)}"
                    self.client.upsert(
                        self.names.meta, [{"key": key, "value": json.dumps(chunk), "unused": [0.0, 0.0]}]
                    )
                    keys.append(key)
                chunk, size = [], 0
            if doc_id is not None:
                chunk.append(doc_id)
                size += len(doc_id.encode()) + 4
        return keys

    def _drop_unpublished(self) -> None:
        unpublished = f"batch > {int(self.state['published'])}"
        self.client.delete(self.names.passages, filter=unpublished)
        self.client.delete(self.names.documents, filter=unpublished)

    def _load_live(self) -> dict[str, tuple[str, str, int, list[str]]]:
        live = {}
        visible = f"batch <= {int(self.state['published'])} and part == 0"
        iterator = self.client.query_iterator(
            self.names.documents, filter=visible, output_fields=["doc_id", "meta"], batch_size=1000
        )
        try:
            while batch := iterator.next():
                for row in batch:
                    meta = json.loads(row["meta"])
                    publishers = [p for p in (meta["source"], meta["agency"]) if p]
                    live[row["doc_id"]] = (meta["sha256"], meta["source_path"], meta["passage_count"], publishers)
        finally:
            iterator.close()
        return live

    def sha256_of(self, doc_id: str) -> str | None:
        live = self._live.get(doc_id)
        return live[0] if live else None

    def hashes(self) -> dict[str, str]:
        return {doc_id: v[0] for doc_id, v in self._live.items()}

    def source_paths(self) -> dict[str, str]:
        return {doc_id: v[1] for doc_id, v in self._live.items()}

    def delete(self, doc_id: str) -> bool:
        if doc_id not in self._live:
            return False
        del self._live[doc_id]
        pending = self._pending.pop(doc_id, None)
        if pending is None:
            self._removed.add(doc_id)
        else:
            self._pending_passages -= len(pending.passages)
        self.changed = True
        return True

    def put(
        self,
        document: Document,
        passages: Sequence[Passage],
        passage_vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray],
    ) -> None:
        self.delete(document.doc_id)
        self.changed = True
        self._pending[document.doc_id] = Batch(document, passages, passage_vectors, sentence_vectors)
        self._pending_passages += len(passages)
        publishers = [p for p in (document.source, document.agency) if p]
        self._live[document.doc_id] = (document.sha256, document.source_path, len(passages), publishers)
        if self._pending_passages >= self.segment_passages:
            self.commit()

    def commit(self) -> str:
        batch = int(self.state["published"]) + 1
        passage_rows, document_rows = [], []
        for b in self._pending.values():
            document_rows.extend(_document_rows(b.document, len(b.passages), batch))
            for passage, vector, sentence in zip(b.passages, b.passage_vectors, b.sentence_vectors, strict=True):
                passage_rows.append(_passage_row(self.state["next_id"], passage, b.document, vector, sentence, batch))
                self.state["next_id"] += 1
        for start in range(0, len(passage_rows), 1000):
            self.client.insert(self.names.passages, passage_rows[start : start + 1000])
        for start in range(0, len(document_rows), 500):
            self.client.insert(self.names.documents, document_rows[start : start + 500])
        self.bytes_written += sum(len(r["payload"]) + 4 * self.dim for r in passage_rows)
        self.state.update(
            version=int(self.state["version"]) + 1,
            published=batch,
            documents=len(self._live),
            passages=sum(v[2] for v in self._live.values()),
            publishers=sorted({p for v in self._live.values() for p in v[3]}),
            cleanup=self._save_cleanup(sorted(self._removed)),
        )
        self._save_state()  # the new version is visible from here on
        self._finish_cleanup()
        self._pending.clear()
        self._pending_passages = 0
        self._removed.clear()
        self.version = self.previous = version_name(self.state)
        self.changed = False
        log.info("published Milvus version %s (%d documents)", self.version, self.state["documents"])
        return self.version

    def compact(self) -> str:
        if self.changed:
            self.commit()
        for name in (self.names.passages, self.names.documents):
            self.client.compact(name)
        return str(self.version)

    def abort(self) -> None:
        self._pending.clear()
        self._pending_passages = 0
        self._removed.clear()

    def _delete_rows(self, doc_ids: list[str], below: int) -> None:
        for start in range(0, len(doc_ids), 500):
            chosen = _in("doc_id", doc_ids[start : start + 500])
            self.client.delete(self.names.passages, filter=f"{chosen} and batch < {below}")
            self.client.delete(self.names.documents, filter=f"{chosen} and batch < {below}")

    def _save_state(self) -> None:
        row = {"key": META_KEY, "value": json.dumps(self.state), "unused": [0.0, 0.0]}
        self.client.upsert(self.names.meta, [row])


class MilvusVersionWatch:
    """The published version, read at most once a second: readers poll it on every request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._seen: tuple[float, str | None] = (0.0, None)

    def current(self) -> str | None:
        checked, version = self._seen
        if time.monotonic() - checked < 1.0:
            return version
        state = read_state(client_for(self.settings), Names(self.settings.milvus_collection))
        version = version_name(state) if state else None
        self._seen = (time.monotonic(), version)
        return version


def _document_rows(document: Document, passage_count: int, batch: int) -> list[dict]:
    d = document
    meta = {
        "title": d.title, "source_path": d.source_path, "sha256": d.sha256, "place": d.place, "agency": d.agency,
        "author": d.author, "date": d.date, "url": d.url, "source": d.source, "length": d.length,
        "passage_count": passage_count, "doc_id": d.doc_id,
    }  # fmt: skip
    parts = [d.text[i : i + TEXT_PART] for i in range(0, len(d.text), TEXT_PART)] or [""]
    return [
        {"key": f"{d.doc_id}#{n}", "doc_id": d.doc_id, "meta": json.dumps(meta) if n == 0 else "", "text": part,
         "part": n, "batch": batch, "unused": [0.0, 0.0]}
        for n, part in enumerate(parts)
    ]  # fmt: skip


def _passage_row(
    row: int, passage: Passage, document: Document, vector: np.ndarray, sentences: np.ndarray, batch: int
) -> dict:
    payload = {
        "chunk_id": passage.chunk_id,
        "doc_id": passage.doc_id,
        "start": passage.start,
        "end": passage.end,
        "text": passage.text,
        "sentences": [[s.start, s.end] for s in passage.sentences],
        "mentions": [[m.start, m.end, m.label] for m in passage.mentions],
        "sentence_vectors": base64.b64encode(pack_sentence_vectors(sentences)).decode(),
    }
    return {
        "id": row,
        "chunk_id": passage.chunk_id,
        "doc_id": passage.doc_id,
        "date": document.date or "",
        "source": document.source or "",
        "agency": document.agency or "",
        "batch": batch,
        "terms": " ".join(content_terms(passage.text)),
        "payload": json.dumps(payload),
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
    }


def _passage(payload: dict) -> Passage:
    spans = tuple(Span(s, e) for s, e in payload["sentences"])
    mentions = tuple(Mention(*m) for m in payload["mentions"])
    return Passage(
        payload["chunk_id"], payload["doc_id"], payload["start"], payload["end"], payload["text"], spans, mentions
    )


def _info(meta: dict) -> DocumentInfo:
    return DocumentInfo(
        meta["doc_id"], meta["title"], meta["source_path"], meta["sha256"], meta["place"], meta["agency"],
        meta["author"], meta["date"], meta["url"], meta["source"], meta["length"], meta["passage_count"],
    )  # fmt: skip
