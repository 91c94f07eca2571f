"""The built-in backend: answer with the retrieved sentences that best answer the question, no LLM.

Each candidate sentence is scored by its similarity to the question (contextual sentence vectors from
the index), by how many of the question's content terms it contains, and by its passage's retrieval
score. The best one to three sentences become the answer, each with its citation; when even the best
evidence is weak the backend says the corpus does not answer instead of guessing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from rag.answer import Evidence
from rag.config import Settings
from rag.embeddings import Embedder
from rag.models import AnswerEvent, Citation, Composed, Hit, Span, Token
from rag.terms import content_terms, names

NOT_IN_CORPUS = "The corpus does not say. None of the retrieved passages answers this question."

# Weights of the evidence score, fitted on tests/data/calibration_qa.json (see README, "Answering").
SEMANTIC_WEIGHT = 0.55
LEXICAL_WEIGHT = 0.30
PASSAGE_WEIGHT = 0.15
EXTRA_SENTENCE_MARGIN = 0.06  # a second or third sentence must score this close to the best one
REDUNDANT_SIMILARITY = 0.9  # sentences this similar to a chosen one add nothing


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    span: Span
    vector: np.ndarray
    semantic: float
    lexical: float
    score: float

    @property
    def text(self) -> str:
        passage = self.hit.passage
        return passage.text[self.span.start - passage.start : self.span.end - passage.start]


def score_sentences(evidence: Evidence) -> list[Candidate]:
    """Every sentence of every hit, scored, best first; a sentence shared by two passages appears once."""
    question_terms = _weighted_terms(evidence.question)
    total_weight = sum(question_terms.values()) or 1.0
    best: dict[tuple[str, int], Candidate] = {}
    for hit in evidence.hits:
        vectors = evidence.sentence_vectors.get(hit.passage.chunk_id)
        if vectors is None:
            continue
        for span, vector in zip(hit.passage.sentences, vectors):
            passage = hit.passage
            sentence_terms = set(content_terms(passage.text[span.start - passage.start : span.end - passage.start]))
            lexical = sum(w for t, w in question_terms.items() if t in sentence_terms) / total_weight
            semantic = float(vector @ evidence.question_vector)
            score = SEMANTIC_WEIGHT * semantic + LEXICAL_WEIGHT * lexical + PASSAGE_WEIGHT * hit.score
            candidate = Candidate(hit, span, vector, semantic, lexical, score)
            key = (passage.doc_id, span.start)
            if key not in best or best[key].score < score:
                best[key] = candidate
    return sorted(best.values(), key=lambda c: c.score, reverse=True)


def _weighted_terms(question: str) -> dict[str, float]:
    """Question terms, names counting double: a question about a person hinges on the name."""
    named = {t for name in names(question) for t in content_terms(name)}
    return {t: (2.0 if t in named else 1.0) for t in content_terms(question)}


def choose(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """The best sentence, plus up to `limit - 1` near-equals that add something new."""
    if not candidates:
        return []
    chosen = [candidates[0]]
    for candidate in candidates[1:]:
        if len(chosen) >= limit or candidate.score < chosen[0].score - EXTRA_SENTENCE_MARGIN:
            break
        if all(float(candidate.vector @ c.vector) < REDUNDANT_SIMILARITY for c in chosen):
            chosen.append(candidate)
    return chosen


def cite(chosen: list[Candidate]) -> tuple[Citation, ...]:
    return tuple(
        Citation(
            marker=number,
            doc_id=c.hit.passage.doc_id,
            title=c.hit.title,
            chunk_id=c.hit.passage.chunk_id,
            start=c.span.start,
            end=c.span.end,
            text=c.text,
            score=round(c.score, 4),
        )
        for number, c in enumerate(chosen, start=1)
    )


class ExtractiveBackend:
    """Quotes the best evidence sentences; needs no model beyond the embedder used for retrieval."""

    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.min_score = settings.min_answer_score
        self.max_sentences = settings.max_answer_sentences

    async def compose(self, evidence: Evidence) -> AsyncIterator[AnswerEvent]:
        candidates = score_sentences(evidence)
        if not candidates or candidates[0].score < self.min_score:
            yield Token(NOT_IN_CORPUS)
            yield Composed(NOT_IN_CORPUS, False, ())
            return
        chosen = choose(candidates, self.max_sentences)
        pieces = []
        for number, candidate in enumerate(chosen, start=1):
            piece = f"{' '.join(candidate.text.split())} [{number}]"
            yield Token(piece if number == 1 else " " + piece)
            pieces.append(piece)
        yield Composed(" ".join(pieces), True, cite(chosen))
