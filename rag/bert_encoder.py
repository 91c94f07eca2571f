"""A BERT sentence encoder in plain torch, for sentence-transformers folders that are BERT plus mean pooling.

Importing sentence-transformers costs ~4 s (it pulls in transformers, scikit-learn and scipy): more than
everything else in `rag serve`'s start-up together. The packaged all-MiniLM-L6-v2 is six BERT layers and a
mean, so this module reads the same folder (safetensors weights, the fast tokenizer's `tokenizer.json`) and
runs the same torch ops in the same order. Its vectors match sentence-transformers' (the tests compare them);
a folder of any other shape is refused here and served by sentence-transformers instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class UnsupportedModel(ValueError):
    """The folder is not a BERT + mean-pooling sentence-transformers model."""


@dataclass(frozen=True)
class Encoded:
    """One text's output: its token vectors (no padding) and each token's character span in the text."""

    token_vectors: np.ndarray  # float32, (tokens, dim)
    token_spans: list[tuple[int, int]]  # (0, 0) for [CLS] and [SEP]
    sentence_vector: np.ndarray  # the mean of the token vectors, not normalised


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnsupportedModel(f"{path.name}: {exc}") from exc


def _check_shape(folder: Path) -> dict[str, Any]:
    """The model's config, once the folder is known to be a BERT encoder followed by a plain mean."""
    modules = [m.get("type", "") for m in _read_json(folder / "modules.json")]
    expected = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"]
    if modules[:2] != expected or modules[2:] not in ([], ["sentence_transformers.models.Normalize"]):
        raise UnsupportedModel(f"modules {modules} are not Transformer, Pooling[, Normalize]")
    pooling_path = next(
        folder / m["path"] for m in _read_json(folder / "modules.json") if m["type"].endswith(".Pooling")
    )
    pooling = _read_json(pooling_path / "config.json")
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if modes != {"pooling_mode_mean_tokens"}:
        raise UnsupportedModel(f"pooling {sorted(modes)} is not a plain mean")
    config = _read_json(folder / "config.json")
    if (
        config.get("model_type") != "bert"
        or config.get("hidden_act") != "gelu"
        or config.get("position_embedding_type", "absolute") != "absolute"
    ):
        raise UnsupportedModel("not a BERT model with gelu and absolute positions")
    if not (folder / "tokenizer.json").is_file() or not (folder / "model.safetensors").is_file():
        raise UnsupportedModel("no tokenizer.json or model.safetensors")
    return config


def _is_linear(name: str) -> bool:
    return name.startswith("encoder.layer.") and ("attention.self." in name or ".dense." in name)


