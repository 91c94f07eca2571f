"""LLM answers through the service vs the llama.cpp server called directly with the same prompt.

    python bench/llm_bench.py [--questions 5]

Starts llama.cpp's OpenAI-compatible server with the packaged SmolLM2 and `rag serve` (RAG_BACKEND=openai)
over the bundled corpus, then times, per question: time to first token and tokens per second. The
direct call sends exactly the messages the service builds, so the ratio is the service's own overhead
(retrieval, prompt building, relaying the stream), not a different prompt.
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

from conftest import ServerProcess, free_port  # noqa: E402
from support import start_llama_server  # noqa: E402

from rag.answer import Evidence  # noqa: E402
from rag.answer.llamacpp import packaged_model  # noqa: E402
from rag.answer.llm import load_prompt, number_passages  # noqa: E402
from rag.models import Hit, Passage  # noqa: E402

QUESTIONS = [
    "Why was Kadhimi's visit to Riyadh postponed?",
    "Who invited Hakim to Tehran for his three-day visit?",
    "Where did the acting foreign minister go on the second day of his Iraq trip?",
    "What level of bilateral trade did Rouhani want to reach with Iraq?",
    "How did Raisi and al-Kadhimi communicate on Saturday?",
]


def time_stream(lines: object, is_token: object) -> tuple[float, int, float]:
    """Seconds to the first token, number of tokens, seconds from first to last token."""
    started = time.perf_counter()
    first = last = None
    count = 0
    for line in lines:  # type: ignore[attr-defined]
        if is_token(line):  # type: ignore[operator]
            now = time.perf_counter()
            first = first or now
            last = now
            count += 1
    if first is None or last is None:
        return float("nan"), 0, float("nan")
    return first - started, count, last - first


def through_service(url: str, question: str) -> tuple[float, int, float]:
    body = {"question": question, "stream": True}
    with httpx.stream("POST", url + "/v1/ask", json=body, timeout=120) as response:
        state = {"event": ""}

        def is_token(line: str) -> bool:
            if line.startswith("event:"):
                state["event"] = line.split(":", 1)[1].strip()
                return False
            return line.startswith("data:") and state["event"] == "token"

        return time_stream(response.iter_lines(), is_token)


def direct(llama: str, service: str, question: str) -> tuple[float, int, float]:
    results = httpx.post(service + "/v1/search", json={"query": question, "top_k": 5}, timeout=30).json()["results"]
    hits = tuple(
        Hit(Passage(r["chunk_id"], r["doc_id"], r["start"], r["end"], r["text"], ()), r["score"], r["title"])
        for r in results
    )
    evidence = Evidence(question, None, hits, {})  # type: ignore[arg-type]
    messages = load_prompt("system", "user").format_messages(passages=number_passages(evidence), question=question)
    payload = {
        "model": "smollm2",
        "messages": [{"role": "system" if m.type == "system" else "user", "content": m.content} for m in messages],
        "stream": True,
        "max_tokens": 256,
        "temperature": 0,
    }
    with httpx.stream("POST", llama + "/v1/chat/completions", json=payload, timeout=120) as response:

        def is_token(line: str) -> bool:
            if not line.startswith("data:") or line.endswith("[DONE]"):
                return False
            delta = json.loads(line[5:])["choices"][0]["delta"]
            return bool(delta.get("content"))

        return time_stream(response.iter_lines(), is_token)


def summarise(label: str, runs: list[tuple[float, int, float]]) -> tuple[float, float]:
    ttft = statistics.median(r[0] for r in runs) * 1000
    rates = [r[1] / r[2] for r in runs if r[2] and r[2] > 0]
    rate = statistics.median(rates) if rates else float("nan")
    print(f"{label:28} first token p50 {ttft:7.0f} ms   {rate:6.1f} tokens/s   ({sum(r[1] for r in runs)} tokens)")
    return ttft, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    args = parser.parse_args()
    model = packaged_model()
    if model is None:
        sys.exit("SmolLM2 is not installed: bash scripts/install-local-llm.sh")
    questions = QUESTIONS[: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        llama = start_llama_server(model, port, Path(tmp) / "llama.log")
        llama_url = f"http://127.0.0.1:{port}"
        index_dir = Path(tmp) / "index"
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(ROOT / "corpus"), "--no-progress"],
            env={**os.environ, "RAG_INDEX_DIR": str(index_dir)},
            check=True,
            capture_output=True,
        )
        env = {
            "RAG_BACKEND": "openai",
            "RAG_LLM_BASE_URL": llama_url + "/v1",
            "RAG_LLM_MODEL": "smollm2",
            "RAG_LOG_LEVEL": "WARNING",
            # The prompt the direct call rebuilds from /v1/search: five whole passages (the service's short
            # prompt picks sentences by scores that /v1/search does not return).
            "RAG_TOP_K": "5",
            "RAG_LLM_EVIDENCE_SENTENCES": "0",
        }
        service = ServerProcess(index_dir, env, Path(tmp) / "serve.log")
        try:
            service.wait_ready()
            direct(llama_url, service.url, questions[0])  # warm both up
            through_service(service.url, questions[0])
            direct_runs = [direct(llama_url, service.url, q) for q in questions]
            service_runs = [through_service(service.url, q) for q in questions]
        finally:
            service.stop()
            llama.terminate()
    print(f"{len(questions)} questions, SmolLM2-135M-Instruct Q4_1 on llama.cpp, 2 CPU cores")
    d_ttft, d_rate = summarise("llama.cpp server directly", direct_runs)
    s_ttft, s_rate = summarise("through /v1/ask (stream)", service_runs)
    print(f"overhead: first token x{s_ttft / d_ttft:.2f} ({s_ttft - d_ttft:+.0f} ms), tokens/s x{s_rate / d_rate:.2f}")


if __name__ == "__main__":
    main()
