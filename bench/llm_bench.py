"""Local LLM answers through the service vs llama.cpp called directly with the same prompt.

    python bench/llm_bench.py [--models qwen2.5-0.5b,qwen2.5-1.5b] [--questions 12]

Per model: starts `rag serve` over the bundled corpus with RAG_BACKEND=llamacpp (the model in process) and
streams /v1/ask for held-out questions of tests/data/corpus_qa.json, timing the extractive first stage, the
model's first draft token and the final checked answer. Then, with the server stopped, it builds exactly the
prompt the service built for each question and runs it through llama-cpp-python directly (same model file,
threads and context), timing the first token and the whole answer. The ratio is the service's own overhead:
retrieval, prompt building, grounding and relaying the stream. Accuracy is `rag eval --backend llamacpp`'s job.
"""

from __future__ import annotations

import argparse
import asyncio
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

from conftest import ServerProcess  # noqa: E402

from rag.answer.extractive import ExtractiveBackend  # noqa: E402
from rag.answer.llamacpp import gpu_layers, model_file, offload_label  # noqa: E402
from rag.answer.llm import answer_format, answer_prompt, evidence_sentences, number_passages  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embeddings import load_embedder  # noqa: E402
from rag.evaluation.split import split_of  # noqa: E402
from rag.service import RagService  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "corpus_qa.json"


def heldout_questions(count: int) -> list[str]:
    """Answerable held-out questions (unanswerable ones are refused before any model runs)."""
    items = json.loads(QUESTIONS.read_text())
    return [q["question"] for q in items if q["answerable"] and split_of(q["id"]) == "heldout"][:count]


def through_service(url: str, question: str) -> dict[str, float]:
    """Seconds to the extractive stage, to the first draft token and to the final answer, as they arrive."""
    started = time.perf_counter()
    marks: dict[str, float] = {}
    with httpx.stream("POST", url + "/v1/ask", json={"question": question, "stream": True}, timeout=300) as response:
        event = ""
        for line in response.iter_lines():
            now = time.perf_counter() - started
            if line.startswith("event:"):
                event = line
            elif line.startswith("data:"):
                _mark(marks, event, line, now)
    return marks


def _mark(marks: dict[str, float], event: str, data_line: str, now: float) -> None:
    name = event.split(":", 1)[1].strip()
    if name == "token":
        marks.setdefault("first", now)
    elif name == "citations":
        stage = json.loads(data_line.split(":", 1)[1])["stage"]
        marks.setdefault("extractive" if stage == "extractive" else "final", now)


def prompts_of(questions: list[str], index_dir: Path) -> list[list[dict[str, str]]]:
    """The chat messages the service sends the model for each question (same retrieval, same evidence)."""
    settings = Settings(index_dir=index_dir)
    embedder = load_embedder(settings)
    service = RagService(settings, embedder, ExtractiveBackend(settings, embedder))
    service.load()
    prompt = answer_prompt(settings, "llamacpp")
    messages = []
    for question in questions:
        _, evidence = asyncio.run(service.evidence(question, settings.top_k))
        passages = number_passages(evidence, evidence_sentences(settings, "llamacpp"))
        built = prompt.format_messages(passages=passages, question=question)
        roles = ["system" if m.type == "system" else "user" for m in built]
        messages.append([{"role": role, "content": str(m.content)} for role, m in zip(roles, built, strict=True)])
    return messages


def direct(model: Path, prompts: list[list[dict[str, str]]], settings: Settings) -> list[dict[str, float]]:
    from llama_cpp import Llama

    threads = settings.llm_threads or os.cpu_count() or 1
    context = settings.llm_context_tokens
    offload = gpu_layers(settings.llm_gpu_layers)  # as the service does
    llm = Llama(
        model_path=str(model),
        n_ctx=context,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=offload,
        verbose=False,
    )
    runs = []
    for messages in [prompts[0], *prompts]:  # the first one again as a warm-up, as the service had
        started = time.perf_counter()
        first = None
        for chunk in llm.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        ):
            if first is None and chunk["choices"][0]["delta"].get("content"):  # type: ignore[index, union-attr]
                first = time.perf_counter() - started
        runs.append({"first": first or float("nan"), "final": time.perf_counter() - started})
    return runs[1:]


