"""The built-in backend: a short answer taken verbatim from the best evidence sentence, then that sentence,
cited; no LLM.

The question says what it asks for (`question.analyse`); sentences are scored (`scoring`), and for a typed
question the answer is the new person, place, date or number of the best sentence that holds one
(`items`). Questions about the article itself are answered from its metadata (`metadata`); "which lasted
longer, A or B?" by comparing the values the text states for each (`comparison`), or not at all. A calibrated
confidence (`confidence`) below `RAG_MIN_ANSWER_SCORE` means the corpus does not answer: the backend says
so instead of guessing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from rag.answer import Evidence
from rag.answer.comparison import Comparison, compare, named_in
from rag.answer.condense import carry_names
from rag.answer.confidence import Signals, probability, signals, vetoed
from rag.answer.consensus import agreed
from rag.answer.items import Item, fuller_name
from rag.answer.metadata import Field, asked_field, described, values
from rag.answer.quantities import quantities, verdict_by_quantities
from rag.answer.question import Asked, Expect, analyse
from rag.answer.scoring import Candidate, score_sentences
from rag.config import Settings
from rag.embeddings import Embedder
from rag.models import AnswerEvent, AnswerSpan, Citation, Composed, Token, Turn

NOT_IN_CORPUS = "The corpus does not say. None of the retrieved passages answers this question."

# An untyped answer quotes a second sentence only this close to the best one. On the tune halves a margin of
# 0.05 gained 0.01 accuracy and lost 0.11 citation precision: one sentence it is.
EXTRA_SENTENCE_MARGIN = 0.0
LIST_MARGIN = 0.15  # a list collects items from sentences this close to the best one
REDUNDANT_SIMILARITY = 0.9  # sentences this similar to a chosen one add nothing
CONSENSUS_WEIGHT = 0.3  # how much the evidence's agreement on a name counts against one sentence's score
NAMED = (Expect.PERSON, Expect.AGENT, Expect.ORGANISATION, Expect.PLACE, Expect.ENTITY)
METADATA_LEAD = {
    Field.AUTHOR: "By",
    Field.AGENCY: "Reported by",
    Field.PLACE: "Datelined",
    Field.DATE: "Dated",
    Field.LICENCE: "Licensed under",
}


@dataclass(frozen=True)
class Draft:
    """An answer before the abstention decision: its text pieces, citations, short-answer span, confidence."""

    pieces: tuple[str, ...]
    citations: tuple[Citation, ...]
    answer_span: AnswerSpan | None
    confidence: float
    signals: Signals | None = None
    ranked: tuple[Candidate, ...] = ()  # every sentence as the scorer ranked it, for a later step to reuse
    settled: bool = False  # a comparison or yes/no settled in code by the values the text states


def draft(evidence: Evidence, limit: int) -> Draft:
    asked = analyse(evidence.question)
    candidates = score_sentences(evidence, asked)
    ranked = tuple(candidates)
    found = signals(evidence, asked, candidates)
    confidence = probability(found)
    field = asked_field(evidence.question)
    if field is not None and candidates:
        # Of the vetoes only the missing source applies: "Who is the author …" names a field, not an office.
        metadata = _metadata_draft(evidence, field, candidates)
        confidence = 0.0 if found.source_missing else metadata.confidence
        return replace(metadata, confidence=confidence, signals=found, ranked=ranked)
    if not candidates:
        return Draft((), (), None, 0.0, found)
    if asked.compares:
        # Compared in code from the values the text states, or not answered by a quote at all (an LLM backend
        # still may: the confidence stays the evidence's).
        compared = compare(evidence.question, candidates)
        if compared is None:
            return Draft((), (), None, confidence, found, ranked)
        return replace(_comparison_draft(compared), confidence=confidence, signals=found, ranked=ranked)
    if asked.expect is Expect.YES_NO and (says := verdict_by_quantities(evidence.question, [candidates[0].text])):
        settled = _yes_no_draft(says, evidence.question, candidates[0])
        return replace(settled, confidence=confidence, signals=found, ranked=ranked)
    if asked.expect in NAMED:
        candidates = agreed(candidates, CONSENSUS_WEIGHT)
    chosen = choose(candidates, asked, limit)
    if chosen and chosen[0] is not ranked[0] and vetoed(signals(evidence, asked, chosen)):
        # The vetoes read the sentence the answer quotes first, not the one the scorer ranked first: the
        # agreement of the passages may put another one before it.
        confidence = 0.0
    citations = cite(chosen)
    shorts = [(n, c.answer) for n, c in enumerate(chosen, start=1) if c.answer is not None]
    quotes = [quote(c.text, n) for n, c in enumerate(chosen, start=1)]
    span = None
    lead: list[str] = []
    if shorts and not asked.wants_list:
        shorts, citations, quotes = _in_full(evidence, candidates, shorts, citations, quotes)
    if shorts:
        marker, first = shorts[0]
        span = AnswerSpan(marker, citations[marker - 1].doc_id, first.span.start, first.span.end, first.text)
        lead = [_join_items([item.text for _, item in shorts]) + " —"]
    pieces = lead + quotes
    text = tuple(p if i == 0 else " " + p for i, p in enumerate(pieces))
    return Draft(text, citations, span, confidence, found, ranked)


def _in_full(
    evidence: Evidence,
    candidates: list[Candidate],
    shorts: list[tuple[int, Item]],
    citations: tuple[Citation, ...],
    quotes: list[str],
) -> tuple[list[tuple[int, Item]], tuple[Citation, ...], list[str]]:
    """A short name as the evidence gives it in full: "Purdy" → "Brock Purdy" (`items.fuller_name`), quoting
    the sentence that names him too unless a citation already holds it, so the short answer stays verbatim
    inside its citation."""
    marker, short = shorts[0]
    naming = fuller_name(short, citations[marker - 1].doc_id, [hit.passage for hit in evidence.hits])
    if naming is None:
        return shorts, citations, quotes
    doc_id, span = naming.passage.doc_id, naming.item.span
    holding = next((c for c in citations if c.doc_id == doc_id and c.start <= span.start and span.end <= c.end), None)
    if holding is not None:
        return [(holding.marker, naming.item), *shorts[1:]], citations, quotes
    sentence = naming.sentence
    score = next((c.score for c in candidates if c.doc_id == doc_id and c.span == sentence), 0.0)
    number = len(citations) + 1
    text = naming.passage.quote(sentence)
    document = evidence.documents.get(doc_id)
    title = document.title if document else citations[marker - 1].title
    extra = Citation(
        number, doc_id, title, naming.passage.chunk_id, sentence.start, sentence.end, text, round(score, 4)
    )
    return [(number, naming.item), *shorts[1:]], (*citations, extra), [*quotes, quote(text, number)]


def quote(text: str, marker: int) -> str:
    """A cited sentence as the answer shows it: on one line, with its marker."""
    return f"{' '.join(text.split())} [{marker}]"


def choose(candidates: list[Candidate], asked: Asked, limit: int) -> list[Candidate]:
    """The best sentence, plus what a list needs, or a near-equal that adds something new."""
    best = candidates[0]
    chosen = [best]
    if asked.typed and not asked.wants_list:
        return chosen  # one sentence holds the one asked item: quoting more only dilutes the citation
    margin = LIST_MARGIN if asked.wants_list else EXTRA_SENTENCE_MARGIN
    items = {i.text.lower() for i in best.items}
    for candidate in candidates[1:]:
        if len(chosen) >= limit or candidate.score < best.score - margin:
            break
        if any(float(candidate.vector @ c.vector) >= REDUNDANT_SIMILARITY for c in chosen):
            continue
        new = {i.text.lower() for i in candidate.items} - items
        if asked.typed and not new:
            continue
        items |= new
        chosen.append(candidate)
    return chosen


def cite(chosen: list[Candidate]) -> tuple[Citation, ...]:
    return tuple(
        Citation(
            marker=number,
            doc_id=c.doc_id,
            title=c.hit.title,
            chunk_id=c.hit.passage.chunk_id,
            start=c.span.start,
            end=c.span.end,
            text=c.text,
            score=round(c.score, 4),
        )
        for number, c in enumerate(chosen, start=1)
    )


def _join_items(texts: list[str]) -> str:
    unique = list(dict.fromkeys(" ".join(t.split()) for t in texts))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def _comparison_draft(compared: Comparison) -> Draft:
    """The option whose value wins, then the two sentences that state the values: "Hakim's trip to Iran
    (three-day against two-day) — … [1] … [2]". The short answer is the winner's name in its sentence."""
    winner, other = compared.winner, compared.other
    citations = cite([winner.candidate, other.candidate])
    said = [c.text[v.stated.start : v.stated.end] for c, v in zip(citations, (winner, other), strict=True)]
    start, end = named_in(winner) or (winner.stated.start, winner.stated.end)
    first = citations[0]
    span = AnswerSpan(1, first.doc_id, first.start + start, first.start + end, first.text[start:end])
    lead = f"{winner.option} ({said[0]} against {said[1]}) —"
    pieces = (lead, *(" " + quote(c.text, c.marker) for c in citations))
    return Draft(pieces, citations, span, 0.0, settled=True)


