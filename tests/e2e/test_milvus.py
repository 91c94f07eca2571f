"""The service on the Milvus store (Milvus Lite, a .db file): same pipeline, same answers, same exact citations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from rag.config import PROJECT_ROOT
from tests.conftest import ServerProcess
from tests.e2e.test_operations import FESTIVAL, exact_citations, wait_for_job


def test_ingest_ask_upload_and_delete_on_milvus_lite(tmp_path: Path, corpus_dir: Path) -> None:
    index = tmp_path / "index"
    env = {"RAG_STORE": "milvus", "RAG_MILVUS_URI": str(tmp_path / "milvus.db")}
    ingest = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus_dir), "--no-progress"],
        env={**os.environ, "RAG_INDEX_DIR": str(index), **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr
    server = ServerProcess(index, env, tmp_path / "serve.log")
    try:
        server.wait_ready()
        ready = httpx.get(server.url + "/readyz").json()
        assert ready["store"] == "milvus" and ready["passages"] > 0

        body = httpx.post(server.url + "/v1/ask", json={"question": "Who invited Hakim to Tehran?"}, timeout=60).json()
        assert body["answered"] and "Ghalibaf" in body["answer"] and exact_citations(server.url, body)
        dated = httpx.post(
            server.url + "/v1/search", json={"query": "Hakim Tehran visit", "date_from": "2030-01-01"}, timeout=60
        )
        assert dated.status_code == 200 and dated.json()["results"] == []

        job = httpx.post(server.url + "/v1/documents", json={"documents": [FESTIVAL]}, timeout=30).json()
        assert wait_for_job(server.url, job["job_id"])["state"] == "done"
        asked = {"question": "Who led the first parade of sails?"}
        body = httpx.post(server.url + "/v1/ask", json=asked, timeout=60).json()
        assert "Anna Keller" in body["answer"] and exact_citations(server.url, body)

        assert httpx.delete(server.url + f"/v1/documents/{FESTIVAL['id']}", timeout=60).status_code == 200
        ids = {d["doc_id"] for d in httpx.get(server.url + "/v1/documents").json()["documents"]}
        assert FESTIVAL["id"] not in ids and len(ids) == 5
    finally:
        server.stop()
