"""Sentences and passages are exact spans of the original text."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from ingest.chunk import passages, sentences
from ingest.clean import kept_spans
from ingest.loaders import RawDocument, load


def _corpus(corpus_dir: Path) -> list[RawDocument]:
    docs = [item for path in sorted(corpus_dir.iterdir()) for item in load(path)]
    assert all(isinstance(d, RawDocument) for d in docs)
    return docs  # type: ignore[return-value]


def test_every_passage_and_sentence_is_an_exact_span(corpus_dir: Path) -> None:
    total = 0
    for doc in _corpus(corpus_dir):
        chunks = passages(doc.doc_id, doc.text, sentences(doc.text, kept_spans(doc.text)))
        assert chunks, doc.doc_id
        for passage in chunks:
            assert doc.text[passage.start : passage.end] == passage.text
            assert passage.sentences[0].start == passage.start and passage.sentences[-1].end == passage.end
            for sentence in passage.sentences:
                quote = doc.text[sentence.start : sentence.end]
                assert quote == quote.strip() and quote
            total += 1
    assert total >= 15


def test_passage_sizes_stay_within_bounds(corpus_dir: Path) -> None:
    for doc in _corpus(corpus_dir):
        chunks = passages(doc.doc_id, doc.text, sentences(doc.text, kept_spans(doc.text)), 60, 150)
        for passage in chunks:
            words = len(passage.text.split())
            longest = max(len(doc.text[s.start : s.end].split()) for s in passage.sentences)
            assert words <= max(150, longest) * 1.3, (passage.chunk_id, words)
        assert all(len(p.text.split()) >= 20 for p in chunks[:-1]), doc.doc_id


def test_nbsp_and_dateline_fragments_stay_in_place() -> None:
    text = "Baghdad (IP) - The envoy arrived.\u00a0 He met the minister on Friday.\nThey spoke for an hour."
    spans = [s for segment in sentences(text, kept_spans(text)) for s in segment]
    quotes = [text[s.start : s.end] for s in spans]
    assert quotes == ["Baghdad (IP) - The envoy arrived.", "He met the minister on Friday.", "They spoke for an hour."]


def test_chunk_ids_are_stable_and_ordered() -> None:
    text = " ".join(f"Sentence number {i} talks about the meeting in the capital today." for i in range(60))
    chunks = passages("doc", text, sentences(text, kept_spans(text)), 20, 60, overlap=1)
    assert [c.chunk_id for c in chunks] == [f"doc#{i:04d}" for i in range(len(chunks))]
    assert all(a.start < b.start for a, b in pairwise(chunks))
    assert all(b.start <= a.end for a, b in pairwise(chunks)), "short sentences overlap by one"
