"""RAG_BACKEND=openai: any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, Ollama's /v1, OpenAI)."""

from __future__ import annotations

from rag.answer.llm import LangChainChat, LLMBackend
from rag.config import Settings
from rag.embeddings import Embedder

DEFAULT_URL = "http://127.0.0.1:8080/v1"


def create(settings: Settings, embedder: Embedder) -> LLMBackend:
    from langchain_openai import ChatOpenAI

    url = settings.llm_base_url or DEFAULT_URL
    model = ChatOpenAI(
        base_url=url,
        api_key=settings.llm_api_key,  # type: ignore[arg-type]
        model=settings.llm_model or "default",
        timeout=settings.llm_timeout,
        max_retries=0,  # retries are ours: one, and only before the first token
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
        temperature=settings.llm_temperature,
        streaming=True,
    )
    return LLMBackend("openai", LangChainChat(model, url), settings, embedder)