def percentiles(values: list[float]) -> str:
    values = sorted(v for v in values if v == v)
    if not values:
        return "—"
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"{statistics.median(values):5.2f} / {p95:5.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="qwen2.5-0.5b,qwen2.5-1.5b")
    parser.add_argument("--questions", type=int, default=12)
    args = parser.parse_args()
    questions = heldout_questions(args.questions)
    settings = Settings()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(ROOT / "corpus"), "--no-progress"],
            env={**os.environ, "RAG_INDEX_DIR": str(index_dir)},
            check=True,
            capture_output=True,
        )
        prompts = prompts_of(questions, index_dir)
        for name in args.models.split(","):
            model = model_file(name)
            env = {
                "RAG_BACKEND": "llamacpp",
                "RAG_LLM_MODEL": name,
                "RAG_LOG_LEVEL": "WARNING",
                "RAG_LLM_EXTRACTIVE_FIRST": "true",
                "RAG_LLM_QUESTIONS": "all",  # time the model on every question, not only yes/no ones
                "RAG_LLM_EVIDENCE_SENTENCES": str(evidence_sentences(settings, "llamacpp")),  # as prompts_of() built
            }
            server = ServerProcess(index_dir, env, Path(tmp) / f"serve-{name}.log")
            try:
                server.wait_ready(timeout=120)
                through_service(server.url, questions[0])  # warm-up: loads the model's pages, fills its cache
                served = [through_service(server.url, q) for q in questions]
            finally:
                server.stop()
            alone = direct(model, prompts, settings)
            rows.append((name, served, alone))
    print(f"{len(questions)} held-out questions, bundled corpus, {os.cpu_count()} CPU cores, p50 / p95")
    # The GPU figures need a GPU build of llama-cpp-python (LLAMA_CMAKE_ARGS, see README "LLM backends").
    print(f"layers on the GPU: {offload_label(gpu_layers(settings.llm_gpu_layers))}")
    shown, written = evidence_sentences(settings, "llamacpp"), answer_format(settings, "llamacpp")
    print(f"answer format: {written}; evidence: the {shown} best sentences with their neighbours")
    print(f"{'model':14} {'path':22} {'extractive stage':>18} {'first token':>16} {'whole answer':>16}")
    for name, served_all, alone_all in rows:
        # Questions refused before any model ran (no evidence) are left out of both sides.
        ran = [i for i, r in enumerate(served_all) if {"first", "extractive", "final"} <= r.keys()]
        served, alone = [served_all[i] for i in ran], [alone_all[i] for i in ran]
        print(f"{name}: the model ran for {len(ran)} of {len(served_all)} questions")
        if not ran:  # e.g. RAG_LLM_EXTRACTIVE_FIRST=false in the environment, or every answer failed
            continue
        print(
            f"{name:14} {'service /v1/ask':22} {percentiles([r['extractive'] for r in served]):>18}"
            f" {percentiles([r['first'] for r in served]):>16}"
            f" {percentiles([r['final'] for r in served]):>16}"
        )
        print(
            f"{'':14} {'llama.cpp directly':22} {'—':>18} {percentiles([r['first'] for r in alone]):>16}"
            f" {percentiles([r['final'] for r in alone]):>16}"
        )
        first = statistics.median(r["first"] for r in served) / statistics.median(r["first"] for r in alone)
        whole = statistics.median(r["final"] for r in served) / statistics.median(r["final"] for r in alone)
        print(f"{'':14} {'service / direct':22} {'':>18} {f'x{first:.2f}':>16} {f'x{whole:.2f}':>16}")


if __name__ == "__main__":
    main()
