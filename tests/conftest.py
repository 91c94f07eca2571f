"""Shared fixtures: the real embedding model, real indexes on disk, real `rag serve` processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from ingest.pipeline import ingest
from rag.config import PROJECT_ROOT, Settings
from rag.embeddings import Embedder, load_embedder

MODEL_NAME = "all-MiniLM-L6-v2"
SERVER_START_TIMEOUT = 60.0
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The bundled sample corpus (five news articles)."""
    return PROJECT_ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The encoder `rag serve` and `rag ingest` use (the plain-torch BERT for the packaged MiniLM)."""
    return load_embedder(Settings())


IndexBuilder = Callable[..., Path]


@pytest.fixture(scope="session")
def build_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> IndexBuilder:
    """Ingest the given files or folders into a fresh index folder and return that folder."""

    def build(*paths: Path, index_dir: Path | None = None, **settings: object) -> Path:
        target = index_dir or tmp_path_factory.mktemp("index")
        ingest(list(paths), Settings(index_dir=target, **settings), embedder, MODEL_NAME, progress=False)
        return target

    return build


@pytest.fixture(scope="session")
def built_index(build_index: IndexBuilder, corpus_dir: Path) -> Path:
    """An index of the bundled corpus, built once per test session; treat it as read-only."""
    return build_index(corpus_dir)


@pytest.fixture(scope="session")
def settings(built_index: Path) -> Settings:
    return Settings(index_dir=built_index)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A `rag serve` subprocess on a free loopback port, with its log kept for failure messages."""

    started: ClassVar[list[ServerProcess]] = []  # every server of the session, to find one's log by port

    def __init__(self, index_dir: Path, env: dict[str, str], log_path: Path, new_session: bool = False) -> None:
        ServerProcess.started.append(self)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_LOG_LEVEL": "INFO", **env}
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop(), outlives this method
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
            start_new_session=new_session,  # a terminal's Ctrl-C then reaches only the caller (bench/load.py)
        )

    def wait_ready(self, path: str = "/readyz", timeout: float = SERVER_START_TIMEOUT, poll: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        broken = 0  # answers in a row that are neither ready (200) nor "not yet" (503)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rag serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                status = httpx.get(self.url + path, timeout=2.0).status_code
                if status == 200:
                    return
                broken = 0 if status == 503 else broken + 1
                if broken >= 10:
                    raise RuntimeError(f"rag serve answers {path} with {status}:\n{self.log()}")
            except httpx.TransportError:
                pass
            time.sleep(poll)
        raise RuntimeError(f"rag serve not ready after {timeout:g}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


ServerFactory = Callable[..., str]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, built_index: Path) -> Iterator[ServerFactory]:
    """Start (or reuse) a `rag serve` for an index folder and environment overrides; returns its base URL."""
    servers: dict[tuple, ServerProcess] = {}

    def start(index_dir: Path | None = None, wait_path: str = "/readyz", **env: str) -> str:
        key = (str(index_dir or built_index), tuple(sorted(env.items())))
        if key not in servers:
            log_path = tmp_path_factory.mktemp("server") / "serve.log"
            server = ServerProcess(index_dir or built_index, env, log_path)
            servers[key] = server
            server.wait_ready(wait_path)
        return servers[key].url

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def server_url(live_server: ServerFactory) -> str:
    """The shared server over the bundled corpus with the default (extractive) backend."""
    return live_server()


@pytest.fixture()
def copy_corpus(tmp_path: Path, corpus_dir: Path) -> Path:
    """A writable copy of the bundled corpus for tests that change files."""
    target = tmp_path / "corpus"
    shutil.copytree(corpus_dir, target)
    return target
