"""The built-in backend: answer with the retrieved sentences that best answer the question, no LLM.

Each candidate sentence is scored by its similarity to the question (contextual sentence vectors from
the index), by how many of the question's content terms it contains, and by its passage's retrieval
score. The best one to three sentences become the answer, each with its citation; when even the best
evidence is weak the backend says the corpus does not answer instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from rag.answer import Evidence
from rag.answer.abstain import missing_answer_type
from rag.answer.condense import carry_names
from rag.config import Settings
from rag.embeddings import Embedder
from rag.models import AnswerEvent, Citation, Composed, Hit, Span, Token, Turn
from rag.terms import content_terms, names

NOT_IN_CORPUS = "The corpus does not say. None of the retrieved passages answers this question."

# Weights of the evidence score, fitted on tests/data/calibration_qa.json (see README, "Answering").
SEMANTIC_WEIGHT = 0.55
LEXICAL_WEIGHT = 0.30
PASSAGE_WEIGHT = 0.15
EXTRA_SENTENCE_MARGIN = 0.1  # a second or third sentence must score this close to the best one
REDUNDANT_SIMILARITY = 0.9  # sentences this similar to a chosen one add nothing
# Share of a term's weight earned when it appears only in the sentence before / after: pronouns point back
# more often than attributions point forward.
BEFORE_CREDIT = 0.5
AFTER_CREDIT = 0.25


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
        return _quote(self.hit, self.span)


def score_sentences(evidence: Evidence) -> list[Candidate]:
    """Every sentence of every hit, scored, best first; a sentence shared by two passages appears once."""
    sentences: dict[tuple[str, int], tuple[Hit, Span, np.ndarray, set[str], set[str], set[str]]] = {}
    for hit in evidence.hits:
        vectors = evidence.sentence_vectors.get(hit.passage.chunk_id)
        if vectors is None:
            continue
        own = [set(content_terms(_quote(hit, span))) for span in hit.passage.sentences]
        for i, (span, vector) in enumerate(zip(hit.passage.sentences, vectors, strict=False)):
            before = own[i - 1] if i > 0 else set()
            after = own[i + 1] if i + 1 < len(own) else set()
            key = (hit.passage.doc_id, span.start)
            if key not in sentences or sentences[key][0].score < hit.score:
                sentences[key] = (hit, span, vector, own[i], before, after)
    weights = _term_weights(evidence.question, [entry[3] for entry in sentences.values()])
    total_weight = sum(weights.values()) or 1.0
    candidates = []
    for hit, span, vector, terms, before, after in sentences.values():
        # A term found only in a neighbouring sentence counts in part: "... invited him" answers a question
        # about the person named one sentence earlier; "..., the agency reported" attributes the one before.
        covered = sum(
            w if t in terms else BEFORE_CREDIT * w if t in before else AFTER_CREDIT * w if t in after else 0.0
            for t, w in weights.items()
        )
        lexical = covered / total_weight
        semantic = float(vector @ evidence.question_vector)
        score = SEMANTIC_WEIGHT * semantic + LEXICAL_WEIGHT * lexical + PASSAGE_WEIGHT * hit.score
        candidates.append(Candidate(hit, span, vector, semantic, lexical, score))
    return sorted(candidates, key=lambda c: c.score, reverse=True)


def _quote(hit: Hit, span: Span) -> str:
    passage = hit.passage
    return passage.text[span.start - passage.start : span.end - passage.start]


def _term_weights(question: str, sentence_terms: list[set[str]]) -> dict[str, float]:
    """Question terms weighted by how rare they are among the candidate sentences (names count double).

    A term every candidate shares (the subject of the question) tells candidates apart less than the
    one term only the answer sentence has ("invited", "postponed").
    """
    named = {t for name in names(question) for t in content_terms(name)}
    count = len(sentence_terms)
    weights = {}
    for term in content_terms(question):
        frequency = sum(term in terms for terms in sentence_terms)
        rarity = math.log(1 + count / (1 + frequency))
        weights[term] = rarity * (2.0 if term in named else 1.0)
    return weights


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


def _strong_enough(candidates: list[Candidate], question: str, min_score: float) -> bool:
    """The best sentence scores high enough and can hold the kind of answer asked for."""
    if not candidates or candidates[0].score < min_score:
        return False
    return missing_answer_type(question, candidates[0].text) is None


def has_evidence(evidence: Evidence, min_score: float) -> bool:
    """Whether the retrieved passages can answer at all; LLM backends check this before calling a model."""
    return _strong_enough(score_sentences(evidence), evidence.question, min_score)


class ExtractiveBackend:
    """Quotes the best evidence sentences; needs no model beyond the embedder used for retrieval."""

    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.min_score = settings.min_answer_score
        self.max_sentences = settings.max_answer_sentences

    async def standalone_question(self, question: str, history: tuple[Turn, ...]) -> str:
        return carry_names(question, history)

    async def compose(self, evidence: Evidence) -> AsyncIterator[AnswerEvent]:
        candidates = score_sentences(evidence)
        if not _strong_enough(candidates, evidence.question, self.min_score):
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
