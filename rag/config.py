"""One settings object for the whole project, read once from `RAG_*` environment variables."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = PROJECT_ROOT / "prompts"


class Settings(BaseSettings):
    """Everything configurable; see the configuration table in the README."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=None, extra="ignore")

    index_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "index",
        description="Folder holding the on-disk index (segments, versions, CURRENT pointer).",
    )
    device: str = Field(
        default="cpu",
        pattern="^(cpu|cuda|auto)$",
        description="Where the embedding model runs: cpu, cuda (fp16; an error without a GPU), or auto.",
    )
    store: str = Field(
        default="faiss",
        pattern="^(faiss|milvus)$",
        description="faiss: segments on disk in RAG_INDEX_DIR (embedded); milvus: a Milvus server or Milvus Lite file.",
    )
    milvus_uri: str = Field(
        default="",
        description="Milvus to use with RAG_STORE=milvus: a .db file (Milvus Lite, in process) or http://host:19530; "
        "empty is RAG_INDEX_DIR/milvus.db.",
    )
    milvus_token: str = Field(default="", repr=False, description="Milvus credentials (`user:password` or a token).")
    milvus_collection: str = Field(
        default="newsrag", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$", description="Prefix of the Milvus collections."
    )
    corpus_dir: Path = Field(
        default=PROJECT_ROOT / "corpus",
        description="Corpus ingested by `make serve` when no index exists yet.",
    )
    top_k: int = Field(default=8, ge=1, le=50, description="Passages retrieved per question.")
    backend: str = Field(default="extractive", description="Answer backend, chosen by name.")
    host: str = Field(default="127.0.0.1", description="Address `rag serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `rag serve` listens on.")
    embedding_model: str = Field(
        default="",
        description="Path of a sentence-transformers model folder; empty uses the packaged MiniLM.",
    )
    embedder: str = Field(
        default="auto",
        pattern="^(auto|bert|sentence-transformers)$",
        description="Encoder runtime: auto (plain-torch BERT when the model is BERT + mean pooling, "
        "else sentence-transformers), bert or sentence-transformers. Both give the same vectors up to float rounding.",
    )
    embed_batch_size: int = Field(default=32, ge=1, description="Passages per encoder batch.")
    query_bf16: str = Field(
        default="auto",
        pattern="^(auto|true|false)$",
        description="Embed questions in bfloat16: auto (when the CPU has it natively), true or false.",
    )
    chunk_min_words: int = Field(default=60, ge=1, description="Aim for passages at least this long.")
    chunk_max_words: int = Field(default=150, ge=10, description="Never exceed this unless one sentence does.")
    chunk_overlap_sentences: int = Field(default=1, ge=0, le=3, description="Sentences shared by neighbours.")
    retrieval: str = Field(
        default="hybrid", pattern="^(hybrid|dense|lexical)$", description="hybrid (dense + BM25), dense or lexical."
    )
    fusion: str = Field(
        default="relative", pattern="^(rrf|relative)$", description="rrf (reciprocal rank) or relative (scaled scores)."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense ranking in the fusion.")
    lexical_weight: float = Field(default=1.0, ge=0, description="Weight of the BM25 ranking in the fusion.")
    candidates: int = Field(default=30, ge=1, description="Passages each retriever contributes before fusion.")
    sentence_rescore: bool = Field(
        default=False, description="Re-rank fused passages by their best sentence's similarity to the question."
    )
    mmr_lambda: float = Field(
        default=1.0, ge=0, le=1, description="MMR relevance/diversity trade-off; 1.0 turns MMR off."
    )
    max_question_chars: int = Field(default=2000, ge=1, description="Longer questions get a 422.")
    min_answer_score: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Confidence (0..1) below which the service says the corpus does not answer; "
        "see `rag eval --coverage` for what each value trades.",
    )
    max_answer_sentences: int = Field(default=3, ge=1, le=5, description="Sentences in an extractive answer.")
    llm_base_url: str = Field(
        default="",
        description="LLM server URL; empty means http://127.0.0.1:8080/v1 (openai) or http://127.0.0.1:11434 (ollama).",
    )
    llm_model: str = Field(
        default="",
        description="Model name sent to the LLM server (openai, ollama); for llamacpp a packaged "
        "model: qwen2.5-1.5b (default), qwen2.5-0.5b (both installed by `rag install-model`) or smollm2.",
    )
    llm_api_key: str = Field(default="not-needed", description="API key for the OpenAI-compatible server.")
    llm_model_path: str = Field(
        default="", description="GGUF file for RAG_BACKEND=llamacpp; empty uses the packaged RAG_LLM_MODEL."
    )
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the LLM's next piece of text.")
    llm_max_tokens: int = Field(default=256, ge=16, description="Longest answer the LLM may write.")
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="LLM sampling temperature.")
    llm_context_tokens: int = Field(default=2048, ge=512, description="Context window of the local model.")
    llm_threads: int = Field(default=0, ge=0, description="Threads llama.cpp computes with; 0 is every core.")
    llm_gpu_layers: int = Field(
        default=-1,
        ge=-1,
        description="Model layers llama.cpp offloads to the GPU: -1 all of them when llama-cpp-python was built "
        "with GPU support (CUDA, Metal, Vulkan) and none otherwise, 0 none, N the first N.",
    )
    llm_evidence_sentences: int = Field(
        default=-1,
        ge=-1,
        description="Best sentences (each with its neighbours) given to an LLM; 0 gives every retrieved passage "
        "whole; -1: 2 for the in-process llamacpp model (it reads ~100 prompt tokens/s on 2 cores), else 0.",
    )
    llm_answer_format: str = Field(
        default="auto",
        pattern="^(auto|short|sentence)$",
        description="What the LLM is asked to write: short (the answer in a few words and its passage number; the "
        "code quotes the sentence that holds it), sentence (a short answer, then the sentence that shows it, "
        "copied), or auto: short for the in-process llamacpp model, sentence for a server.",
    )
    llm_extractive_first: bool = Field(
        default=True,
        description="Stream the extractive answer first (stage `extractive`) while the LLM writes its own.",
    )
    llm_questions: str = Field(
        default="composition",
        pattern="^(composition|all)$",
        description="Questions the LLM answers: composition (yes/no, either-or and comparisons, which no quote "
        "answers; the extractive answer stands for the rest) or all.",
    )
    fallback: str = Field(
        default="none",
        pattern="^(none|extractive)$",
        description="When the LLM is unreachable: none (503) or extractive (answer without the LLM).",
    )
    unsupported_answer: str = Field(
        default="refuse",
        pattern="^(refuse|extractive)$",
        description="When no sentence of the LLM's answer is supported: refuse, or give the extractive answer.",
    )
    grounding_threshold: float = Field(
        default=0.55, ge=0, le=1, description="Similarity an answer sentence needs to a cited sentence."
    )
    keep_versions: int = Field(default=2, ge=1, description="Index versions kept on disk after a write.")
    segment_passages: int = Field(
        default=5_000, ge=1, description="A long ingest publishes a new segment every this many passages."
    )
    max_segments: int = Field(
        default=8, ge=1, description="Small segments allowed before the writer merges them into one."
    )
    ann_min_rows: int = Field(
        default=50_000, ge=1, description="Segments this large are searched with an HNSW graph; smaller ones exactly."
    )
    ann_ef_search: int = Field(default=256, ge=8, description="HNSW candidate list per search (recall against speed).")
    log_level: str = Field(default="INFO", description="Logging level of the service and CLI.")
    log_format: str = Field(
        default="text",
        pattern="^(text|json)$",
        description="text, or json: one JSON object per line, with request ids.",
    )
    api_keys: str = Field(
        default="",
        repr=False,
        description="Comma-separated API keys; when set, write endpoints need `Authorization: Bearer KEY`.",
    )
    api_keys_file: Path | None = Field(default=None, description="A file of API keys, one per line (# comments).")
    public_read: bool = Field(default=True, description="false: reading (ask, search, documents) needs a key too.")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Largest JSON body; larger gets 413.")
    max_upload_bytes: int = Field(
        default=50_000_000, ge=1024, description="Largest multipart upload to POST /v1/documents; larger gets 413."
    )
    rate_limit: str = Field(
        default="",
        description="Per-client limit on /v1 requests, e.g. `60/minute` or `10/second;300/hour`; empty is off.",
    )
    max_concurrent: int = Field(default=8, ge=1, description="Answers (and searches) worked on at once.")
    max_queued: int = Field(
        default=256, ge=0, description="Requests waiting for a slot; beyond that the service answers 503 at once."
    )
    queue_timeout: float = Field(default=5.0, gt=0, description="Seconds a request may wait for a slot, then 503.")
    embed_window_ms: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Extra wait for more questions before each encoder batch (questions that arrive while the "
        "encoder is busy are batched anyway).",
    )
    query_cache_size: int = Field(default=4096, ge=0, description="Query embeddings kept for repeated questions.")
    ingest_jobs_kept: int = Field(default=100, ge=1, description="Finished upload jobs remembered by GET /v1/ingest.")
    shutdown_timeout: float = Field(
        default=30.0, gt=0, description="On SIGTERM, seconds to let requests and streams in flight finish."
    )

    def accepted_keys(self) -> frozenset[str]:
        """The API keys from RAG_API_KEYS and RAG_API_KEYS_FILE (read at start-up)."""
        found = [key.strip() for key in self.api_keys.split(",")]
        if self.api_keys_file is not None:
            try:
                lines = self.api_keys_file.read_text().splitlines()
            except OSError as error:
                raise ConfigError(f"cannot read RAG_API_KEYS_FILE {self.api_keys_file}: {error.strerror}") from None
            found += [line.strip() for line in lines if not line.lstrip().startswith("#")]
        return frozenset(key for key in found if key)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Our loggers at `level`; third-party libraries only when something is wrong."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if log_format == "json":
        from rag.api.observability import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for name in ("rag", "ingest"):
        logging.getLogger(name).setLevel(level.upper())
