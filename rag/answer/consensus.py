"""Which name the evidence agrees on: across the best sentences, the new names of the asked type are
tallied, each weighted by its sentence's score.

A question built from several facts ("the company that TechCrunch says …, that The Verge reports …") is
answered by the entity most of its evidence sentences name, even when the single best sentence names
another; a fact found once is still answered by its best sentence, whose score dominates the tally.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.items import NAME_LABELS
from rag.answer.scoring import Candidate
from rag.terms import content_terms

VOTERS = 8  # best sentences that take part in the tally


def entity_key(text: str) -> str:
    return " ".join(content_terms(text))


def tally(candidates: Sequence[Candidate]) -> dict[str, float]:
    """Summed sentence scores per name (a short form counts for the longest form it is part of:
    "Purdy" for "Brock Purdy")."""
    votes: dict[str, float] = {}
    for candidate in candidates[:VOTERS]:
        keys = {entity_key(i.text) for i in candidate.items if i.label in NAME_LABELS}
        for key in keys - {""}:
            votes[key] = votes.get(key, 0.0) + candidate.score
    merged: dict[str, float] = {}
    for key in sorted(votes, key=len, reverse=True):
        longer = next((k for k in merged if set(key.split()) <= set(k.split())), None)
        merged[longer or key] = merged.get(longer or key, 0.0) + votes[key]
    return merged


def agreed(candidates: Sequence[Candidate], weight: float) -> list[Candidate]:
    """The candidates re-ordered by score plus `weight` times their answer's share of the tally."""
    votes = tally(candidates)
    total = sum(votes.values())
    if not total:
        return list(candidates)

    voted = [(frozenset(k.split()), v) for k, v in votes.items()]  # split once, not once per candidate

    def support(candidate: Candidate) -> float:
        if candidate.answer is None or candidate.answer.label not in NAME_LABELS:
            return 0.0
        key = frozenset(entity_key(candidate.answer.text).split())
        share = max((v for words, v in voted if key and key <= words), default=0.0)
        return share / total

    return sorted(candidates, key=lambda c: c.score + weight * support(c), reverse=True)
