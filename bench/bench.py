"""Speed of the core: ingest vs the raw encoder, `rag serve` start-up and memory, `/v1/ask` latency beside
the cost of one query embedding.

    python bench/bench.py [--copies 20] [--requests 300]

Ingest is timed on `--copies` renamed copies of the bundled corpus (model load excluded) and compared
with the raw sentence-transformers encoder on exactly the same passage texts, so the ratio is the
pipeline's own overhead (cleaning, chunking, sentence pooling, SQLite and FAISS writes, publishing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import ServerProcess  # noqa: E402  (the same launcher the tests use)

from ingest.clean import normalise  # noqa: E402
from ingest.loaders import RawDocument, load  # noqa: E402
from ingest.pipeline import Prepared, ingest, prepare  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embeddings import SentenceTransformerEmbedder, load_embedder  # noqa: E402


def make_corpus(target: Path, copies: int) -> None:
    texts = [(p.stem, p.read_text()) for p in sorted((ROOT / "corpus").glob("*.txt"))]
    for i in range(copies):
        for stem, text in texts:
            (target / f"{stem}_copy{i:03d}.txt").write_text(text)


def bench_ingest(copies: int, rounds: int = 2) -> tuple[float, float, int]:
    """Best of `rounds` alternating runs of each, so a busy machine skews both sides alike."""
    embedder = load_embedder(Settings())
    settings = Settings()
    embedder.encode_queries(["warm up"])
    pipeline_best = raw_best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        make_corpus(corpus, copies)
        texts = [normalise(p.text) for p in passages_of(corpus, settings)]
        # The raw encoder: sentence-transformers on the same weights, batch size and texts.
        model = SentenceTransformerEmbedder()._model
        for round_number in range(rounds):
            started = time.perf_counter()
            model.encode(texts, batch_size=settings.embed_batch_size, show_progress_bar=False)
            raw_best = min(raw_best, time.perf_counter() - started)
            index_settings = Settings(index_dir=Path(tmp) / f"index{round_number}")
            started = time.perf_counter()
            report = ingest([corpus], index_settings, embedder, "all-MiniLM-L6-v2", progress=False)
            pipeline_best = min(pipeline_best, time.perf_counter() - started)
    return report.passages / pipeline_best, len(texts) / raw_best, report.passages


def passages_of(corpus: Path, settings: Settings) -> list:  # type: ignore[type-arg]
    found = []
    for path in sorted(corpus.iterdir()):
        for raw in load(path):
            prepared = prepare(raw, settings) if isinstance(raw, RawDocument) else None
            if isinstance(prepared, Prepared):
                found.extend(prepared.passages)
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


QUESTIONS = ROOT / "tests/data/corpus_qa.json"


def bench_embedding(rounds: int = 3) -> float:
    """p50 of one query embedding (the raw encoder, one question per call), the floor of any answer."""
    embedder = load_embedder(Settings())
    questions = [q["question"] for q in json.loads(QUESTIONS.read_text())]
    embedder.encode_queries(["warm up"])
    times = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            embedder.encode_queries([question])
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_server(requests: int) -> dict[str, float]:
    questions = [q["question"] for q in json.loads(QUESTIONS.read_text())]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(ROOT / "corpus"), "--no-progress"],
            env={**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_LOG_LEVEL": "WARNING"},
            check=True,
            capture_output=True,
        )
        started = time.perf_counter()
        # No query cache: the questions repeat, and the figure is the cost of a question the server has not seen.
        env = {"RAG_LOG_LEVEL": "WARNING", "RAG_QUERY_CACHE_SIZE": "0"}
        server = ServerProcess(index_dir, env, Path(tmp) / "serve.log")
        try:
            server.wait_ready()
            ready_seconds = time.perf_counter() - started
            latencies, in_service, embedded = [], [], []
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for question in questions[:3]:
                    client.post("/v1/ask", json={"question": question})  # warm-up
                for i in range(requests):
                    sent = time.perf_counter()
                    response = client.post("/v1/ask", json={"question": questions[i % len(questions)]})
                    latencies.append((time.perf_counter() - sent) * 1000)
                    response.raise_for_status()
                    timings = response.json()["timings_ms"]
                    in_service.append(timings["total"])
                    embedded.append(timings["embed"])
            memory = rss_mb(server.process.pid)
        finally:
            server.stop()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "ready_s": ready_seconds,
        "p50_ms": cuts[49],
        "p95_ms": cuts[94],
        "service_p50_ms": statistics.median(in_service),
        "service_embed_p50_ms": statistics.median(embedded),
        "rss_mb": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20, help="copies of the bundled corpus to ingest")
    parser.add_argument("--requests", type=int, default=300, help="/v1/ask requests to time")
    args = parser.parse_args()

    # The server is timed first: the ingest run leaves a large heap in this process whose garbage
    # collection would stall the client and show up as server latency.
    server = bench_server(args.requests)
    embed_ms = bench_embedding()
    pipeline_rate, raw_rate, passages = bench_ingest(args.copies)
    overhead = raw_rate / pipeline_rate - 1
    print(f"ingest    {passages} passages: pipeline {pipeline_rate:.1f} passages/s, raw encoder {raw_rate:.1f}/s")
    print(f"          pipeline overhead over the raw encoder: {overhead:+.1%}   (target <= +10%)")
    print(f"serve     ready in {server['ready_s']:.1f} s (target <= 10 s)")
    print(f"          RSS {server['rss_mb']:.0f} MB after the requests (target <= 1024)")
    print(
        f"/v1/ask   {args.requests} requests: p50 {server['p50_ms']:.1f} ms (target <= 25), "
        f"p95 {server['p95_ms']:.1f} ms (target <= 60), over HTTP"
    )
    total, inside = server["service_p50_ms"], server["service_embed_p50_ms"]
    print(
        f"          in the service p50 {total:.1f} ms, of which embedding the question {inside:.1f} ms: "
        f"x{total / inside:.2f} (target <= x1.3)"
    )
    print(f"          one query embedding alone, in this process, p50 {embed_ms:.1f} ms: x{total / embed_ms:.2f}")


if __name__ == "__main__":
    main()
