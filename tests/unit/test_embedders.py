"""The plain-torch BERT encoder against sentence-transformers on the same packaged model folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.bert_encoder import BertEncoder, UnsupportedModel
from rag.config import Settings
from rag.embeddings import (
    BertEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
    packaged_model_path,
)
from rag.errors import ConfigError
from rag.models import Span

TEXTS = [
    "Iran's Speaker of Parliament, Mohammad Bagher Ghalibaf, formally invited him. The visit lasted three days.",
    "Who invited Hakim to Tehran?",
    "Ünïcödé, emoji 🙂 and   odd   spacing\tin one line; numbers 1,234.5 and dates 2023-10-07.",
    "word " * 400,  # longer than the 256-token window: truncated the same way
    "",
]


@pytest.fixture(scope="module")
def reference() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def test_token_vectors_and_offsets_are_those_of_sentence_transformers(reference: SentenceTransformerEmbedder) -> None:
    model = reference._model
    outputs = model.encode(TEXTS, batch_size=2, output_value=None, show_progress_bar=False)
    offsets = model.tokenizer(TEXTS, return_offsets_mapping=True, truncation=True, max_length=model.max_seq_length)
    mine = BertEncoder(packaged_model_path()).encode(TEXTS, batch_size=2)
    for theirs, spans, ours in zip(outputs, offsets["offset_mapping"], mine, strict=True):
        assert ours.token_spans == [tuple(s) for s in spans]
        # The same maths on packed instead of padded batches: equal up to float32 summation order.
        np.testing.assert_allclose(ours.token_vectors, theirs["token_embeddings"].numpy()[: len(spans)], atol=2e-5)


def test_both_embedders_give_the_same_passage_sentence_and_query_vectors(
    reference: SentenceTransformerEmbedder,
) -> None:
    ours = BertEmbedder()
    sentences = [[Span(0, 61), Span(62, len(TEXTS[0]))], [Span(0, 28)], [], [Span(0, 9), Span(1900, 1999)], []]
    ours_passages, ours_sentences = ours.encode_passages(TEXTS, sentences)
    their_passages, their_sentences = reference.encode_passages(TEXTS, sentences)
    np.testing.assert_allclose(ours_passages, their_passages, atol=1e-5)
    for a, b in zip(ours_sentences, their_sentences, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert ours.query_bf16 == reference.query_bf16
    ours_queries, their_queries = ours.encode_queries(TEXTS[:3]), reference.encode_queries(TEXTS[:3])
    if ours.query_bf16:  # bf16 weights vs bf16 autocast round differently: the same direction, not the same bits
        assert np.min(np.sum(ours_queries * their_queries, axis=1)) > 0.9995
    else:
        np.testing.assert_allclose(ours_queries, their_queries, atol=1e-5)
    exact = BertEmbedder(query_bf16="false").encode_queries(TEXTS[:3])
    assert np.min(np.sum(ours_queries * exact, axis=1)) > 0.999, "a bf16 query points where the float32 one does"
    assert ours.encode_queries([]).shape == (0, 384)


def test_a_model_that_is_not_bert_plus_mean_goes_to_sentence_transformers(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(packaged_model_path(), folder)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(UnsupportedModel, match="not a plain mean"):
        BertEncoder(folder)
    assert isinstance(load_embedder(Settings(embedding_model=str(folder))), SentenceTransformerEmbedder)
    with pytest.raises(ConfigError, match="RAG_EMBEDDER=bert"):
        load_embedder(Settings(embedding_model=str(folder), embedder="bert"))
    assert isinstance(load_embedder(Settings()), BertEmbedder)
    assert isinstance(load_embedder(Settings(embedder="sentence-transformers")), SentenceTransformerEmbedder)


def test_the_server_is_built_without_importing_sentence_transformers(tmp_path: Path) -> None:
    """What makes `rag serve` start fast: the ~4 s sentence-transformers import never happens."""
    script = (
        "import sys\n"
        "from rag.api.app import build_service\n"
        "from rag.config import Settings\n"
        f"build_service(Settings(index_dir={str(tmp_path)!r}))\n"
        "print(sorted(m for m in ('sentence_transformers', 'transformers', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
