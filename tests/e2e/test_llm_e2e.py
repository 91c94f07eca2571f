"""The service with a real LLM: llama.cpp's OpenAI-compatible server running SmolLM2 on loopback.

Every citation must quote the document exactly, and every sentence marked grounded must really share
content with the sentence it cites, whatever the small model wrote.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.answer.grounding import YES_NO
from rag.answer.llamacpp import packaged_model
from rag.terms import content_terms
from tests.conftest import free_port
from tests.support import read_sse, start_llama_server

pytestmark = pytest.mark.llm

QUESTION = "Why was Kadhimi's visit to Riyadh postponed?"


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None or packaged_model() is None:
        pytest.fail("llama-cpp-python or SmolLM2 missing: run `bash scripts/install-local-llm.sh` (make test does)")
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    try:
        process = start_llama_server(packaged_model(), port, log)  # type: ignore[arg-type]
    except RuntimeError as error:
        pytest.fail(str(error))
    url = f"http://127.0.0.1:{port}"
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def llm_service(live_server, llama_server: str) -> str:  # type: ignore[no-untyped-def]
    # Every question goes to the model here (by default only those that need composing do), so these tests
    # exercise the model's path with a question a quote could answer too.
    return live_server(
        RAG_BACKEND="openai", RAG_LLM_BASE_URL=llama_server + "/v1", RAG_LLM_MODEL="smollm2", RAG_LLM_QUESTIONS="all"
    )


def _check_citations(url: str, body: dict) -> None:
    texts: dict[str, str] = {}
    for citation in body["citations"]:
        if citation["doc_id"] not in texts:
            texts[citation["doc_id"]] = httpx.get(f"{url}/v1/documents/{citation['doc_id']}").json()["text"]
        assert texts[citation["doc_id"]][citation["start"] : citation["end"]] == citation["text"]
    by_marker = {c["marker"]: c for c in body["citations"]}
    for sentence in body["grounding"]:
        if sentence["grounded"] and YES_NO.match(sentence["sentence"]):
            assert f"[{sentence['markers'][0]}]" in body["answer"], "a yes/no rests on a grounded support"
        elif sentence["grounded"]:
            cited = by_marker[sentence["markers"][0]]["text"]
            shared = set(content_terms(sentence["sentence"])) & set(content_terms(cited))
            assert shared, f"grounded sentence shares nothing with its citation: {sentence} / {cited}"
            assert f"[{sentence['markers'][0]}]" in body["answer"]
        else:
            assert sentence["sentence"] not in body["answer"], "unsupported sentences are left out"


def test_ask_with_a_real_llm(llm_service: str) -> None:
    body = httpx.post(llm_service + "/v1/ask", json={"question": QUESTION}, timeout=120).json()
    assert body["backend"] == "openai" and body["grounding"], body
    _check_citations(llm_service, body)
    if body["answered"]:
        assert body["citations"]
    else:
        assert "corpus does not say" in body["answer"]


def test_stream_with_a_real_llm(llm_service: str) -> None:
    with httpx.stream("POST", llm_service + "/v1/ask", json={"question": QUESTION, "stream": True}, timeout=120) as r:
        events = read_sse(r.iter_lines())
    names = [n for n, _ in events]
    assert names.count("token") >= 3, "tokens arrive as the model produces them"
    assert all(data["draft"] for n, data in events if n == "token"), "the model's text is a draft until grounded"
    (quick_name, quick), *_, (final_name, final), (last, _) = events
    assert (quick_name, quick["stage"], quick["backend"]) == ("citations", "extractive", "extractive"), quick
    assert quick["answered"] and quick["citations"], "the extractive answer is shown while the model writes"
    assert names.count("citations") == 2 and (final_name, final["stage"], last) == ("citations", "final", "done")
    _check_citations(llm_service, quick)
    _check_citations(llm_service, final)
    plain = httpx.post(llm_service + "/v1/ask", json={"question": QUESTION}, timeout=120).json()
    assert plain["stage"] == "final" and plain["answer"] == final["answer"], "streamed == non-streamed final answer"


def test_unanswerable_question_does_not_reach_the_model(llm_service: str) -> None:
    body = httpx.post(
        llm_service + "/v1/ask", json={"question": "Which football team won the Iraqi league?"}, timeout=60
    ).json()
    assert body["answered"] is False and body["citations"] == [] and body["timings_ms"]["compose"] < 500


def test_openai_client_against_the_service(llm_service: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=llm_service + "/v1", api_key="unused", timeout=120)
    assert [m.id for m in client.models.list().data] == ["newsrag"]
    reply = client.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": QUESTION}])
    content = reply.choices[0].message.content or ""
    extra = reply.model_extra or {}
    assert content and "citations" in extra
    for citation in extra["citations"]:
        assert f"[{citation['marker']}]" in content, "footnotes carry every citation"
    chunks = list(
        client.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True)
    )
    drafts = [(c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices]
    assert sum(1 for d in drafts if d) >= 3, "the model's draft streams as reasoning_content as it is generated"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = chunks[-1].model_extra or {}
    assert streamed.startswith(final["answer"]), "the streamed content is the grounded answer, not the draft"
    for citation in final["citations"]:
        assert f"[{citation['marker']}]" in streamed


def test_chat_completions_without_an_llm(server_url: str) -> None:
    """The extractive backend's tokens are final: streamed and non-streamed content are the same text."""
    from openai import OpenAI
    from openai.types.chat import ChatCompletionMessageParam

    client = OpenAI(base_url=server_url + "/v1", api_key="unused", timeout=60)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "ignored: the service has its own instructions"},
        {"role": "user", "content": "Who did Hakim meet in Baghdad?"},
        {"role": "assistant", "content": "Ammar Hakim met Iranian Ambassador to Iraq Mohammad Kazem Al Sadeq. [1]"},
        {"role": "user", "content": "What did they discuss?"},
    ]
    reply = client.chat.completions.create(model="newsrag", messages=messages)
    extra = reply.model_extra or {}
    assert extra["answered"] and "Hakim" in extra["standalone_question"]
    chunks = list(client.chat.completions.create(model="newsrag", messages=messages, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == reply.choices[0].message.content and "\n\nSources:\n[1] " in streamed
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_follow_up_with_a_real_llm(llm_service: str) -> None:
    history = [
        {"role": "user", "content": "Who did Hakim meet in Baghdad?"},
        {"role": "assistant", "content": "Ammar Hakim met Iranian Ambassador to Iraq Mohammad Kazem Al Sadeq. [1]"},
    ]
    body = httpx.post(
        llm_service + "/v1/ask", json={"question": "What did they discuss?", "history": history}, timeout=120
    ).json()
    assert body["question"] == "What did they discuss?"
    assert "Hakim" in body["standalone_question"], "the names of the conversation reach retrieval"
    _check_citations(llm_service, body)


def test_unreachable_llm_is_a_503_with_a_reason(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}/v1"
    url = live_server(RAG_BACKEND="openai", RAG_LLM_BASE_URL=dead, RAG_LLM_TIMEOUT="5", RAG_LLM_QUESTIONS="all")
    started = time.monotonic()
    response = httpx.post(url + "/v1/ask", json={"question": QUESTION}, timeout=60)
    assert response.status_code == 503 and "unavailable" in response.json()["detail"]
    assert time.monotonic() - started < 15, "bounded: a timeout per attempt and one retry"
    fallback = live_server(
        RAG_BACKEND="openai", RAG_LLM_BASE_URL=dead, RAG_FALLBACK="extractive", RAG_LLM_QUESTIONS="all"
    )
    body = httpx.post(fallback + "/v1/ask", json={"question": QUESTION}, timeout=60).json()
    assert body["answered"] and any("hospital" in c["text"] for c in body["citations"])
    assert body["backend"] == "extractive", "the response says which backend answered"


def test_bad_backend_configuration_fails_at_start_with_one_line(built_index: Path) -> None:
    import os

    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(built_index),
        "RAG_BACKEND": "llamacpp",
        "RAG_LLM_MODEL_PATH": "/nonexistent/model.gguf",
    }
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 6
    assert result.stderr.strip() == "error: RAG_LLM_MODEL_PATH does not exist: /nonexistent/model.gguf"


def _in_process_qwen(live_server, **env: str) -> str:  # type: ignore[no-untyped-def]
    """A live server running the packaged Qwen2.5 0.5B in process (make test installs it)."""
    from rag.answer.gguf import MODELS, installed

    if importlib.util.find_spec("llama_cpp") is None or installed(MODELS["qwen2.5-0.5b"]) is None:
        pytest.fail("llama-cpp-python or Qwen2.5 0.5B missing: run `make setup-llm` (make test does)")
    return live_server(RAG_BACKEND="llamacpp", RAG_LLM_MODEL="qwen2.5-0.5b", **env)


def test_the_packaged_qwen_answers_in_process_with_exact_grounded_citations(live_server) -> None:  # type: ignore[no-untyped-def]
    """Qwen2.5 0.5B as `rag install-model` put it together (make test runs it), in process with the default
    short prompt. The 1.5B is the default model; the 0.5B keeps `make test` quick (same code, same prompt)."""
    url = _in_process_qwen(live_server)
    quoted = httpx.post(f"{url}/v1/ask", json={"question": "How long was Hakim's visit to Iran?"}, timeout=120).json()
    assert (quoted["backend"], quoted["stage"], quoted["grounding"]) == ("extractive", "final", []), quoted
    assert "three-day" in quoted["answer"] and quoted["timings_ms"]["compose"] < 500, "a quote answers it at once"
    _check_citations(url, quoted)
    refused = httpx.post(f"{url}/v1/ask", json={"question": "Who is the mayor of Baghdad?"}, timeout=120).json()
    assert refused["answered"] is False and refused["citations"] == []
    yes_no = httpx.post(f"{url}/v1/ask", json={"question": "Did Hakim visit Iran?"}, timeout=120).json()
    # The verdict itself is not asserted: the 0.5B says "No" to nearly every yes/no question (README, LLM backends).
    assert yes_no["grounding"], "a yes/no question is composed by the model, and its verdict checked"
    _check_citations(url, yes_no)
    if yes_no["answer"].lower().startswith(("yes", "no")):
        assert yes_no["citations"] and yes_no["grounding"][0]["grounded"], "a yes/no stands on a grounded support"
    else:
        assert not yes_no["answered"] or yes_no["citations"]


def test_the_in_process_models_short_answer_is_quoted_from_the_text(live_server) -> None:  # type: ignore[no-untyped-def]
    """Every question to the 0.5B (RAG_LLM_QUESTIONS=all): it writes a few words and a passage number, and the
    code quotes the retrieved sentence that holds them, exactly, with the words as the answer_span."""
    url = _in_process_qwen(live_server, RAG_LLM_QUESTIONS="all")
    body = httpx.post(f"{url}/v1/ask", json={"question": "Who invited Hakim to Tehran?"}, timeout=120).json()
    assert body["backend"] == "llamacpp" and body["grounding"], "the model wrote the answer"
    _check_citations(url, body)
    if body["answered"] and body["answer_span"]:  # None when the model's words are not verbatim in the text
        span = body["answer_span"]
        cited = next(c for c in body["citations"] if c["marker"] == span["marker"])
        text = httpx.get(f"{url}/v1/documents/{span['doc_id']}").json()["text"]
        assert cited["start"] <= span["start"] < span["end"] <= cited["end"]
        assert text[span["start"] : span["end"]] == span["text"] and body["answer"].startswith(span["text"])
