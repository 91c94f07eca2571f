"""Sentence scoring: every sentence of the retrieved passages, scored as an answer to the question.

A sentence scores by its similarity to the question (contextual sentence vectors from the index), by how
much of the question's content it covers (rare terms weigh more, names double, a term in a neighbouring
sentence counts in part), by its passage's retrieval score, and, for a typed question ("who", "when",
"how many"), by whether it holds a new item of that type. The score is a linear model whose weights were
fitted on the tune splits to pick sentences holding the gold evidence (`bench/calibrate.py --fit ranker`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np

from rag.answer import Evidence
from rag.answer.items import Item, anchors, answer_items, nearest, pronoun_referent
from rag.answer.question import Asked, Expect
from rag.models import Hit, Passage, Span
from rag.terms import content_terms, name_terms, term_set

FEATURES = ("semantic", "own_lexical", "predicate", "context", "passage", "typed", "names")
# "Who invited Hakim …?": the verb right after "who" is what the answer did.
WHO_VERB = re.compile(
    r"^\s*who\s+(?!is\b|was\b|are\b|were\b|did\b|does\b|do\b|has\b|have\b|had\b|will\b|would\b|can\b|"
    r"could\b|should\b|might\b|may\b)([a-z]+)",
    re.I,
)
# The evidence score, a logistic model: the probability that a sentence holds the answer's evidence. Fitted
# by `python bench/calibrate.py --fit ranker` on the tune splits (ours and MultiHop-RAG's); "predicate" was
# added after, at the weight a sweep on the tune splits found neutral overall and right for "who did X".
WEIGHTS = {
    "bias": -3.894,
    "semantic": 4.928,
    "own_lexical": 4.3,
    "predicate": 1.0,
    "context": -2.007,
    "passage": -1.717,
    "typed": 1.563,
    "names": -1.549,
}
# Share of a term's weight earned when it appears only in the sentence before / after: pronouns point back
# more often than attributions point forward.
NAME_WEIGHT = 2.0  # a name in the question weighs this much more than another term
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
    # Which item answers is read only for the few candidates an answer uses, not for every sentence.
    pick: Callable[[], Item | None] = field(repr=False, compare=False)

    @cached_property
    def answer(self) -> Item | None:
        """The item that answers: the one nearest the question's words, or a pronoun's referent."""
        return self.pick()

    @property
    def semantic(self) -> float:
        return self.features["semantic"]

    @property
    def lexical(self) -> float:
        """Coverage of the question's terms, a neighbour's terms counting in part."""
        return self.features["own_lexical"] + self.features["context"]

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
    terms: frozenset[str]
    before: frozenset[str]
    after: frozenset[str]


def score_sentences(evidence: Evidence, asked: Asked) -> list[Candidate]:
    """Every sentence of every hit, scored, best first; a sentence shared by two passages appears once."""
    sentences = _sentences(evidence)
    named = name_terms(evidence.question)
    weights = term_weights(evidence.question, named, [s.terms for s in sentences])
    total_weight = sum(weights.values()) or 1.0
    question_terms = frozenset(content_terms(evidence.question))
    predicate = _predicate(evidence.question)
    # One product for all sentences: a numpy call per sentence costs more than the arithmetic.
    similarities = np.stack([s.vector for s in sentences]) @ evidence.question_vector if sentences else []
    candidates = []
    for s, similarity in zip(sentences, similarities, strict=True):
        # A term found only in a neighbouring sentence counts in part: "... invited him" answers a question
        # about the person named one sentence earlier; "..., the agency reported" attributes the one before.
        own = before = after = 0.0
        for t, w in weights.items():
            if t in s.terms:
                own += w
            elif t in s.before:
                before += w
            elif t in s.after:
                after += w
        span, items, pick = _answer(asked, s, question_terms)
        features = {
            "semantic": float(similarity),
            "own_lexical": own / total_weight,
            "predicate": float(predicate in s.terms) if predicate else 0.0,
            "context": (BEFORE_CREDIT * before + AFTER_CREDIT * after) / total_weight,
            "passage": s.hit.score,
            "typed": float(bool(items)),
            "names": len(named & s.terms) / len(named) if named else 0.0,
        }
        score = logistic(WEIGHTS["bias"] + sum(WEIGHTS[name] * value for name, value in features.items()))
        candidates.append(Candidate(s.hit, span, s.vector, features, score, items, pick))
    return sorted(candidates, key=lambda c: c.score, reverse=True)


def _predicate(question: str) -> str | None:
    match = WHO_VERB.search(question)
    terms = content_terms(match.group(1)) if match else []
    return terms[0] if terms else None


def logistic(z: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def _answer(
    asked: Asked, s: _Sentence, question_terms: frozenset[str]
) -> tuple[Span, tuple[Item, ...], Callable[[], Item | None]]:
    """The span to quote, the sentence's new items of the asked type and how to pick the one that answers."""
    if not asked.typed:
        return s.span, (), partial(_given, None)
    passage = s.hit.passage
    items = answer_items(asked, passage, s.span, question_terms)
    previous = passage.sentences[s.index - 1] if s.index > 0 else None
    referent = pronoun_referent(asked, passage, s.span, items, previous, question_terms)
    if referent is not None and previous is not None:
        # Quote the sentence that names the person too (one citation, both sentences).
        return Span(previous.start, s.span.end), (referent,), partial(_given, referent)
    if not items:
        return s.span, (), partial(_given, None)
    named = [i for i in items if i.label != "ROLE"] or items  # "Taylor Swift" answers before "the singer"
    placed = passage if asked.expect is Expect.PLACE else None
    return s.span, tuple(items), partial(_nearest_to_question, named, passage, s.span, question_terms, placed)


def _given(item: Item | None) -> Item | None:
    return item


def _nearest_to_question(
    named: list[Item], passage: Passage, span: Span, question_terms: frozenset[str], placed: Passage | None
) -> Item:
    return nearest(named, anchors(passage, span, question_terms), placed)


def _sentences(evidence: Evidence) -> list[_Sentence]:
    found: dict[tuple[str, int], _Sentence] = {}
    for hit in evidence.hits:
        vectors = evidence.sentence_vectors.get(hit.passage.chunk_id)
        if vectors is None:
            continue
        own = [term_set(hit.passage.quote(span)) for span in hit.passage.sentences]
        for i, (span, vector) in enumerate(zip(hit.passage.sentences, vectors, strict=False)):
            before = own[i - 1] if i > 0 else frozenset()
            after = own[i + 1] if i + 1 < len(own) else frozenset()
            key = (hit.passage.doc_id, span.start)
            # Of two passages sharing a sentence, keep the better one, but never lose the sentence before it.
            if key not in found or (i > 0, hit.score) > (found[key].index > 0, found[key].hit.score):
                found[key] = _Sentence(hit, i, span, vector, own[i], before, after)
    return list(found.values())


def term_weights(question: str, named: set[str], sentence_terms: Sequence[AbstractSet[str]]) -> dict[str, float]:
    """Question terms weighted by how rare they are among the candidate sentences (names count double).

    A term every candidate shares (the subject of the question) tells candidates apart less than the
    one term only the answer sentence has ("invited", "postponed").
    """
    count = len(sentence_terms)
    weights = {}
    for term in content_terms(question):
        frequency = sum(term in terms for terms in sentence_terms)
        rarity = math.log(1 + count / (1 + frequency))
        weights[term] = rarity * (NAME_WEIGHT if term in named else 1.0)
    return weights
