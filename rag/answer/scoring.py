"""Sentence scoring: every sentence of the retrieved passages, scored as an answer to the question.

A sentence scores by its similarity to the question (contextual sentence vectors from the index), by how
much of the question's content it covers (rare terms weigh more, names double, a term in a neighbouring
sentence counts in part), by its passage's retrieval score, and, for a typed question ("who", "when",
"how many"), by whether it holds a new item of that type. The score is a linear model whose weights were
fitted on the tune splits to pick sentences holding the gold evidence (`bench/calibrate.py --fit ranker`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rag.answer import Evidence
from rag.answer.items import Item, anchors, answer_items, nearest, pronoun_referent
from rag.answer.question import Asked
from rag.models import Hit, Span
from rag.terms import content_terms, names

FEATURES = ("semantic", "lexical", "own_lexical", "passage", "typed", "names")
# The evidence score: fitted by `python bench/calibrate.py --fit ranker` (see README, "How citations work").
# A logistic model: the score is the probability that a sentence holds the answer's evidence.
WEIGHTS = {
    "bias": -6.0,
    "semantic": 5.5,
    "lexical": 3.0,
    "own_lexical": 0.0,
    "passage": 1.5,
    "typed": 1.5,
    "names": 0.0,
}
# Share of a term's weight earned when it appears only in the sentence before / after: pronouns point back
# more often than attributions point forward.
BEFORE_CREDIT = 0.5
AFTER_CREDIT = 0.25


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    span: Span
    vector: np.ndarray
    features: dict[str, float]  # by name, see FEATURES
    score: float  # the evidence score, comparable across questions
    items: tuple[Item, ...]  # new items of the asked type
    answer: Item | None  # the item that answers: the one nearest the question's words, or a pronoun's referent

    @property
    def semantic(self) -> float:
        return self.features["semantic"]

    @property
    def lexical(self) -> float:
        return self.features["lexical"]

    @property
    def text(self) -> str:
        return self.hit.passage.quote(self.span)

    @property
    def doc_id(self) -> str:
        return self.hit.passage.doc_id


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    index: int  # in hit.passage.sentences
    span: Span
    vector: np.ndarray
    terms: set[str]
    before: set[str]
    after: set[str]


def score_sentences(evidence: Evidence, asked: Asked) -> list[Candidate]:
    """Every sentence of every hit, scored, best first; a sentence shared by two passages appears once."""
    sentences = _sentences(evidence)
    weights = term_weights(evidence.question, [s.terms for s in sentences])
    total_weight = sum(weights.values()) or 1.0
    question_terms = set(content_terms(evidence.question))
    named = {t for name in names(evidence.question) for t in content_terms(name)}
    candidates = []
    for s in sentences:
        # A term found only in a neighbouring sentence counts in part: "... invited him" answers a question
        # about the person named one sentence earlier; "..., the agency reported" attributes the one before.
        covered = sum(
            w if t in s.terms else BEFORE_CREDIT * w if t in s.before else AFTER_CREDIT * w if t in s.after else 0.0
            for t, w in weights.items()
        )
        span, items, answer = _answer(asked, s, question_terms)
        features = {
            "semantic": float(s.vector @ evidence.question_vector),
            "lexical": covered / total_weight,
            "own_lexical": sum(w for t, w in weights.items() if t in s.terms) / total_weight,
            "passage": s.hit.score,
            "typed": float(bool(items)),
            "names": len(named & s.terms) / len(named) if named else 0.0,
        }
        score = logistic(WEIGHTS["bias"] + sum(WEIGHTS[name] * value for name, value in features.items()))
        candidates.append(Candidate(s.hit, span, s.vector, features, score, items, answer))
    return sorted(candidates, key=lambda c: c.score, reverse=True)


def logistic(z: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def _answer(asked: Asked, s: _Sentence, question_terms: set[str]) -> tuple[Span, tuple[Item, ...], Item | None]:
    """The span to quote, the sentence's new items of the asked type and the one that answers."""
    if not asked.typed:
        return s.span, (), None
    passage = s.hit.passage
    items = answer_items(asked, passage, s.span, question_terms)
    previous = passage.sentences[s.index - 1] if s.index > 0 else None
    referent = pronoun_referent(asked, passage, s.span, items, previous, question_terms)
    if referent is not None and previous is not None:
        # Quote the sentence that names the person too (one citation, both sentences).
        return Span(previous.start, s.span.end), (referent,), referent
    if not items:
        return s.span, (), None
    return s.span, tuple(items), nearest(items, anchors(passage, s.span, question_terms))


def _sentences(evidence: Evidence) -> list[_Sentence]:
    found: dict[tuple[str, int], _Sentence] = {}
    for hit in evidence.hits:
        vectors = evidence.sentence_vectors.get(hit.passage.chunk_id)
        if vectors is None:
            continue
        own = [set(content_terms(hit.passage.quote(span))) for span in hit.passage.sentences]
        for i, (span, vector) in enumerate(zip(hit.passage.sentences, vectors, strict=False)):
            before = own[i - 1] if i > 0 else set()
            after = own[i + 1] if i + 1 < len(own) else set()
            key = (hit.passage.doc_id, span.start)
            # Of two passages sharing a sentence, keep the better one, but never lose the sentence before it.
            if key not in found or (i > 0, hit.score) > (found[key].index > 0, found[key].hit.score):
                found[key] = _Sentence(hit, i, span, vector, own[i], before, after)
    return list(found.values())


def term_weights(question: str, sentence_terms: list[set[str]]) -> dict[str, float]:
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
