"""A question that names a publisher is also searched within that publisher's articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer import create_backend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.retrieval import mentioned_publishers, retrieve, unknown_publishers
from rag.service import RagService
from rag.store import Index
from tests.conftest import IndexBuilder
from tests.support import run_sync

ARTICLES = [
    ("g1", "The Guardian", "The city council approved a new budget for public parks and libraries on Monday."),
    ("g2", "The Guardian", "Heavy rain flooded several streets downtown, and the council promised repairs."),
    ("v1", "The Verge", "The council's new budget also funds free public wifi in every library branch."),
    ("v2", "The Verge", "A startup released a phone with a folding screen and a week-long battery."),
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, build_index: IndexBuilder) -> Path:
    corpus = tmp_path_factory.mktemp("publishers") / "news.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": i, "source": s, "title": i, "text": t}) for i, s, t in ARTICLES))
    return build_index(corpus)


def test_a_named_publisher_contributes_its_best_passage(index_dir: Path, embedder: Embedder) -> None:
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


def test_a_source_the_corpus_does_not_have_is_no_answer(index_dir: Path, embedder: Embedder) -> None:
    index = Index.open_current(index_dir)
    assert unknown_publishers(index, "According to a Bloomberg article, which budget did the council approve?") == [
        "Bloomberg"
    ]
    assert unknown_publishers(index, "Which budget did the council approve, as reported by Reuters?") == ["Reuters"]
    # Sources the corpus has, dates and topics are no unknown sources.
    for question in (
        "Which budget did the council approve, as reported by The Verge?",
        "What did a Guardian article published on October 3 say about the council's budget?",
        "What did the council's budget report fund?",
        "What did a Tesla's report say?",
    ):
        assert unknown_publishers(index, question) == [], question

    settings = Settings(index_dir=index_dir)
    service = RagService(settings, embedder, create_backend(settings, embedder))
    known = run_sync(service.ask("Which budget did the city council approve, as reported by The Guardian?"))
    unknown = run_sync(service.ask("Which budget did the city council approve, according to a Bloomberg report?"))
    assert known.answered and known.citations[0].doc_id == "g1"
    assert not unknown.answered and unknown.confidence == 0.0
