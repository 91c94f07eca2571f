"""Each supported file type loads; everything else is skipped with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.loaders import RawDocument, Skipped, discover, load

HTML = """<html><head><title>Envoy visits Baghdad</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Envoy visits Baghdad</h1>
<p>The envoy arrived in Baghdad on Thursday for two days of talks with Iraqi officials about trade and security.</p>
<p>Officials said the talks covered electricity imports, border crossings and the return of displaced families.</p>
</article><footer>Copyright 2024 Example Media. Subscribe to our newsletter.</footer></body></html>"""


def _one(path: Path) -> RawDocument | Skipped:
    (item,) = list(load(path))
    return item


def test_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The envoy arrived.")
    (tmp_path / "b.md").write_text("# Title\n\nThe envoy arrived.")
    a, b = _one(tmp_path / "a.txt"), _one(tmp_path / "b.md")
    assert isinstance(a, RawDocument) and a.doc_id == "a" and a.text == "The envoy arrived."
    assert isinstance(b, RawDocument) and b.doc_id == "b"


def test_html_main_text_is_extracted(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(HTML)
    doc = _one(tmp_path / "page.html")
    assert isinstance(doc, RawDocument)
    assert "electricity imports" in doc.text
    assert "Home" not in doc.text and "Subscribe" not in doc.text and "<p>" not in doc.text


def test_jsonl_rows(tmp_path: Path) -> None:
    rows = [
        {"id": "r1", "text": "First article text.", "title": "One", "date": "2024-06-13", "source": "Wire"},
        {"text": "Second article, no id."},
        {"id": "r3"},
    ]
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines))
    items = list(load(tmp_path / "feed.jsonl"))
    docs = [i for i in items if isinstance(i, RawDocument)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [d.doc_id for d in docs] == ["r1", "feed-2"]
    assert docs[0].title == "One" and docs[0].date == "2024-06-13" and docs[0].source == "Wire"
    assert [s.reason for s in skipped] == [
        "no 'text' string in the row",
        "invalid JSON (Expecting property name enclosed in double quotes)",
    ]
    assert skipped[0].path.endswith("feed.jsonl:3")


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00\x01\x02")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    reasons = {Path(s.path).name: s.reason for p in sorted(tmp_path.iterdir()) for s in load(p)}  # type: ignore[union-attr]
    assert reasons["empty.txt"] == "empty"
    assert reasons["binary.txt"] == "binary"
    assert reasons["latin1.txt"].startswith("undecodable")
    assert reasons["image.png"] == "unsupported type .png"


def test_discover_walks_folders_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("x")
    (tmp_path / ".hidden").write_text("x")
    found = list(discover([tmp_path, tmp_path / "missing.txt"]))
    assert found[0] == tmp_path / "sub" / "x.txt"
    assert isinstance(found[1], Skipped) and found[1].reason == "not found"
    assert len(found) == 2


def test_a_jsonl_file_is_read_row_by_row_and_a_bad_row_skips_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"id": "a", "text": "First."}\n\xff\xfe not utf-8\n{"id": "b", "text": "Second."}\n')
    found = list(load(path))
    assert [getattr(f, "doc_id", None) for f in found] == ["a", None, "b"]
    assert isinstance(found[1], Skipped) and "undecodable" in found[1].reason and found[1].path.endswith(":2")


def test_cuda_asked_for_without_a_gpu_is_a_clear_error() -> None:
    import torch

    from rag.embeddings import SentenceTransformerEmbedder
    from rag.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: measured in bench/bench.py instead")
    with pytest.raises(ConfigError, match="RAG_DEVICE=cuda"):
        SentenceTransformerEmbedder(device="cuda")
