"""The question-answering service: validate, retrieve, compose; used by the HTTP API and the CLI alike.

It owns the loaded index and swaps in a newer version when ingest publishes one (checked cheaply on
every request, or forced by `reload()`), so the server never needs a restart after an ingest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np

from rag.answer import Backend, Evidence
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import QuestionInvalid
from rag.models import FINAL, Answer, AnswerEvent, Composed, Document, Hit, Token, Turn
from rag.query_encoder import embed_query
from rag.retrieval import Filters, Retrieved, retrieve, unknown_publishers
from rag.store import DocumentInfo, IndexDamaged, Reader, current_version, missing, open_reader
from rag.terms import content_terms

log = logging.getLogger(__name__)

MAX_TOP_K = 50
NO_FILTERS = Filters()


class RagService:
    def __init__(self, settings: Settings, embedder: Embedder, backend: Backend) -> None:
        self.settings = settings
        self.embedder = embedder
        self.backend = backend
        self._index: Reader | None = None
        self._loaded_for: str | None = None  # the CURRENT pointer the loaded version was chosen for
        self._reload_lock = asyncio.Lock()
        self.answer_hooks: list[Callable[[Answer], None]] = []  # e.g. metrics, called with every final answer

    # -- the index -------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._index is not None

    @property
    def version(self) -> str | None:
        return self._index.version if self._index else None

    @property
    def passages(self) -> int:
        return self._index.size if self._index else 0

    @property
    def segments(self) -> int:
        """How many segments the loaded version has (one collection for Milvus)."""
        return len(getattr(self._index, "segments", ())) or int(self._index is not None)

    @property
    def documents_count(self) -> int:
        return int(self._index.manifest.get("documents", 0)) if self._index else 0

    def load(self) -> bool:
        """Load the live index version if it is not the one in memory; True when something changed.

        A damaged live version is reported once and the newest whole version answers instead.
        """
        current = current_version(self.settings)
        if current is None or current == self._loaded_for:
            return False
        self._loaded_for = current  # tried once per CURRENT: a damaged one is not re-read on every request
        try:
            fresh = open_reader(self.settings, self._index)
        except IndexDamaged:
            return False  # logged by open_current; keep what is loaded (or stay not ready)
        if self._index is not None and fresh.version == self._index.version:
            return False
        # The old version is not closed here: requests still running on it keep their reference, and it
        # closes when the last one lets go.
        self._index = fresh
        log.info("loaded index version %s (%d passages)", fresh.version, fresh.size)
        return True

    async def reload(self) -> bool:
        async with self._reload_lock:
            return await asyncio.to_thread(self.load)

    async def _live_index(self) -> Reader:
        if self._index is None or current_version(self.settings) != self._loaded_for:
            await self.reload()
        if self._index is None:
            raise missing(self.settings)
        return self._index

    # -- questions -------------------------------------------------------------------------------

    def validate(self, question: str, top_k: int | None) -> tuple[str, int]:
        text = question.strip()
        if not text:
            raise QuestionInvalid("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionInvalid(
                f"the question is {len(question)} characters long; the limit is {self.settings.max_question_chars}"
            )
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= MAX_TOP_K:
            raise QuestionInvalid(f"top_k must be between 1 and {MAX_TOP_K}, got {k}")
        return text, k

    async def search(self, query: str, top_k: int | None = None, filters: Filters = NO_FILTERS) -> tuple[Hit, ...]:
        text, k = self.validate(query, top_k)
        index = await self._live_index()
        vector, _ = await self._embed(text)
        found = await asyncio.to_thread(retrieve, index, self.embedder, text, k, self.settings, filters, vector)
        return found.hits

    async def _embed(self, text: str) -> tuple[np.ndarray, float]:
        """The query's vector and the milliseconds it took (batched with concurrent questions in the server)."""
        started = time.perf_counter()
        vector = await embed_query(self.embedder, text)
        return vector, (time.perf_counter() - started) * 1000

    async def stream(
        self,
        question: str,
        top_k: int | None = None,
        history: Sequence[Turn] = (),
        filters: Filters = NO_FILTERS,
    ) -> AsyncIterator[AnswerEvent | Answer]:
        """Tokens as they are produced, then the final `Answer` (with timings) as the last item.

        An LLM backend may first give the extractive answer: an `Answer` with stage EXTRACTIVE, shown while the
        model works and replaced by the final one.
        """
        started = time.perf_counter()
        asked, k = self.validate(question, top_k)
        text = await self.backend.standalone_question(asked, tuple(history)) if history else asked
        found, evidence = await self.evidence(text, k, filters, tuple(history))
        composing = time.perf_counter()
        first_token: float | None = None
        preliminary: dict[str, float] = {}  # when the extractive stage of an LLM backend was ready
        async for event in self.backend.compose(evidence):
            if isinstance(event, Composed) and event.stage != FINAL:
                preliminary["preliminary"] = _ms_since(started)
                yield self._answer(event, asked, text, preliminary)
                continue
            if isinstance(event, Composed):
                finished = time.perf_counter()
                timings = {
                    **{key: round(value, 2) for key, value in found.timings_ms.items()},
                    "compose": round((finished - composing) * 1000, 2),
                    "total": round((finished - started) * 1000, 2),
                    **preliminary,
                }
                if first_token is not None:  # an LLM's first piece of text, from the start of the request
                    timings["first_token"] = round((first_token - started) * 1000, 2)
                answer = self._answer(event, asked, text, timings)
                for hook in self.answer_hooks:
                    hook(answer)
                yield answer
                return
            if first_token is None and isinstance(event, Token):
                first_token = time.perf_counter()
            yield event

    def _answer(self, composed: Composed, asked: str, standalone: str, timings: dict[str, float]) -> Answer:
        return Answer(
            composed.answer,
            composed.answered,
            composed.citations,
            composed.answered_by or self.backend.name,
            timings,
            composed.grounding,
            asked,
            standalone,
            composed.confidence,
            composed.answer_span,
            composed.stage,
        )

    async def evidence(
        self, question: str, k: int, filters: Filters = NO_FILTERS, history: tuple[Turn, ...] = ()
    ) -> tuple[Retrieved, Evidence]:
        """Retrieve for a validated question and read everything a backend answers from."""
        index = await self._live_index()
        vector, embed_ms = await self._embed(question)
        found, evidence = await asyncio.to_thread(self._retrieve_evidence, index, question, k, filters, history, vector)
        found.timings_ms["embed"] = embed_ms
        return found, evidence

    def _retrieve_evidence(
        self, index: Reader, question: str, k: int, filters: Filters, history: tuple[Turn, ...], vector: np.ndarray
    ) -> tuple[Retrieved, Evidence]:
        """Both in one worker thread: a second hop to the thread pool costs more than reading the evidence."""
        found = retrieve(index, self.embedder, question, k, self.settings, filters, vector)
        return found, _evidence(index, question, found, history)

    async def ask(
        self,
        question: str,
        top_k: int | None = None,
        history: Sequence[Turn] = (),
        filters: Filters = NO_FILTERS,
    ) -> Answer:
        """The whole answer at once: the joined stream."""
        async for event in self.stream(question, top_k, history, filters):
            if isinstance(event, Answer) and event.stage == FINAL:
                return event
        raise RuntimeError(f"backend {self.backend.name} ended without an answer")

    # -- documents -------------------------------------------------------------------------------

    async def documents(self) -> list[DocumentInfo]:
        return (await self._live_index()).documents()

    async def document(self, doc_id: str) -> Document:
        return (await self._live_index()).document(doc_id)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _evidence(index: Reader, question: str, found: Retrieved, history: tuple[Turn, ...]) -> Evidence:
    chunk_ids = [hit.passage.chunk_id for hit in found.hits]
    vectors = index.sentence_vectors(chunk_ids) if chunk_ids else {}
    unknown = index.lexical.unknown(content_terms(question)) if index.lexical else []
    documents = {doc_id: index.document(doc_id) for doc_id in dict.fromkeys(h.passage.doc_id for h in found.hits)}
    return Evidence(
        question,
        found.query_vector,
        found.hits,
        vectors,
        history,
        tuple(unknown),
        documents,
        tuple(unknown_publishers(index, question)),
    )
