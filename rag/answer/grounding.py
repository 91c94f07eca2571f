"""Grounded citations: whatever markers a model wrote, citations are rebuilt and checked here.

Each sentence of the generated answer is embedded and aligned to the most similar retrieved sentence;
the model's own `[n]` markers are only a hint (a small bonus for sentences of the passages it named).
A sentence with no retrieved sentence above the threshold is unsupported: it is dropped from the answer
(and reported as such), so every citation that remains quotes an exact span that supports its sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from syntok import segmenter

from rag.answer import Evidence
from rag.embeddings import Embedder
from rag.models import Citation, GroundedSentence, Hit, Span
from rag.terms import content_terms, names

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
HINT_BONUS = 0.05  # added to sentences of a passage the model cited itself
# How small models frame an answer: "The passage states that X" claims X; "The answer is:" claims nothing.
FRAMING = re.compile(
    r"^(?:the (?:answer|response) (?:is|would be)\s*:?|according to the (?:passages?|text|articles?),?"
    r"|the (?:passages?|text|articles?) (?:states?|says?|mentions?|indicates?|explains?) that)\s*",
    re.I,
)
NOT_A_CLAIM = re.compile(
    r"^the question (?:is|asks)\b"
    r"|\b(?:passages?|text|context|articles?) (?:do|does|did)(?: not|n't) (?:say|state|mention|provide|contain|"
    r"include|specify|give|answer)\b",
    re.I,
)


@dataclass(frozen=True)
class Grounded:
    answer: str
    citations: tuple[Citation, ...]
    sentences: tuple[GroundedSentence, ...]

    @property
    def supported(self) -> bool:
        return any(s.grounded for s in self.sentences)


@dataclass(frozen=True)
class _Target:
    hit: Hit
    passage_number: int
    span: Span
    vector: np.ndarray


def split_sentences(text: str) -> list[str]:
    """Sentences of generated text (markers stay attached to the sentence they follow)."""
    found = []
    for paragraph in segmenter.analyze(text):
        for sentence in paragraph:
            tokens = list(sentence)
            if tokens:
                found.append(text[tokens[0].offset : tokens[-1].offset + len(tokens[-1].value)])
    return _attach_markers(found)


def _attach_markers(sentences: list[str]) -> list[str]:
    """syntok puts the "[2]" of "… end. [2] Next …" at the start of the next sentence; move it back."""
    joined: list[str] = []
    for piece in sentences:
        leading = LEADING_MARKERS.match(piece)
        if joined and leading:
            joined[-1] = f"{joined[-1]} {leading.group().strip()}"
            piece = piece[leading.end() :].strip()
        if piece:
            joined.append(piece)
    return joined


def _targets(evidence: Evidence) -> list[_Target]:
    targets: list[_Target] = []
    for number, hit in enumerate(evidence.hits, start=1):
        vectors = evidence.sentence_vectors.get(hit.passage.chunk_id)
        if vectors is not None:
            targets.extend(_Target(hit, number, s, v) for s, v in zip(hit.passage.sentences, vectors, strict=False))
    return targets


def ground(text: str, evidence: Evidence, embedder: Embedder, threshold: float) -> Grounded:
    """Align every generated sentence to its best supporting retrieved sentence and rebuild the markers."""
    pieces = [(_claim(MARKER.sub("", s)), _hinted(s)) for s in split_sentences(text)]
    pieces = [(s, hint) for s, hint in pieces if s]
    targets = _targets(evidence)
    if not pieces or not targets:
        return Grounded("", (), tuple(GroundedSentence(s, False, (), 0.0) for s, _ in pieces))
    vectors = embedder.encode_queries([s for s, _ in pieces])
    matrix = np.stack([t.vector for t in targets])
    citations: dict[tuple[str, int], Citation] = {}
    kept, report = [], []
    for (sentence, hint), vector in zip(pieces, vectors, strict=True):
        if NOT_A_CLAIM.search(sentence):  # "the passages do not say …" is the model declining, not evidence
            report.append(GroundedSentence(sentence, False, (), 0.0))
            continue
        similarity = matrix @ vector
        bonus = np.array([HINT_BONUS if t.passage_number in hint else 0.0 for t in targets])
        best = int(np.argmax(similarity + bonus))
        score = float(similarity[best])
        if score < threshold or invented_facts(sentence, targets[best].hit.passage.text):
            report.append(GroundedSentence(sentence, False, (), round(score, 4)))
            continue
        citation = _citation_for(targets[best], score, citations)
        kept.append(f"{sentence} [{citation.marker}]")
        report.append(GroundedSentence(sentence, True, (citation.marker,), round(score, 4)))
    return Grounded(" ".join(kept), tuple(citations.values()), tuple(report))


def invented_facts(sentence: str, source: str) -> list[str]:
    """Names and numbers of the sentence that its source passage never mentions.

    Similarity alone lets "the Acting Minister of Foreign Affairs" pass as support for "Hakim is expected
    to meet the Supreme Leader"; a claim naming someone or something the passage does not name is not
    supported by it, however similar it sounds.
    """
    known = set(content_terms(source)) | {w.lower() for w in NUMBER.findall(source)}
    claimed = [*names(sentence), *NUMBER.findall(sentence)]
    return [word for word in claimed if not (set(content_terms(word)) or {word.lower()}) <= known]


def _claim(sentence: str) -> str:
    """The sentence without the model's framing ("The passage states that …"), capitalised again."""
    claim = sentence.strip()
    while framing := FRAMING.match(claim):  # framings stack: "The answer is: The passage states that …"
        claim = claim[framing.end() :].strip()
    return claim[:1].upper() + claim[1:]


def _hinted(sentence: str) -> set[int]:
    return {int(n) for group in MARKER.findall(sentence) for n in group.split(",")}


def _citation_for(target: _Target, score: float, citations: dict[tuple[str, int], Citation]) -> Citation:
    """One citation per distinct quoted sentence, numbered in order of first use."""
    passage = target.hit.passage
    key = (passage.doc_id, target.span.start)
    if key not in citations:
        citations[key] = Citation(
            marker=len(citations) + 1,
            doc_id=passage.doc_id,
            title=target.hit.title,
            chunk_id=passage.chunk_id,
            start=target.span.start,
            end=target.span.end,
            text=passage.text[target.span.start - passage.start : target.span.end - passage.start],
            score=round(score, 4),
        )
    return citations[key]
