"""Running it as a service: documents over HTTP, keys, limits, metrics, logs, shutdown and faults.

Every test drives a real `rag serve` on loopback over a real index on disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rag.config import PROJECT_ROOT
from rag.store import read_current, write_lock_held
from tests.conftest import IndexBuilder, ServerFactory, ServerProcess
from tests.support import read_sse

pytestmark = pytest.mark.e2e

KEY = "ops-test-key-7f3a"
WRITER = {"Authorization": f"Bearer {KEY}"}
FESTIVAL = {
    "id": "geneva-festival",
    "title": "Lake festival opens",
    "date": "2023-11-30",
    "source": "Lakeside Daily",
    "text": "GENEVA (Reuters) - The lake festival opened on Friday, organisers said. "
    "About 4,000 people came to watch the wooden boats, and the harbour master, Anna Keller, "
    "led the first parade of sails.",
}
BAKERY = b"The bakery on Main Street closed on Tuesday after 40 years, its owner Marta Silva said.\n"


def wait_for_job(url: str, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/v1/ingest/{job_id}", timeout=10).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {timeout}s")


def exact_citations(url: str, body: dict) -> bool:
    for citation in body["citations"]:
        document = httpx.get(f"{url}/v1/documents/{citation['doc_id']}", timeout=10).json()
        if document["text"][citation["start"] : citation["end"]] != citation["text"]:
            return False
    return True


@pytest.fixture(scope="module")
def writable(build_index: IndexBuilder, corpus_dir: Path, live_server: ServerFactory) -> tuple[str, Path]:
    """A server with keys and JSON logs over its own index, which these tests change."""
    index = build_index(corpus_dir)
    return live_server(index_dir=index, RAG_API_KEYS=KEY, RAG_LOG_FORMAT="json"), index


# -- documents over HTTP -------------------------------------------------------------------------


def test_json_articles_are_ingested_and_answer_with_exact_citations(writable: tuple[str, Path]) -> None:
    url, index = writable
    before = read_current(index)
    response = httpx.post(url + "/v1/documents", json={"documents": [FESTIVAL]}, headers=WRITER, timeout=30)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/ingest/{response.json()['job_id']}"
    job = wait_for_job(url, response.json()["job_id"])
    assert job["state"] == "done" and job["added"] == ["geneva-festival"] and job["passages"] >= 1
    assert job["version"] != before and read_current(index) == job["version"]

    body = httpx.post(url + "/v1/ask", json={"question": "Who led the first parade of sails in Geneva?"}).json()
    assert body["answered"] and "Anna Keller" in body["answer"]
    assert body["citations"][0]["doc_id"] == "geneva-festival" and exact_citations(url, body)

    again = httpx.post(url + "/v1/documents", json={"documents": [FESTIVAL]}, headers=WRITER, timeout=30).json()
    assert wait_for_job(url, again["job_id"])["unchanged"] == ["geneva-festival"]


def test_uploaded_files_are_ingested_or_skipped_with_a_reason(writable: tuple[str, Path]) -> None:
    url, _ = writable
    rows = "\n".join(
        json.dumps(row)
        for row in (
            {"id": "../x", "text": "A row whose id is a path."},
            {"id": "ok-row", "text": "The river ferry resumed service on Monday after the floods, the council said."},
        )
    )
    files = [
        ("files", ("bakery.txt", BAKERY, "text/plain")),
        ("files", ("rows.jsonl", rows.encode(), "application/jsonl")),
        ("files", ("../escape.txt", BAKERY, "text/plain")),
        ("files", ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "text/plain")),
        ("files", ("archive.zip", b"PK\x03\x04" + b"\x00" * 64, "application/zip")),
    ]
    response = httpx.post(url + "/v1/documents", files=files, headers=WRITER, timeout=30)
    assert response.status_code == 202, response.text
    job = wait_for_job(url, response.json()["job_id"])
    assert job["state"] == "done" and sorted(job["added"]) == ["bakery", "ok-row"]
    reasons = {item["path"]: item["reason"] for item in job["skipped"]}
    assert "plain name" in reasons["../escape.txt"]
    assert reasons["photo.txt"] == "binary"
    assert "unsupported type .zip" in reasons["archive.zip"]
    assert "not allowed" in reasons["rows.jsonl"] and "../x" in reasons["rows.jsonl"]
    assert not any("newsrag-upload" in item["path"] for item in job["skipped"]), "no server paths leak"
    document = httpx.get(url + "/v1/documents/bakery").json()
    assert document["text"] == BAKERY.decode() and document["source_path"] == "upload:bakery.txt"


def test_bad_uploads_get_clear_4xx(writable: tuple[str, Path]) -> None:
    url, _ = writable
    path_like = {"documents": [{**FESTIVAL, "id": "../x"}]}
    cases = [
        (httpx.post(url + "/v1/documents", json=path_like, headers=WRITER), 422, "body.documents.0.id"),
        (httpx.post(url + "/v1/documents", json={"documents": []}, headers=WRITER), 422, "documents"),
        (
            httpx.post(
                url + "/v1/documents", content=b"{not json", headers={**WRITER, "content-type": "application/json"}
            ),
            422,
            "JSON",
        ),
        (
            httpx.post(url + "/v1/documents", content=b"text", headers={**WRITER, "content-type": "text/plain"}),
            415,
            "multipart",
        ),
        (httpx.post(url + "/v1/documents", files={"other": ("a.txt", b"x")}, headers=WRITER), 422, "files"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]


def test_delete_a_document(writable: tuple[str, Path]) -> None:
    url, _ = writable
    job = httpx.post(url + "/v1/documents", json={"documents": [{**FESTIVAL, "id": "to-delete"}]}, headers=WRITER)
    assert wait_for_job(url, job.json()["job_id"])["state"] == "done"
    deleted = httpx.delete(url + "/v1/documents/to-delete", headers=WRITER, timeout=30)
    assert deleted.status_code == 200 and deleted.json()["removed"] == "to-delete"
    assert httpx.get(url + "/readyz").json()["index_version"] == deleted.json()["version"]
    assert httpx.get(url + "/v1/documents/to-delete").status_code == 404
    missing = httpx.delete(url + "/v1/documents/to-delete", headers=WRITER, timeout=30)
    assert missing.status_code == 404 and missing.json()["type"] == "NotFound"


def test_a_second_writer_gets_a_clear_409(writable: tuple[str, Path]) -> None:
    url, index = writable
    with open(index / ".lock", "w") as lock:  # what a running `rag ingest` holds
        fcntl.flock(lock, fcntl.LOCK_EX)
        response = httpx.delete(url + "/v1/documents/bakery", headers=WRITER, timeout=30)
    assert response.status_code == 409 and response.json()["type"] == "Conflict"
    assert "another ingest" in response.json()["detail"]


def test_unknown_job_is_404(writable: tuple[str, Path]) -> None:
    url, _ = writable
    assert httpx.get(url + "/v1/ingest/nope").status_code == 404
    assert isinstance(httpx.get(url + "/v1/ingest").json()["jobs"], list)


# -- keys ----------------------------------------------------------------------------------------


def test_writes_need_the_key(writable: tuple[str, Path]) -> None:
    url, _ = writable
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        response = httpx.post(url + "/v1/documents", json={"documents": [FESTIVAL]}, headers=headers)
        assert response.status_code == 401 and response.json()["type"] == "Unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
        assert httpx.delete(url + "/v1/documents/bakery", headers=headers).status_code == 401
        assert httpx.post(url + "/v1/reload", headers=headers).status_code == 401
    assert httpx.post(url + "/v1/ask", json={"question": "Who led the parade?"}).status_code == 200
    ready = httpx.get(url + "/readyz").json()
    assert ready["write_requires_key"] is True and ready["read_requires_key"] is False


def test_private_reads_need_the_key(live_server: ServerFactory) -> None:
    url = live_server(RAG_API_KEYS="test-key-123", RAG_PUBLIC_READ="false")
    ask = {"question": "Who invited Hakim to Tehran?"}
    assert httpx.post(url + "/v1/ask", json=ask).status_code == 401
    assert httpx.get(url + "/v1/documents").status_code == 401
    assert httpx.get(url + "/metrics").status_code == 401
    authorised = {"Authorization": "Bearer test-key-123"}
    assert httpx.post(url + "/v1/ask", json=ask, headers=authorised).status_code == 200
    assert httpx.get(url + "/healthz").status_code == 200 and httpx.get(url + "/readyz").json()["read_requires_key"]


# -- logs, request ids, metrics ------------------------------------------------------------------


def test_request_ids_and_json_logs_without_keys(writable: tuple[str, Path], live_server: ServerFactory) -> None:
    url, _ = writable
    echoed = httpx.post(
        url + "/v1/ask", json={"question": "When did the bakery close?"}, headers={"X-Request-ID": "trace-42"}
    )
    assert echoed.headers["x-request-id"] == "trace-42"
    fresh = httpx.get(url + "/healthz", headers={"X-Request-ID": b"bad id\xff with spaces"})
    assert fresh.headers["x-request-id"] != "" and " " not in fresh.headers["x-request-id"]
    httpx.post(url + "/v1/documents", json={"documents": [FESTIVAL]}, headers=WRITER)
    log = _log_of(url)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "trace-42" and line.get("path") == "/v1/ask" for line in lines)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert KEY not in log, "keys never appear in logs"


def test_metrics_in_prometheus_format(writable: tuple[str, Path]) -> None:
    url, _ = writable
    assert httpx.post(url + "/v1/ask", json={"question": "Who invited Hakim to Tehran?"}).json()["answered"]
    assert not httpx.post(url + "/v1/ask", json={"question": "Who is the mayor of Baghdad?"}).json()["answered"]
    text = httpx.get(url + "/metrics").text
    from prometheus_client.parser import text_string_to_metric_families

    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = families["newsrag_http_requests"].samples
    assert any(s.labels["route"] == "/v1/ask" and s.labels["status"] == "200" and s.value >= 2 for s in requests)
    stages = {s.labels["stage"] for s in families["newsrag_answer_stage_seconds"].samples}
    assert {"embed", "search", "compose", "total"} <= stages
    outcomes = {s.labels["outcome"] for s in families["newsrag_answers"].samples}
    assert outcomes == {"answered", "abstained"}
    assert families["newsrag_index_passages"].samples[0].value > 0
    assert families["newsrag_index_segments"].samples[0].value >= 1
    assert families["newsrag_index_info"].samples[0].labels["store"] == "faiss"
    assert {s.labels["state"] for s in families["newsrag_ingest_jobs"].samples} >= {"queued", "running", "done"}


def _log_of(url: str) -> str:
    """The log of the server at `url` (the fixture keeps one file per server)."""
    port = url.rsplit(":", 1)[1]
    for process in ServerProcess.started:
        if str(process.port) == port:
            return process.log()
    raise AssertionError(f"no server on {url}")


# -- limits --------------------------------------------------------------------------------------


def test_limits(live_server: ServerFactory) -> None:
    url = live_server(RAG_RATE_LIMIT="5/minute", RAG_MAX_BODY_BYTES="2048", RAG_MAX_UPLOAD_BYTES="4096")
    big = {"question": "x" * 5000}
    started = time.perf_counter()
    response = httpx.post(url + "/v1/ask", json=big)
    assert response.status_code == 413 and response.json()["type"] == "PayloadTooLarge"
    upload = httpx.post(url + "/v1/documents", files={"files": ("big.txt", b"word " * 2000)})
    assert upload.status_code == 413 and "RAG_MAX_UPLOAD_BYTES" in upload.json()["detail"]
    chunked = httpx.post(
        url + "/v1/ask",
        content=iter([b'{"question": "', b"x" * 3000, b'"}']),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413 and chunked.json()["type"] == "PayloadTooLarge"
    disguised = httpx.post(url + "/v1/ask", files={"files": ("a.txt", b"word " * 700)})
    assert disguised.status_code == 413, "the upload limit is only for uploads"
    assert time.perf_counter() - started < 5
    bad_date = httpx.post(url + "/v1/search", json={"query": "Hakim", "date_from": "yesterday"})
    assert bad_date.status_code == 422 and "ISO 8601" in bad_date.json()["detail"]
    statuses = [httpx.post(url + "/v1/search", json={"query": "Hakim"}).status_code for _ in range(6)]
    assert statuses[-1] == 429 and 200 in statuses
    limited = httpx.post(url + "/v1/search", json={"query": "Hakim"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert httpx.get(url + "/healthz").status_code == 200, "health is never rate limited"


def test_overload_gets_a_quick_503_with_retry_after(live_server: ServerFactory) -> None:
    url = live_server(RAG_MAX_CONCURRENT="1", RAG_MAX_QUEUED="2", RAG_QUEUE_TIMEOUT="5")
    questions = [f"Why was the visit postponed, part {n}?" for n in range(60)]
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=60))
    with client, ThreadPoolExecutor(max_workers=60) as pool:
        responses = list(pool.map(lambda q: client.post(url + "/v1/ask", json={"question": q}), questions))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1 and statuses.count(503) >= 1
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.json()["type"] == "Overloaded" and busy.headers["retry-after"] == "1"


# -- shutdown and faults -------------------------------------------------------------------------


def test_sigterm_finishes_requests_in_flight(build_index: IndexBuilder, corpus_dir: Path, tmp_path: Path) -> None:
    index = build_index(corpus_dir)
    server = ServerProcess(index, {"RAG_MAX_CONCURRENT": "1"}, tmp_path / "serve.log")
    server.wait_ready()
    results: list[tuple[int, list]] = []

    def ask(n: int) -> None:
        body = {"question": f"Why was Kadhimi's visit to Riyadh postponed? ({n})", "stream": True}
        with httpx.stream("POST", server.url + "/v1/ask", json=body, timeout=120) as response:
            results.append((response.status_code, read_sse(response.iter_lines())))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(CROWD)]
    for thread in threads:
        thread.start()
    # Wait until every request has reached the server (answered, answering, or queued behind the one slot).
    _wait_for(lambda: sum(_gauges(server.url).values()) >= CROWD, 60)
    still_waiting = _gauges(server.url)["waiting"]
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(120)
    # uvicorn re-raises the signal once it has shut down cleanly, so the exit status is -SIGTERM.
    assert server.process.wait(30) in (0, -signal.SIGTERM) and "Application shutdown complete" in server.log()
    assert still_waiting >= 1, "the test must stop the server with requests still queued"
    assert len(results) == CROWD, server.log()
    assert all(status == 200 and events[-1][0] == "done" for status, events in results), server.log()


CROWD = 150  # enough answer work (one slot, ~20 ms each) that many still wait when SIGTERM comes


def _gauges(url: str) -> dict[str, float]:
    """Requests the server has: answered, being answered, waiting."""
    from prometheus_client.parser import text_string_to_metric_families

    found = {"done": 0.0, "working": 0.0, "waiting": 0.0}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for sample in family.samples:
            if sample.name == "newsrag_http_requests_total" and sample.labels["route"] == "/v1/ask":
                found["done"] += sample.value
            elif sample.name == "newsrag_answers_in_progress":
                found["working"] = sample.value
            elif sample.name == "newsrag_answers_waiting":
                found["waiting"] = sample.value
    return found


def test_sigterm_leaves_an_upload_unpublished(build_index: IndexBuilder, corpus_dir: Path, tmp_path: Path) -> None:
    index = build_index(corpus_dir)
    before = read_current(index)
    server = ServerProcess(index, {}, tmp_path / "serve.log")
    server.wait_ready()
    articles = [{**FESTIVAL, "id": f"bulk-{n}", "text": FESTIVAL["text"] + f" Boat {n} won." * 40} for n in range(400)]
    job = httpx.post(server.url + "/v1/documents", json={"documents": articles}, timeout=30).json()
    _wait_until_running(server.url, job["job_id"])
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(60) in (0, -signal.SIGTERM)
    assert read_current(index) == before, "nothing of the stopped job was published"
    restarted = ServerProcess(index, {}, tmp_path / "again.log")
    restarted.wait_ready()
    try:
        documents = httpx.get(restarted.url + "/v1/documents").json()["documents"]
        assert len(documents) == 5 and not any(d["doc_id"].startswith("bulk-") for d in documents)
    finally:
        restarted.stop()


def test_kill_9_during_an_upload_loses_nothing_published(
    build_index: IndexBuilder, corpus_dir: Path, tmp_path: Path
) -> None:
    index = build_index(corpus_dir)
    server = ServerProcess(index, {}, tmp_path / "serve.log")
    server.wait_ready()
    first = httpx.post(server.url + "/v1/documents", json={"documents": [FESTIVAL]}, timeout=30).json()
    assert wait_for_job(server.url, first["job_id"])["state"] == "done"
    published = read_current(index)
    articles = [{**FESTIVAL, "id": f"bulk-{n}", "text": FESTIVAL["text"] + f" Boat {n} won." * 40} for n in range(400)]
    job = httpx.post(server.url + "/v1/documents", json={"documents": articles}, timeout=30).json()
    _wait_until_running(server.url, job["job_id"])
    server.process.kill()
    server.process.wait(10)
    assert read_current(index) == published
    restarted = ServerProcess(index, {}, tmp_path / "again.log")
    restarted.wait_ready()
    try:
        ids = {d["doc_id"] for d in httpx.get(restarted.url + "/v1/documents").json()["documents"]}
        assert "geneva-festival" in ids and not any(i.startswith("bulk-") for i in ids)
        body = httpx.post(restarted.url + "/v1/ask", json={"question": "Who led the first parade of sails?"}).json()
        assert "Anna Keller" in body["answer"] and exact_citations(restarted.url, body)
    finally:
        restarted.stop()


def test_kill_9_of_rag_ingest_while_clients_ask(
    build_index: IndexBuilder, corpus_dir: Path, tmp_path: Path, live_server: ServerFactory
) -> None:
    index = build_index(corpus_dir)
    url = live_server(index_dir=index)
    published = read_current(index)
    big = tmp_path / "big.jsonl"
    rows = [{"id": f"bulk-{n}", "text": FESTIVAL["text"] + f" Boat {n} won." * 40} for n in range(400)]
    big.write_text("\n".join(json.dumps(row) for row in rows))
    stop = threading.Event()
    outcomes: list[tuple[int, bool]] = []

    def keep_asking() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                response = client.post(url + "/v1/ask", json={"question": "Who invited Hakim to Tehran?"})
                outcomes.append(
                    (response.status_code, response.status_code == 200 and exact_citations(url, response.json()))
                )

    clients = [threading.Thread(target=keep_asking) for _ in range(20)]
    for thread in clients:
        thread.start()
    env = {**os.environ, "RAG_INDEX_DIR": str(index), "RAG_LOG_LEVEL": "WARNING"}
    ingest = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(big), "--no-progress"], env=env, cwd=PROJECT_ROOT
    )
    _wait_for(lambda: write_lock_held(index), 120)  # the writer is at work
    time.sleep(2)
    ingest.send_signal(signal.SIGKILL)
    ingest.wait(10)
    time.sleep(1)
    stop.set()
    for thread in clients:
        thread.join(30)
    assert read_current(index) == published, "a killed writer publishes nothing"
    assert outcomes and all(status == 200 and exact for status, exact in outcomes)
    after = httpx.post(url + "/v1/ask", json={"question": "Who invited Hakim to Tehran?"}).json()
    assert after["answered"] and exact_citations(url, after)


def test_a_damaged_version_is_detected_and_the_previous_one_used(
    build_index: IndexBuilder, corpus_dir: Path, tmp_path: Path, copy_corpus: Path
) -> None:
    index = build_index(corpus_dir)
    first = read_current(index)
    (copy_corpus / "extra.txt").write_bytes(BAKERY)
    build_index(copy_corpus, index_dir=index)
    damaged = read_current(index)
    assert damaged != first
    vectors = _newest_segment(index) / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])  # truncated on disk
    server = ServerProcess(index, {}, tmp_path / "serve.log")
    try:
        server.wait_ready()
        assert httpx.get(server.url + "/readyz").json()["index_version"] == first
        errors = [line for line in server.log().splitlines() if damaged in line and "ERROR" in line]
        assert errors and "cannot be read" in errors[0], server.log()
    finally:
        server.stop()


def test_writes_after_a_damaged_version_build_on_the_last_whole_one(
    build_index: IndexBuilder, corpus_dir: Path, tmp_path: Path, copy_corpus: Path, live_server: ServerFactory
) -> None:
    index = build_index(corpus_dir)
    (copy_corpus / "extra.txt").write_bytes(BAKERY)
    build_index(copy_corpus, index_dir=index)
    (_newest_segment(index) / "store.sqlite").write_bytes(b"not a database")
    url = live_server(index_dir=index)
    deleted = httpx.delete(url + "/v1/documents/000_377df34418484512", timeout=30)
    assert deleted.status_code == 200, deleted.text
    documents = {d["doc_id"] for d in httpx.get(url + "/v1/documents").json()["documents"]}
    assert len(documents) == 4 and "extra" not in documents, "built on the version before the damaged one"


def _newest_segment(index: Path) -> Path:
    """The segment the live version added last: damaging it damages that version only."""
    return max((index / "segments").glob("s[0-9]*"))


def _wait_until_running(url: str, job_id: str) -> None:
    _wait_for(lambda: httpx.get(f"{url}/v1/ingest/{job_id}").json()["passages"] > 0, 120)


def _wait_for(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
