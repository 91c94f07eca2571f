"""Answer backends: one small protocol, and the one registry that picks an implementation by name.

A backend turns retrieved evidence into an answer as a stream of `Token` events ending in one
`Composed` event; the non-streaming answer is the joined stream, so both share one path.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import ConfigError
from rag.models import AnswerEvent, Document, Hit, Turn


@dataclass(frozen=True)
class Evidence:
    """What a backend answers from: the question, its vector, the hits, their sentence vectors and documents."""

    question: str
    question_vector: np.ndarray
    hits: tuple[Hit, ...]
    sentence_vectors: dict[str, np.ndarray]  # chunk_id -> (len(passage.sentences), dim)
    history: tuple[Turn, ...] = ()
    unknown_terms: tuple[str, ...] = ()  # question terms that no document of the corpus contains
    documents: dict[str, Document] = field(default_factory=dict)  # the hits' documents, by doc_id
    unknown_publishers: tuple[str, ...] = ()  # sources the question cites that no document comes from


class Backend(Protocol):
    name: str

    def compose(self, evidence: Evidence) -> AsyncIterator[AnswerEvent]:
        """Yield `Token`s as the answer is produced, then exactly one final `Composed`.

        An LLM backend may yield the extractive answer first, as a `Composed` with stage EXTRACTIVE.
        """
        ...

    async def standalone_question(self, question: str, history: tuple[Turn, ...]) -> str:
        """The follow-up `question` rewritten to stand on its own, for retrieval."""
        ...


BackendFactory = Callable[[Settings, Embedder], Backend]

# name -> "module:factory"; imported lazily so optional extras are only needed when chosen.
BACKENDS: dict[str, str] = {
    "extractive": "rag.answer.extractive:ExtractiveBackend",
    "openai": "rag.answer.openai:create",
    "ollama": "rag.answer.ollama:create",
    "llamacpp": "rag.answer.llamacpp:create",
}


def create_backend(settings: Settings, embedder: Embedder) -> Backend:
    """Build the backend named by `settings.backend`, failing with one clear line if it can't."""
    target = BACKENDS.get(settings.backend)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"unknown backend {settings.backend!r} (RAG_BACKEND); choose one of: {known}")
    module_name, factory_name = target.split(":")
    factory: BackendFactory = getattr(importlib.import_module(module_name), factory_name)
    return factory(settings, embedder)