class BertEncoder:
    """Token and mean-pooled vectors of texts, computed like sentence-transformers does (eval mode, no grad)."""

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = _check_shape(folder)
        st_config = _read_json(folder / "sentence_bert_config.json")
        self.max_length = int(st_config.get("max_seq_length") or config["max_position_embeddings"])
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.device = device
        weights = load_file(str(folder / "model.safetensors"), device=device)
        # Some exports prefix every name with "bert." (a BertForX head around the encoder).
        self._w = {name.removeprefix("bert."): tensor for name, tensor in weights.items()}
        if "embeddings.word_embeddings.weight" not in self._w:
            raise UnsupportedModel("model.safetensors has no BERT embedding weights")
        self._w_bf16: dict[str, Any] | None = None
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # sentence-transformers' settings, not the file's: truncate at max_seq_length, pad to the longest.
        self.tokenizer.enable_truncation(self.max_length)
        pad_id = int(config.get("pad_token_id", 0))
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=self.tokenizer.id_to_token(pad_id) or "[PAD]")

    def half(self) -> None:
        self._w = {name: tensor.half() for name, tensor in self._w.items()}

    def _bf16_weights(self) -> dict[str, Any]:
        """The weights with the linear layers' already in bfloat16, for autocast runs.

        Autocast would cast each fp32 linear weight to bfloat16 on every call (44 MB of casting per forward
        pass); a cast made once rounds the same way, so the vectors are identical and a query ~30 % faster.
        """
        if self._w_bf16 is None:
            self._w_bf16 = {name: tensor.bfloat16() if _is_linear(name) else tensor for name, tensor in self._w.items()}
        return self._w_bf16

    def encode(self, texts: Sequence[str], batch_size: int = 32, autocast_bf16: bool = False) -> list[Encoded]:
        """Each text's output, in input order; batches are formed from texts sorted by length, as ST does."""
        import torch

        weights = self._bf16_weights() if autocast_bf16 else self._w
        order = np.argsort([-len(text) for text in texts], kind="stable")
        results: list[Encoded | None] = [None] * len(texts)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast_bf16):
            for start in range(0, len(texts), batch_size):
                picked = order[start : start + batch_size]
                batch = self.tokenizer.encode_batch([texts[i] for i in picked])
                ids = torch.tensor([e.ids for e in batch], device=self.device)
                mask = torch.tensor([e.attention_mask for e in batch], device=self.device)
                tokens = self._forward(ids, mask, weights)
                lengths = mask.sum(dim=1)
                pooled = (tokens * mask.unsqueeze(-1).to(tokens.dtype)).sum(dim=1) / torch.clamp(
                    lengths.unsqueeze(-1).to(tokens.dtype), min=1e-9
                )
                tokens_np = tokens.float().cpu().numpy()
                pooled_np = pooled.float().cpu().numpy()
                for row, (i, encoding) in enumerate(zip(picked, batch, strict=True)):
                    n = int(lengths[row])
                    results[i] = Encoded(tokens_np[row, :n], list(encoding.offsets[:n]), pooled_np[row])
        return [r for r in results if r is not None]

    def _forward(self, ids: Any, mask: Any, w: dict[str, Any]) -> Any:
        import torch.nn.functional as F

        def linear(h: Any, name: str) -> Any:
            return F.linear(h, w[name + ".weight"], w[name + ".bias"])

        def norm(h: Any, name: str) -> Any:
            return F.layer_norm(h, (self.dim,), w[name + ".weight"], w[name + ".bias"], self.eps)

        length = ids.shape[1]
        x = F.embedding(ids, w["embeddings.word_embeddings.weight"])
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = x + w["embeddings.position_embeddings.weight"][:length]
        x = norm(x, "embeddings.LayerNorm")
        # A boolean mask (True = attend); none at all when no row is padded, as transformers does.
        padded = not bool(mask.all())
        attend = mask.bool()[:, None, None, :] if padded else None
        batch, head_dim = ids.shape[0], self.dim // self.heads
        # Every step but attention works token by token, so it runs on the real tokens only, packed into one
        # matrix: a batch of questions of 10 to 40 tokens is otherwise ~20 % padding, computed and thrown away.
        real = mask.reshape(-1).nonzero().squeeze(1) if padded else None
        if real is not None:
            x = x.reshape(batch * length, self.dim)[real]

        def unpack(h: Any) -> Any:
            if real is None:
                return h
            full = h.new_zeros(batch * length, h.shape[-1])
            full[real] = h
            return full

        def heads(h: Any) -> Any:
            return unpack(h).view(batch, length, self.heads, head_dim).transpose(1, 2)

        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            q = heads(linear(x, p + "attention.self.query"))
            k = heads(linear(x, p + "attention.self.key"))
            v = heads(linear(x, p + "attention.self.value"))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attend, scale=head_dim**-0.5)
            attended = attended.transpose(1, 2).reshape(batch * length, self.dim)
            attended = attended[real] if real is not None else attended.view(batch, length, self.dim)
            x = norm(linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inner = F.gelu(linear(x, p + "intermediate.dense"))
            x = norm(linear(inner, p + "output.dense") + x, p + "output.LayerNorm")
        if real is not None:
            x = unpack(x).view(batch, length, self.dim)
        return x
