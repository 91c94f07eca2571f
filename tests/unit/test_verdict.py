"""Yes/no and either-or verdicts: what the model's line says, and the exact quotes the answer rests on."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer import Evidence
from rag.answer.verdict import Verdict, answer_with, read_verdict
from rag.config import Settings
from rag.embeddings import Embedder
from rag.retrieval import retrieve
from rag.store import Index

QUESTION = "Did Ghalibaf invite Hakim to Tehran?"
CHOICE = "Was it in the morning or the evening that Bagheri set off for Erbil?"


@pytest.mark.parametrize(
    ("text", "says", "passages"),
    [
        ("Answer: Yes [2]", "Yes", (2,)),
        ("No [1, 3]\nEvidence: something", "No", (1, 3)),
        ("**Answer:** yes, he did.", "Yes", ()),
        ("Answer: Not in the passages.", None, ()),
        ("Answer: Hassan Rouhani [1]", None, ()),  # no option the question offers
        ("", None, ()),
    ],
)
def test_the_verdict_is_read_off_the_first_line(text: str, says: str | None, passages: tuple[int, ...]) -> None:
    verdict = read_verdict(text, QUESTION)
    assert (verdict.says, verdict.passages) == (says, passages) if says else verdict is None


def test_an_either_or_verdict_must_be_an_option_of_the_question() -> None:
    assert read_verdict("Answer: the evening [1]", CHOICE) == Verdict("the evening", (1,))
    assert read_verdict("Answer: at noon [1]", CHOICE) is None


def _evidence(question: str, settings: Settings, embedder: Embedder) -> Evidence:
    index = Index.open_current(settings.index_dir)
    found = retrieve(index, embedder, question, 5, settings)
    vectors = index.sentence_vectors([h.passage.chunk_id for h in found.hits])
    return Evidence(question, found.query_vector, found.hits, vectors)


def test_the_answer_quotes_the_named_passages_exactly(settings: Settings, embedder: Embedder, corpus_dir: Path) -> None:
    evidence = _evidence(QUESTION, settings, embedder)
    ghalibaf = next(n for n, h in enumerate(evidence.hits, start=1) if "Ghalibaf" in h.passage.text)
    answer = answer_with(Verdict("Yes", (ghalibaf,)), evidence, 4, 0.9)
    assert answer is not None and answer.answered and answer.answer.startswith("Yes. ")
    assert {c.chunk_id for c in answer.citations} == {evidence.hits[ghalibaf - 1].passage.chunk_id}
    texts = {p.stem: p.read_text(encoding="utf-8") for p in corpus_dir.iterdir()}
    for citation in answer.citations:
        assert texts[citation.doc_id][citation.start : citation.end] == citation.text
        assert f"{' '.join(citation.text.split())} [{citation.marker}]" in answer.answer
    assert answer.grounding[0].grounded and answer.answer_span is None  # "Yes" stands nowhere in the text


def test_without_passage_numbers_the_best_sentences_shown_are_quoted(settings: Settings, embedder: Embedder) -> None:
    evidence = _evidence(QUESTION, settings, embedder)
    answer = answer_with(Verdict("No", ()), evidence, 4, 0.9)
    assert answer is not None and 1 <= len(answer.citations) <= 2
    assert len({c.doc_id for c in answer.citations}) == len(answer.citations), "one sentence per article"
    assert answer_with(Verdict("No", (99,)), evidence, 4, 0.9) is not None  # a number it was not shown: ignored


def test_the_drafts_ranking_gives_the_same_verdict_answer(settings: Settings, embedder: Embedder) -> None:
    """The LLM backend passes the gate draft's ranking on instead of scoring the sentences again."""
    from rag.answer.extractive import draft

    evidence = _evidence(QUESTION, settings, embedder)
    ranked = draft(evidence, 1).ranked
    assert ranked, "the draft keeps the scorer's ranking"
    verdict = Verdict("Yes", ())
    assert answer_with(verdict, evidence, 4, 0.9, ranked) == answer_with(verdict, evidence, 4, 0.9)


@pytest.mark.parametrize(
    ("question", "model_says", "answer_says"),
    [
        ("Did Hakim's visit to Iran last a week?", "Yes", "No"),  # the quote says "three-day visit"
        ("Did Hakim's visit to Iran last three days?", "No", "Yes"),
        ("Did Hakim's visit to Iran last three days?", "Yes", "Yes"),
    ],
)
def test_a_verdict_its_quoted_duration_contradicts_is_overruled(
    question: str, model_says: str, answer_says: str, settings: Settings, embedder: Embedder
) -> None:
    evidence = _evidence(question, settings, embedder)
    answer = answer_with(Verdict(model_says, ()), evidence, 4, 0.9)
    assert answer is not None and answer.answer.startswith(f"{answer_says}. ")
    assert any("three-day visit" in c.text for c in answer.citations), "the duration it rests on is quoted"
    kept = answer.grounding[-1]
    assert (kept.sentence, kept.grounded) == (answer_says, True)
    overruled = [g for g in answer.grounding if not g.grounded]
    assert [g.sentence for g in overruled] == ([model_says] if model_says != answer_says else [])


@pytest.mark.parametrize(
    ("question", "says"),
    [("Did Hakim's visit to Iran last a week?", "No"), ("Did Hakim's visit to Iran last three days?", "Yes")],
)
def test_the_extractive_answer_says_yes_or_no_when_the_stated_duration_settles_it(
    question: str, says: str, settings: Settings, embedder: Embedder, corpus_dir: Path
) -> None:
    from rag.answer.extractive import draft

    found = draft(_evidence(question, settings, embedder), 3)
    assert found.settled and "".join(found.pieces).startswith(f"{says} — ")
    (citation,) = found.citations
    assert "three-day visit" in citation.text and found.answer_span is not None
    text = (corpus_dir / f"{citation.doc_id}.txt").read_text(encoding="utf-8")
    assert text[citation.start : citation.end] == citation.text
    assert text[found.answer_span.start : found.answer_span.end] == found.answer_span.text == "three-day"


def test_a_yes_no_question_without_a_stated_quantity_is_not_settled_in_code(
    settings: Settings, embedder: Embedder
) -> None:
    from rag.answer.extractive import draft

    assert not draft(_evidence(QUESTION, settings, embedder), 3).settled