def _yes_no_draft(says: str, question: str, best: Candidate) -> Draft:
    """ "No — … began his three-day visit … [1]" to "Did the visit last a week?": the best sentence's value
    settles the duration or count the question states (`quantities`); the short answer span is that value."""
    (first,) = citations = cite([best])
    asked = quantities(question)[0].quantity.kind  # settled, so the question states exactly one
    value = next(s for s in quantities(best.text) if s.quantity.kind == asked)
    start, end = first.start + value.start, first.start + value.end
    span = AnswerSpan(1, first.doc_id, start, end, best.text[value.start : value.end])
    return Draft((f"{says} —", " " + quote(best.text, 1)), citations, span, 0.0, settled=True)


def _metadata_draft(evidence: Evidence, field: Field, candidates: list[Candidate]) -> Draft:
    """The article the question describes, by its metadata. The confidence is the share of the question's
    topic words the article holds (`metadata.described`): an author cannot be half right, but the article
    can be the wrong one."""
    identified = described(evidence.question, list(evidence.documents.values()))
    if identified is None:
        return Draft((), (), None, 0.0)
    document, confidence = identified
    best = next((c for c in candidates if c.doc_id == document.doc_id), None)
    found = values(document, field)
    if best is None or not found:
        return Draft((), (), None, 0.0)
    citations = []
    for number, item in enumerate(found, start=1):
        span = item.span or best.span  # a value that came with the document: cite the article it describes
        citations.append(
            Citation(
                number,
                document.doc_id,
                document.title,
                best.hit.passage.chunk_id if item.span is None else "",
                span.start,
                span.end,
                document.text[span.start : span.end],
                round(confidence, 4),
            )
        )
    first = citations[0]
    short = AnswerSpan(1, document.doc_id, first.start, first.end, first.text) if found[0].span else None
    text = f"{METADATA_LEAD[field]} " + " and ".join(f"{item.value} [{n}]" for n, item in enumerate(found, start=1))
    return Draft((text + ".",), tuple(citations), short, confidence)


class ExtractiveBackend:
    """Quotes the best evidence; needs no model beyond the embedder used for retrieval."""

    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.min_score = settings.min_answer_score
        self.max_sentences = settings.max_answer_sentences

    async def standalone_question(self, question: str, history: tuple[Turn, ...]) -> str:
        return carry_names(question, history)

    async def compose(self, evidence: Evidence) -> AsyncIterator[AnswerEvent]:
        found = draft(evidence, self.max_sentences)
        if not found.citations or found.confidence < self.min_score:
            yield Token(NOT_IN_CORPUS)
            yield Composed(NOT_IN_CORPUS, False, (), confidence=found.confidence)
            return
        for piece in found.pieces:
            yield Token(piece)
        yield Composed(
            "".join(found.pieces), True, found.citations, confidence=found.confidence, answer_span=found.answer_span
        )
