"""Putting a packaged GGUF together from its part wheels: the size and sha256 checks, and no half file."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from rag.answer import gguf
from rag.answer.gguf import ModelFileInvalid, PackagedGGUF, assemble, installed
from rag.config import Settings
from rag.errors import ConfigError

PARTS = [b"GGUF" + b"a" * 60, b"b" * 64, b"c" * 17]


def _wheels(folder: Path, parts: list[bytes]) -> list[Path]:
    wheels = []
    for n, data in enumerate(parts, start=1):
        wheel = folder / f"toy_part{n}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"toy_part{n}/__init__.py", "")
            archive.writestr(f"toy_part{n}/data/part{n:02d}.bin", data)
        wheels.append(wheel)
    return wheels


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedGGUF:
    monkeypatch.setattr(gguf, "MODELS_DIR", tmp_path / "models")
    (tmp_path / "models").mkdir()
    whole = b"".join(PARTS)
    return PackagedGGUF("toy", "toy.gguf", "toy-part{n}", "1.0", 3, len(whole), hashlib.sha256(whole).hexdigest(), "")


def test_the_parts_in_order_make_the_checked_file(tmp_path: Path, model: PackagedGGUF) -> None:
    path = assemble(model, _wheels(tmp_path, PARTS), say=lambda _: None)
    assert path.read_bytes() == b"".join(PARTS)
    assert installed(model) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["toy.gguf", "toy.sha256"]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([PARTS[0], b"B" + PARTS[1][1:], PARTS[2]], "sha256 of the joined parts"),  # one corrupted byte
        ([PARTS[0], PARTS[2], PARTS[1]], "sha256 of the joined parts"),  # parts out of order
        (PARTS[:2], "bytes, not"),  # a part missing
        ([*PARTS, b"extra"], "hold more than"),
    ],
)
def test_any_other_file_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path, model: PackagedGGUF, parts: list[bytes], message: str
) -> None:
    with pytest.raises(ModelFileInvalid, match=message):
        assemble(model, _wheels(tmp_path, parts), say=lambda _: None)
    assert list(model.path.parent.iterdir()) == []
    assert installed(model) is None


def test_a_model_not_installed_names_the_command_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp")
    from rag.answer.llamacpp import DEFAULT_MODEL, model_file

    with pytest.raises(ConfigError, match="not a packaged model"):
        model_file("gpt-5")
    missing = dataclasses.replace(gguf.MODELS["qwen2.5-0.5b"], file="not-installed.gguf")
    monkeypatch.setitem(gguf.MODELS, "qwen2.5-0.5b", missing)
    with pytest.raises(ConfigError, match=re.escape("rag install-model qwen2.5-0.5b")):
        model_file("qwen2.5-0.5b")
    monkeypatch.undo()
    assert Settings().llm_model == "" and DEFAULT_MODEL == "qwen2.5-1.5b"
    if installed(gguf.MODELS[DEFAULT_MODEL]) is not None:  # make test installs it
        assert model_file("") == gguf.MODELS[DEFAULT_MODEL].path
    assert model_file("smollm2").name.startswith("SmolLM2")
