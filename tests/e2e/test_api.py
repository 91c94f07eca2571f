"""The HTTP API of a real `rag serve` process on a loopback port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import read_sse

pytestmark = pytest.mark.e2e


def _post(url: str, path: str, body: object) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=30)


def test_health_and_readiness(server_url: str) -> None:
    assert httpx.get(server_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server_url + "/readyz").json()
    assert ready["status"] == "ready" and ready["index_version"].startswith("v") and ready["store"] == "faiss"


def test_ask_cites_exact_spans(server_url: str) -> None:
    response = _post(server_url, "/v1/ask", {"question": "Where did the acting foreign minister go on the second day?"})
    assert response.status_code == 200
    body = response.json()
    assert body["answered"] and body["backend"] == "extractive"
    assert any("Erbil" in c["text"] for c in body["citations"])
    for citation in body["citations"]:
        document = httpx.get(f"{server_url}/v1/documents/{citation['doc_id']}").json()
        assert document["text"][citation["start"] : citation["end"]] == citation["text"]
        assert f"[{citation['marker']}]" in body["answer"]
    assert body["timings_ms"]["total"] > 0


def test_unanswerable_question(server_url: str) -> None:
    body = _post(server_url, "/v1/ask", {"question": "How tall is the Milad Tower in Tehran?"}).json()
    assert body["answered"] is False and body["citations"] == []


def test_search_returns_exact_passages(server_url: str) -> None:
    body = _post(server_url, "/v1/search", {"query": "King Salman hospital", "top_k": 3}).json()
    results = body["results"]
    assert len(results) == 3 and results[0]["doc_id"] == "004_3432d813c02bbff3"
    assert all(-1 <= r["score"] <= 1 for r in results), "score is the passage's cosine similarity"
    document = httpx.get(f"{server_url}/v1/documents/{results[0]['doc_id']}").json()
    assert document["text"][results[0]["start"] : results[0]["end"]] == results[0]["text"]


def test_documents_listing(server_url: str) -> None:
    documents = httpx.get(server_url + "/v1/documents").json()["documents"]
    assert len(documents) == 5
    first = documents[0]
    assert first["doc_id"] == "000_377df34418484512" and first["place"] == "Tehran" and first["passage_count"] > 0


def test_stream_sends_tokens_citations_done(server_url: str) -> None:
    body = {"question": "Why was Kadhimi's visit to Riyadh postponed?", "stream": True}
    with httpx.stream("POST", server_url + "/v1/ask", json=body, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response.iter_lines())
    names = [n for n, _ in events]
    assert names[0] == "token" and names[-2:] == ["citations", "done"]
    streamed = "".join(data["text"] for n, data in events if n == "token")
    final = dict(events)["citations"]
    assert streamed == final["answer"] and final["answered"]
    assert any("hospital" in c["text"] for c in final["citations"])


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/v1/ask", {"question": ""}, 422, "empty"),
        ("/v1/ask", {"question": "   \n"}, 422, "empty"),
        ("/v1/ask", {"question": "x" * 2001}, 422, "2000"),
        ("/v1/ask", {"question": "Who?", "top_k": 0}, 422, "top_k"),
        ("/v1/ask", {"question": "Who?", "top_k": 51}, 422, "top_k"),
        ("/v1/ask", {"question": "Who?", "top_k": "many"}, 422, "top_k"),
        ("/v1/ask", {"top_k": 3}, 422, "question"),
        ("/v1/ask", {"question": "", "stream": True}, 422, "empty"),
        ("/v1/ask", {"question": "Who?", "history": [{"role": "robot", "content": "x"}]}, 422, "role"),
        ("/v1/search", {"query": " "}, 422, "empty"),
        ("/v1/search", {"query": "Iran", "top_k": 99}, 422, "top_k"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(
    server_url: str, path: str, body: dict, status: int, fragment: str
) -> None:
    response = _post(server_url, path, body)
    assert response.status_code == status
    assert fragment in response.json()["detail"]
    assert "Traceback" not in response.text


def test_malformed_json_is_a_422(server_url: str) -> None:
    response = httpx.post(
        server_url + "/v1/ask", content=b'{"question": "Who', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "malformed JSON" in response.json()["detail"]


def test_openapi_docs_work_offline(server_url: str) -> None:
    page = httpx.get(server_url + "/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text, "no CDN: the docs must work offline"
    assert httpx.get(server_url + "/openapi.json").json()["paths"]["/v1/ask"]


def test_unknown_document_is_a_404(server_url: str) -> None:
    response = httpx.get(server_url + "/v1/documents/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown document 'nope'", "type": "NotFound"}


def test_new_index_version_is_picked_up_without_restart(
    live_server, build_index, corpus_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    index_dir = build_index(corpus_dir, index_dir=tmp_path / "index")
    url = live_server(index_dir)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "desal.txt").write_text(
        "BASRA – Iraq opened the Faw desalination plant on Monday. The plant supplies drinking water "
        "to two million residents of Basra province, officials said."
    )
    build_index(extra, index_dir=index_dir)
    reloaded = httpx.post(url + "/v1/reload").json()
    assert reloaded["version"] == "v000002"
    body = _post(url, "/v1/ask", {"question": "How many residents does the Faw desalination plant supply?"}).json()
    assert body["answered"] and body["citations"][0]["doc_id"] == "desal"
    assert len(httpx.get(url + "/v1/documents").json()["documents"]) == 6


def test_filters_restrict_search_and_ask(server_url: str) -> None:
    only = {"query": "Hakim met in Baghdad", "top_k": 10, "doc_ids": ["002_a1f3d825a8827267"]}
    results = _post(server_url, "/v1/search", only).json()["results"]
    assert results and {r["doc_id"] for r in results} == {"002_a1f3d825a8827267"}
    by_source = _post(server_url, "/v1/search", {"query": "Raisi", "top_k": 20, "source": "Mehr News Agency"}).json()
    assert {r["doc_id"] for r in by_source["results"]} == {"000_377df34418484512", "003_c0864d09f7a77bb2"}
    undated = _post(server_url, "/v1/search", {"query": "Raisi", "date_from": "2024-01-01"}).json()
    assert undated["results"] == [], "documents without a date never match a date filter"
    body = {"question": "Why was Kadhimi's visit to Riyadh postponed?", "doc_ids": ["000_377df34418484512"]}
    answer = _post(server_url, "/v1/ask", body).json()
    assert all(c["doc_id"] == "000_377df34418484512" for c in answer["citations"])
