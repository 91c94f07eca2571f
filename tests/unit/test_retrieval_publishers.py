"""A question that names a publisher is also searched within that publisher's articles."""

from __future__ import annotations

import json
from pathlib import Path

from rag.config import Settings
from rag.embeddings import Embedder
from rag.retrieval import mentioned_publishers, retrieve
from rag.store import Index
from tests.conftest import IndexBuilder

ARTICLES = [
    ("g1", "The Guardian", "The city council approved a new budget for public parks and libraries on Monday."),
    ("g2", "The Guardian", "Heavy rain flooded several streets downtown, and the council promised repairs."),
    ("v1", "The Verge", "The council's new budget also funds free public wifi in every library branch."),
    ("v2", "The Verge", "A startup released a phone with a folding screen and a week-long battery."),
]


def test_a_named_publisher_contributes_its_best_passage(
    tmp_path: Path, build_index: IndexBuilder, embedder: Embedder
) -> None:
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": i, "source": s, "title": i, "text": t}) for i, s, t in ARTICLES))
    index_dir = build_index(corpus)
    index = Index.open_current(index_dir)
    settings = Settings(index_dir=index_dir)
    # Without a publisher the Guardian's report of the approval ranks first ...
    assert (
        retrieve(index, embedder, "Which budget did the city council approve?", 1, settings).hits[0].passage.doc_id
        == "g1"
    )
    # ... asked of The Verge, its articles come first, its report of the budget leading.
    question = "Which budget did the city council approve, as reported by The Verge?"
    assert mentioned_publishers(index, question) == ["The Verge"]
    assert mentioned_publishers(index, "What did the council approve?") == []
    assert [h.passage.doc_id for h in retrieve(index, embedder, question, 3, settings).hits] == ["v1", "v2", "g1"]
