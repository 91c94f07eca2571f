"""Query embeddings for a busy server: concurrent requests share one encoder call, repeats come from a cache.

Every request used to make its own encoder call, and on 2 cores those calls fight over the same threads,
so throughput stopped at ~31 asks/s whatever the concurrency. Here one thread owns the encoder: it takes every
query waiting, encodes them in one batch, and hands each caller its row. While it encodes, new queries
queue up and form the next batch, so a lone request waits for nothing and a crowd gets batched by itself.
`window_ms` adds an optional wait for stragglers before each batch.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from rag.embeddings import Embedder, Vectors
from rag.models import Span

log = logging.getLogger(__name__)
MAX_BATCH = 64


async def embed_query(embedder: Embedder, text: str) -> np.ndarray:
    """A query's vector from any embedder, without holding a worker thread when it batches."""
    if isinstance(embedder, BatchingEmbedder):
        return await embedder.encode_query(text)
    return (await asyncio.to_thread(embedder.encode_queries, [text]))[0]


class BatchingEmbedder:
    """An `Embedder` whose query encodings are batched across threads and cached; passages pass through."""

    def __init__(self, inner: Embedder, window_ms: float = 0.0, cache_size: int = 4096) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.window = window_ms / 1000
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._waiting: queue.SimpleQueue[tuple[str, Future[np.ndarray]]] = queue.SimpleQueue()
        self.batches = 0
        self.cache_hits = 0
        threading.Thread(target=self._loop, name="query-encoder", daemon=True).start()

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        rows = [self._submit(text) for text in texts]
        vectors = [row.result() if isinstance(row, Future) else row for row in rows]
        return np.stack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32)

    async def encode_query(self, text: str) -> np.ndarray:
        """One query's vector, awaited on the event loop: no worker thread sits blocked while it waits."""
        row = self._submit(text)
        return await asyncio.wrap_future(row) if isinstance(row, Future) else row

    def _submit(self, text: str) -> np.ndarray | Future[np.ndarray]:
        cached = self._cached(text)
        if cached is not None:
            return cached
        future: Future[np.ndarray] = Future()
        self._waiting.put((text, future))
        return future

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        # Not serialised with the query batches: an upload's long passage batch must not stall questions.
        return self.inner.encode_passages(texts, sentences)

    # -- the encoder thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            batch = [self._waiting.get()]
            deadline = time.perf_counter() + self.window
            while len(batch) < MAX_BATCH:
                try:
                    remaining = deadline - time.perf_counter()
                    batch.append(self._waiting.get(timeout=remaining) if remaining > 0 else self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                self._encode(batch)
            except Exception:  # this thread must never die: every later question would wait forever
                log.exception("query encoder batch failed")

    def _encode(self, batch: list[tuple[str, Future[np.ndarray]]]) -> None:
        # A caller that went away (a client closed its stream) cancelled its future: skip it.
        live = [(text, future) for text, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        unique = list(dict.fromkeys(text for text, _ in live))
        try:
            vectors = self.inner.encode_queries(unique)
        except Exception as error:  # every caller gets the error, the loop lives on
            for _, future in live:
                future.set_exception(error)
            return
        self.batches += 1
        by_text = dict(zip(unique, vectors, strict=True))
        for text, future in live:
            future.set_result(by_text[text])
        self._remember(by_text)

    # -- the cache -------------------------------------------------------------------------------

    def _cached(self, text: str) -> np.ndarray | None:
        if not self.cache_size:
            return None
        with self._cache_lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
            return vector

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        if not self.cache_size:
            return
        with self._cache_lock:
            for text, vector in vectors.items():
                vector.setflags(write=False)  # shared between callers: nobody may change it in place
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
