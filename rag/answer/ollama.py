"""RAG_BACKEND=ollama: a model served by Ollama, through langchain-ollama (an optional extra)."""

from __future__ import annotations

from rag.answer.llm import LangChainChat, LLMBackend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:11434"


def create(settings: Settings, embedder: Embedder) -> LLMBackend:
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise ConfigError("RAG_BACKEND=ollama needs langchain-ollama: pip install -e '.[ollama]'") from None
    if not settings.llm_model:
        raise ConfigError("RAG_BACKEND=ollama needs RAG_LLM_MODEL, the name of a model pulled into Ollama")
    url = settings.llm_base_url or DEFAULT_URL
    model = ChatOllama(
        base_url=url,
        model=settings.llm_model,
        temperature=settings.llm_temperature,
        num_predict=settings.llm_max_tokens,
        client_kwargs={"timeout": settings.llm_timeout},
    )
    return LLMBackend("ollama", LangChainChat(model, url), settings, embedder)
