"""RAG_LLM_GPU_LAYERS: what the in-process model is told to offload, on a build with or without GPU support."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.config import Settings

llama_cpp = pytest.importorskip("llama_cpp")


def test_the_default_offloads_every_layer_only_when_the_build_can(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer.llamacpp import gpu_layers

    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    assert gpu_layers(-1) == -1
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: False)
    assert gpu_layers(-1) == 0


def test_an_explicit_layer_count_is_passed_on() -> None:
    from rag.answer.llamacpp import gpu_layers

    assert gpu_layers(0) == 0 and gpu_layers(12) == 12


def test_a_negative_count_other_than_all_is_refused() -> None:
    assert Settings(llm_gpu_layers=-1).llm_gpu_layers == -1
    with pytest.raises(ValidationError):
        Settings(llm_gpu_layers=-2)
