"""Grounded citations: whatever markers a model wrote, citations are rebuilt and checked here.

Each sentence of the generated answer is embedded and aligned to the most similar retrieved sentence;
the model's own `[n]` markers are only a hint (a small bonus for sentences of the passages it named).
A sentence with no retrieved sentence above the threshold is unsupported: it is dropped from the answer
(and reported as such), so every citation that remains quotes an exact span that supports its sentence.
A paraphrase that scores a little under the threshold still counts when the cited sentence holds most
of its content words.

The model is asked for a short answer first ("Ghalibaf.", "Yes.") and its support after it. A few words
have no meaning an embedding can check, so the short answer is judged by its support instead: it is
kept only when a support sentence after it is grounded and every name, number and content word of it
appears in a cited sentence; "Yes"/"No" needs a grounded support sentence (its polarity is not checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from syntok import segmenter

from rag.answer import Evidence
from rag.answer.question import Expect, analyse
from rag.embeddings import Embedder
from rag.models import AnswerSpan, Citation, GroundedSentence, Hit, Span
from rag.terms import content_terms, names

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
PLACEHOLDER = re.compile(r"\s*\[n\]", re.I)  # a small model copying the prompt's "[n]" literally
LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
HINT_BONUS = 0.05  # added to sentences of a passage the model cited itself
# A paraphrase this far under the threshold is kept when the cited sentence holds this share of its
# content terms (a correct rewording of a long sentence often scores ~0.5 against it).
PARAPHRASE_MARGIN = 0.12
PARAPHRASE_COVERAGE = 0.6
SHORT_ANSWER_WORDS = 5  # a first sentence this short is the short answer ("Mohammad Bagher Ghalibaf.")
YES_NO = re.compile(r"^(?:yes|no)[.!]?$", re.I)  # the whole short answer: "No, Rouhani did." names someone
DEMONYM_ENDINGS = ("i", "is", "n", "ns", "an", "ans", "ian", "ians", "ese", "ish")
WORDS = re.compile(r"\w+")
# How small models frame an answer: "The passage states that X" claims X; "The answer is:" claims nothing.
FRAMING = re.compile(
    r"^(?:(?:short )?answer\s*:|evidence\s*:|support\s*:"
    r"|the (?:answer|response) (?:is|would be)\s*:?|according to the (?:passages?|text|articles?),?"
    r"|the (?:passages?|text|articles?) (?:states?|says?|mentions?|indicates?|explains?) that)\s*",
    re.I,
)
NOT_A_CLAIM = re.compile(
    r"^the question (?:is|asks)\b|^not (?:in|stated in|given in) the (?:passages?|text|articles?)\b"
    r"|\b(?:passages?|text|context|articles?) (?:do|does|did)(?: not|n't) (?:say|state|mention|provide|contain|"
    r"include|specify|give|answer)\b",
    re.I,
)


@dataclass(frozen=True)
class Grounded:
    answer: str
    citations: tuple[Citation, ...]
    sentences: tuple[GroundedSentence, ...]
    answer_span: AnswerSpan | None = None  # the short answer found verbatim in its citation

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
    """Sentences of generated text (markers stay attached to the sentence they follow).

    A line break ends a sentence too: "Answer: Ghalibaf" on its own line has no full stop to end it.
    """
    found = []
    for line in text.splitlines():
        for paragraph in segmenter.analyze(line):
            for sentence in paragraph:
                tokens = list(sentence)
                if tokens:
                    found.append(line[tokens[0].offset : tokens[-1].offset + len(tokens[-1].value)])
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
    pieces = [(_claim(MARKER.sub("", PLACEHOLDER.sub("", s))), _hinted(s)) for s in split_sentences(text)]
    pieces = [(s, hint) for s, hint in pieces if s]
    targets = _targets(evidence)
    if len(pieces) == 1 and _is_short_answer(pieces[0][0]) and targets:
        return _lone_short_answer(*pieces[0], evidence, targets)
    short = pieces.pop(0)[0] if len(pieces) > 1 and _is_short_answer(pieces[0][0]) else None
    if short is not None and not _adds_to(evidence.question, short):
        pieces.insert(0, (short, set()))  # a restatement of the question is judged as an ordinary sentence
        short = None
    if not pieces or not targets:
        report = [GroundedSentence(s, False, (), 0.0) for s in ([short] if short else []) + [s for s, _ in pieces]]
        return Grounded("", (), tuple(report))
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
        if not _supports(targets[best], sentence, score, threshold):
            report.append(GroundedSentence(sentence, False, (), round(score, 4)))
            continue
        citation = _citation_for(targets[best], score, citations)
        kept.append(f"{sentence} [{citation.marker}]")
        report.append(GroundedSentence(sentence, True, (citation.marker,), round(score, 4)))
    if short is None:
        return Grounded(" ".join(kept), tuple(citations.values()), tuple(report))
    backing = _backing(short, targets, citations) if kept else None
    if backing is None:
        return Grounded(" ".join(kept), tuple(citations.values()), (GroundedSentence(short, False, (), 0.0), *report))
    return Grounded(
        " ".join([f"{_ended(short)} [{backing.marker}]", *kept]),
        tuple(citations.values()),
        (GroundedSentence(short, True, (backing.marker,), backing.score), *report),
        span_in(short, backing),
    )


def _lone_short_answer(short: str, hint: set[int], evidence: Evidence, targets: list[_Target]) -> Grounded:
    """A few words with no support sentence ("King Salman [2]"): kept when a retrieved sentence holds them (of
    several, one of a passage the model named, nearest the question) and they add something to the question."""
    holding = [t for t in targets if _holds(t.hit.passage.quote(t.span), short)]
    holding = [t for t in holding if t.passage_number in hint] or holding  # the model's numbers are a hint
    if not holding or not _adds_to(evidence.question, short):
        return Grounded("", (), (GroundedSentence(short, False, (), 0.0),))
    best = max(holding, key=lambda t: float(t.vector @ evidence.question_vector))
    citations: dict[tuple[str, int], Citation] = {}
    citation = _citation_for(best, float(best.vector @ evidence.question_vector), citations)
    report = (GroundedSentence(short, True, (citation.marker,), citation.score),)
    return Grounded(f"{_ended(short)} [{citation.marker}]", (citation,), report, span_in(short, citation))


def _ended(short: str) -> str:
    """The short answer as a sentence: "Answer: Ghalibaf" on its own line has no full stop."""
    return short if short[-1] in ".!?" else short + "."


def _adds_to(question: str, short: str) -> bool:
    """Whether a short answer says something the question does not ("Hakim" does not answer "whom did Hakim
    meet?"); "Yes"/"No" always does. A person asked for is not the one the question names: "Iraqi politician
    Ammar Hakim" does not answer "Who invited Hakim?" (the rule the extractive answer's items follow)."""
    if YES_NO.match(short):
        return True
    if analyse(question).expect in (Expect.PERSON, Expect.AGENT) and _names_in(short) & _names_in(question):
        return False
    return bool(set(content_terms(short)) - set(content_terms(question)))


def _supports(target: _Target, sentence: str, score: float, threshold: float) -> bool:
    passage = target.hit.passage
    if invented_facts(sentence, passage.text):
        return False
    if score >= threshold:
        return True
    covered = _coverage(sentence, passage.quote(target.span))
    return score >= threshold - PARAPHRASE_MARGIN and covered >= PARAPHRASE_COVERAGE


def _coverage(claim: str, source: str) -> float:
    """The share of the claim's content terms that the source sentence holds."""
    claimed = set(content_terms(claim))
    return len(claimed & set(content_terms(source))) / len(claimed) if claimed else 0.0


def _is_short_answer(sentence: str) -> bool:
    return len(WORDS.findall(sentence)) <= SHORT_ANSWER_WORDS and not NOT_A_CLAIM.search(sentence)


def _backing(short: str, targets: list[_Target], citations: dict[tuple[str, int], Citation]) -> Citation | None:
    """The citation that backs the short answer: a grounded support's quote, else a sentence of its passage.

    "Yes"/"No" is backed by its first grounded support. A name, number or phrase must be in the quote: its
    names, numbers and content words all. The support may paraphrase a neighbouring sentence of
    the one that names the answer, so a sentence of a supporting passage backs it too (and is cited).
    """
    supports = list(citations.values())
    if YES_NO.match(short):
        return supports[0]
    found = next((c for c in supports if _holds(c.text, short)), None)
    if found is not None:
        return found
    supporting = {c.chunk_id for c in supports}
    for target in targets:
        passage = target.hit.passage
        if passage.chunk_id in supporting and _holds(passage.quote(target.span), short):
            return _citation_for(target, max(c.score for c in supports), citations)
    return None


def _holds(quote: str, short: str) -> bool:
    """Whether the quote holds every name, number and content word of the short answer."""
    exact = {w.lower() for w in WORDS.findall(short) if w[:1].isupper() or w[:1].isdigit()}  # even the first
    if not exact <= {w.lower() for w in WORDS.findall(quote)} | set(content_terms(quote)):
        return False
    quote_terms, named = set(content_terms(quote)), _names_in(quote)
    return all(_known(t, quote_terms, named) for t in content_terms(short))


def span_in(short: str, citation: Citation) -> AnswerSpan | None:
    """The short answer as an exact span of its citation, when the model copied it verbatim."""
    phrase = short.strip().rstrip(".!")
    at = citation.text.lower().find(phrase.lower()) if phrase and not YES_NO.match(phrase) else -1
    if at < 0:
        return None
    start, quoted = citation.start + at, citation.text[at : at + len(phrase)]
    return AnswerSpan(citation.marker, citation.doc_id, start, start + len(phrase), quoted)


def invented_facts(sentence: str, source: str) -> list[str]:
    """Names and numbers of the sentence that its source passage never mentions.

    Similarity alone lets "the Acting Minister of Foreign Affairs" pass as support for "Hakim is expected
    to meet the Supreme Leader"; a claim naming someone or something the passage does not name is not
    supported by it, however similar it sounds.
    """
    known = set(content_terms(source)) | {w.lower() for w in NUMBER.findall(source)}
    claimed = [*names(sentence), *NUMBER.findall(sentence)]
    named = _names_in(source)
    return [word for word in claimed if not all(_known(t, known, named) for t in content_terms(word) or [word.lower()])]


def _names_in(text: str) -> set[str]:
    return {w.lower() for w in WORDS.findall(text) if w[:1].isupper() and len(w) >= 4}


def _known(term: str, known: set[str], named: set[str]) -> bool:
    """A term the source holds, or a demonym of a name it holds ("Omani" from "Oman", "Iranian" from "Iran")."""
    return term in known or any(term == name + ending for name in named for ending in DEMONYM_ENDINGS)


def _claim(sentence: str) -> str:
    """The sentence without the model's framing ("The passage states that …"), capitalised again."""
    claim = sentence.strip()
    while framing := FRAMING.match(claim):  # framings stack: "The answer is: The passage states that …"
        claim = claim[framing.end() :].strip()
    claim = claim.rstrip(",;: ")  # "Saudi Arabia and Egypt, [1]": a copied list's comma ends no answer
    return claim[:1].upper() + claim[1:]


def _hinted(sentence: str) -> set[int]:
    return {int(n) for group in MARKER.findall(sentence) for n in group.split(",")}


def _citation_for(target: _Target, score: float, citations: dict[tuple[str, int], Citation]) -> Citation:
    """One citation per distinct quoted sentence, numbered as they are made (a short answer's own, made after its
    support's, may come first in the text)."""
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
