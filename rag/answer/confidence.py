"""How likely an extractive answer is right: a logistic model over signals that say why it might not be.

Signals, each justified by a failure seen in extractive QA:
- the best sentence's evidence score, similarity and term coverage (weak evidence);
- the question asks for a type (a person, a date, a number) and no retrieved sentence holds a new one;
- question terms that no document in the corpus contains ("Who is the *mayor* of Baghdad?"): the corpus
  covers the topic but not the asked detail;
- question terms that none of the retrieved passages contains;
- "Who is the mayor of …?" answered by a sentence that never says "mayor" (a person, not the one asked for);
- an outcome asked for ("who won", "what was the result") where the evidence speaks of the future.

The weights are fitted on the tune split of our questions and MultiHop-RAG's by `bench/calibrate.py`,
which prints the held-out risk-coverage table; `RAG_MIN_ANSWER_SCORE` is a threshold on this probability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer import Evidence
from rag.answer.question import PERSON_NOUNS, Asked, Expect
from rag.answer.scoring import Candidate, logistic
from rag.terms import content_terms, names, stem

FEATURES = (
    "score",
    "semantic",
    "lexical",
    "untyped",
    "unknown_share",
    "unknown_name",
    "unseen_share",
    "role_missing",
    "outcome_unsettled",
)
ROLE = re.compile(r"\b(" + "|".join(PERSON_NOUNS) + r")\b", re.I)
OUTCOME = re.compile(
    r"\b(?:won|win|wins|result|results|outcome|decided|concluded|agreed|signed|elected|happened)\b", re.I
)
FUTURE = re.compile(
    r"\b(?:will|expected|likely|upcoming|could|may|might|would|plans?|planned|scheduled|hopes?|whether|soon)\b", re.I
)

# Fitted by `python bench/calibrate.py` on the tune splits (see README, "Calibrated abstention").
WEIGHTS = {
    "bias": -6.0,
    "score": 12.0,
    "semantic": 0.0,
    "lexical": 0.0,
    "untyped": -3.0,
    "unknown_share": -6.0,
    "unknown_name": -2.0,
    "unseen_share": -3.0,
    "role_missing": -2.0,
    "outcome_unsettled": -2.0,
}


@dataclass(frozen=True)
class Signals:
    score: float
    semantic: float
    lexical: float
    untyped: float  # 1: a typed question and no retrieved sentence holds a new item of its type
    unknown_share: float  # weighted share of question terms no document contains
    unknown_name: float  # 1: a name in the question that no document contains
    unseen_share: float  # weighted share of question terms none of the retrieved passages contains
    role_missing: float  # 1: "who is the <role>" and the answering sentence never names that role
    outcome_unsettled: float  # 1: an outcome asked for, and the answering sentence speaks of the future

    def vector(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]


def signals(evidence: Evidence, asked: Asked, candidates: list[Candidate]) -> Signals:
    best = candidates[0] if candidates else None
    terms = content_terms(evidence.question)
    named = {t for name in names(evidence.question) for t in content_terms(name)}
    weights = {t: 2.0 if t in named else 1.0 for t in terms}
    total = sum(weights.values()) or 1.0
    unknown = set(evidence.unknown_terms)
    seen = {t for hit in evidence.hits for t in content_terms(hit.passage.text)}
    return Signals(
        score=best.score if best else 0.0,
        semantic=best.semantic if best else 0.0,
        lexical=best.lexical if best else 0.0,
        untyped=float(asked.typed and not (best and best.items)),
        unknown_share=sum(w for t, w in weights.items() if t in unknown) / total,
        unknown_name=float(bool(named & unknown)),
        unseen_share=sum(w for t, w in weights.items() if t not in seen and t not in unknown) / total,
        role_missing=float(best is not None and _role_missing(asked, evidence.question, best.text)),
        outcome_unsettled=float(
            best is not None and bool(OUTCOME.search(evidence.question)) and bool(FUTURE.search(best.text))
        ),
    )


def _role_missing(asked: Asked, question: str, answer: str) -> bool:
    if asked.expect not in (Expect.PERSON, Expect.AGENT):
        return False
    roles = {stem(m.group(1).lower()) for m in ROLE.finditer(question)}
    said = {stem(m.group(1).lower()) for m in ROLE.finditer(answer)}
    return bool(roles) and not roles & said


def probability(found: Signals, weights: dict[str, float] = WEIGHTS) -> float:
    return logistic(weights["bias"] + sum(weights[name] * v for name, v in zip(FEATURES, found.vector(), strict=True)))
