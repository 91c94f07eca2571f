"""The data that flows between steps: documents, passages, hits, citations and answers.

All offsets are character offsets into a document's *original* text (the decoded file, or the text
extracted from HTML, or a jsonl row's `text`), so `document.text[start:end]` is always the exact quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Answer stages: with an LLM backend the extractive answer streams first, then the model's checked answer.
EXTRACTIVE = "extractive"
FINAL = "final"


@dataclass(frozen=True)
class Document:
    """One article with its metadata; `text` is the original text every offset refers to."""

    doc_id: str
    text: str
    title: str
    source_path: str
    sha256: str
    place: str | None = None
    agency: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    source: str | None = None

    @property
    def length(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class Span:
    """A half-open character range `[start, end)` in a document's original text."""

    start: int
    end: int


@dataclass(frozen=True)
class Mention:
    """A named-entity mention found at ingest: `label` is spaCy's (PERSON, GPE, ORG, DATE, CARDINAL, …)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Passage:
    """A retrievable chunk: whole sentences, with the sentence spans kept for citing one sentence."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]
    mentions: tuple[Mention, ...] = ()  # in document offsets, in order

    def quote(self, span: Span) -> str:
        """The text of a span inside this passage."""
        return self.text[span.start - self.start : span.end - self.start]


@dataclass(frozen=True)
class Hit:
    """A passage returned by retrieval, with its score (higher is better) and document title."""

    passage: Passage
    score: float
    title: str


@dataclass(frozen=True)
class Citation:
    """What an answer rests on: `text` is exactly `original_text[start:end]` of `doc_id`."""

    marker: int
    doc_id: str
    title: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class AnswerSpan:
    """The short answer inside citation `marker`: exactly `original_text[start:end]` of `doc_id`."""

    marker: int
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class GroundedSentence:
    """One sentence of a generated answer and the evidence found for it (LLM backends only)."""

    sentence: str
    grounded: bool
    markers: tuple[int, ...]
    score: float


@dataclass(frozen=True)
class Answer:
    """A composed answer; `answered` is False when the corpus does not contain the answer."""

    answer: str
    answered: bool
    citations: tuple[Citation, ...]
    backend: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    grounding: tuple[GroundedSentence, ...] = ()
    question: str = ""  # as asked
    standalone_question: str = ""  # what was retrieved and answered: a follow-up rewritten to stand alone
    confidence: float = 1.0  # how likely the answer is right (0..1); below RAG_MIN_ANSWER_SCORE it is not given
    answer_span: AnswerSpan | None = None  # the phrase that answers, inside one of the citations
    stage: str = FINAL  # EXTRACTIVE: shown at once while an LLM works; the FINAL answer replaces it


@dataclass(frozen=True)
class Token:
    """A piece of answer text as it is produced (the streaming primitive).

    `draft` pieces are an LLM's raw text: the grounded answer in the final `Composed` replaces them.
    """

    text: str
    draft: bool = False


@dataclass(frozen=True)
class Composed:
    """The end of a backend's stream: the full answer text, its citations and the verdict."""

    answer: str
    answered: bool
    citations: tuple[Citation, ...]
    grounding: tuple[GroundedSentence, ...] = ()
    answered_by: str = ""  # another backend that stood in (an LLM's extractive fallback); empty: this one
    confidence: float = 1.0
    answer_span: AnswerSpan | None = None
    stage: str = FINAL  # an LLM backend may first yield the extractive answer as a preliminary stage


AnswerEvent = Token | Composed


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, sent back as `history` for follow-up questions."""

    role: str
    content: str
