"""Request and response bodies of the HTTP API (the OpenAPI schema at /docs is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from rag.jobs import DOC_ID_PATTERN, Article, IngestJob
from rag.models import Answer, AnswerSpan, Citation, Document, GroundedSentence, Hit, Turn
from rag.retrieval import Filters
from rag.store import DocumentInfo

# Documented for clients; the validator below gives the clearer message on a miss.
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"


class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)

    def to_turn(self) -> Turn:
        return Turn(self.role, self.content)


class FilterFields(BaseModel):
    """Optional filters shared by ask and search; documents without the metadata never match a filter on it."""

    doc_ids: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=1000, description="Only these documents."
    )
    source: str | None = Field(default=None, max_length=200, description="Only documents from this source (publisher).")
    date_from: str | None = Field(
        default=None,
        description="Only documents dated on or after this ISO 8601 date (2023-11-27).",
        json_schema_extra={"pattern": ISO_DATE},
    )
    date_to: str | None = Field(
        default=None,
        description="Only documents dated on or before this ISO 8601 date.",
        json_schema_extra={"pattern": ISO_DATE},
    )

    @field_validator("date_from", "date_to")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        """A date the index can compare; "yesterday" used to be accepted and silently matched nothing."""
        if value is None:
            return None
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value[:40]!r} is not an ISO 8601 date such as 2023-11-27") from None
        return value

    def filters(self) -> Filters:
        return Filters(tuple(self.doc_ids), self.source, self.date_from, self.date_to)


class AskRequest(FilterFields):
    question: str = Field(
        json_schema_extra={"minLength": 1}, description="The question, in plain language (1..2000 characters)."
    )
    top_k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve; default RAG_TOP_K.")
    history: list[HistoryTurn] = Field(default_factory=list, max_length=50, description="Earlier turns.")
    stream: bool = Field(default=False, description="Answer as Server-Sent Events instead of one JSON body.")


class SearchRequest(FilterFields):
    query: str = Field(json_schema_extra={"minLength": 1}, description="What to look for (1..2000 characters).")
    top_k: int | None = Field(default=None, ge=1, le=50, description="Results to return; default RAG_TOP_K.")


class CitationOut(BaseModel):
    marker: int
    doc_id: str
    title: str
    chunk_id: str
    start: int
    end: int
    text: str = Field(description="Exactly original_text[start:end] of the document.")
    score: float

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls(**citation.__dict__)


class AnswerSpanOut(BaseModel):
    """The phrase that answers, inside citation `marker`: exactly original_text[start:end] of `doc_id`."""

    marker: int
    doc_id: str
    start: int
    end: int
    text: str

    @classmethod
    def of(cls, span: AnswerSpan | None) -> AnswerSpanOut | None:
        return cls(**span.__dict__) if span else None


class GroundingOut(BaseModel):
    sentence: str
    grounded: bool = Field(description="False: no retrieved sentence supports it, so it was left out.")
    markers: list[int]
    score: float

    @classmethod
    def of(cls, item: GroundedSentence) -> GroundingOut:
        return cls(sentence=item.sentence, grounded=item.grounded, markers=list(item.markers), score=item.score)


class AskResponse(BaseModel):
    answer: str
    answered: bool = Field(description="False when the corpus does not contain the answer.")
    citations: list[CitationOut]
    backend: str
    timings_ms: dict[str, float]
    question: str = Field(description="The question as asked.")
    standalone_question: str = Field(
        description="What was retrieved and answered: a follow-up rewritten to stand alone, else the question."
    )
    grounding: list[GroundingOut] = Field(
        default_factory=list, description="LLM backends: each generated sentence and the citation that supports it."
    )
    answer_span: AnswerSpanOut | None = Field(
        default=None, description="The short answer (a name, date, number …) inside one of the citations, if any."
    )
    confidence: float = Field(
        description="How likely the answer is right (0..1); below RAG_MIN_ANSWER_SCORE the service declines."
    )
    stage: Literal["extractive", "final"] = Field(
        default="final",
        description="`extractive`: the quick answer streamed while an LLM works (streams only); `final` replaces it.",
    )

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(
            answer=answer.answer,
            answered=answer.answered,
            citations=[CitationOut.of(c) for c in answer.citations],
            backend=answer.backend,
            timings_ms=answer.timings_ms,
            question=answer.question,
            standalone_question=answer.standalone_question,
            grounding=[GroundingOut.of(g) for g in answer.grounding],
            answer_span=AnswerSpanOut.of(answer.answer_span),
            confidence=round(answer.confidence, 4),
            stage=answer.stage,  # type: ignore[arg-type]
        )


class SearchResult(BaseModel):
    """One passage; results come in fused (dense + BM25) rank order, `score` is its cosine similarity."""

    doc_id: str
    chunk_id: str
    title: str
    text: str
    start: int
    end: int
    score: float

    @classmethod
    def of(cls, hit: Hit) -> SearchResult:
        p = hit.passage
        return cls(
            doc_id=p.doc_id,
            chunk_id=p.chunk_id,
            title=hit.title,
            text=p.text,
            start=p.start,
            end=p.end,
            score=round(hit.score, 4),
        )


class SearchResponse(BaseModel):
    results: list[SearchResult]


class DocumentFields(BaseModel):
    """Metadata every document has; fields read off the text may be null."""

    doc_id: str
    title: str
    source_path: str
    sha256: str
    place: str | None
    agency: str | None
    author: str | None
    date: str | None
    url: str | None
    source: str | None
    length: int


class DocumentOut(DocumentFields):
    passage_count: int

    @classmethod
    def of(cls, info: DocumentInfo) -> DocumentOut:
        return cls(**info.__dict__)


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]


class DocumentDetail(DocumentFields):
    text: str = Field(description="The original text every offset refers to.")

    @classmethod
    def of(cls, document: Document) -> DocumentDetail:
        return cls(length=document.length, **document.__dict__)


class ErrorResponse(BaseModel):
    detail: str
    type: str


def errors(*codes: int) -> dict[int | str, dict]:
    """The `responses` of a route: each status it may answer besides success, with the error body."""
    return {code: {"model": ErrorResponse} for code in codes}


# 400: a body that is not even text (FastAPI's own check); 413: over RAG_MAX_BODY_BYTES; 503: no index, or busy.
READ_ERRORS = errors(400, 401, 413, 422, 429, 503)
GET_ERRORS = errors(401, 429)
WRITE_ERRORS = errors(400, 401, 403, 409, 413, 415, 422, 429)


class ReloadResponse(BaseModel):
    reloaded: bool
    version: str | None


class ArticleIn(BaseModel):
    """One article, with the fields of a jsonl row of `rag ingest`."""

    id: str = Field(pattern=DOC_ID_PATTERN, description="The doc_id: letters, digits and . _ : - (1..200).")
    text: str = Field(min_length=1, description="The article's text; offsets refer to it.")
    title: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=2000)
    date: str | None = Field(default=None, max_length=40, description="Publication date, ISO 8601.")
    source: str | None = Field(default=None, max_length=200, description="Publisher.")

    def to_article(self) -> Article:
        return Article(self.id, self.text, self.title, self.url, self.date, self.source)


class ArticlesIn(BaseModel):
    documents: list[ArticleIn] = Field(min_length=1, max_length=10_000)


class SkippedOut(BaseModel):
    path: str = Field(description="The file (or file:line of a jsonl row) that was not ingested.")
    reason: str


class IngestJobOut(BaseModel):
    job_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    created: float = Field(description="Unix time the job was accepted.")
    started: float | None
    finished: float | None
    received: int = Field(description="Files (or JSON articles) received.")
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[SkippedOut]
    passages: int = Field(description="Passages embedded so far.")
    version: str | None = Field(description="The index version the job published (null until done).")
    error: str | None

    @classmethod
    def of(cls, job: IngestJob) -> IngestJobOut:
        report = job.report
        return cls(
            job_id=job.job_id,
            state=job.state,  # type: ignore[arg-type]
            created=job.created,
            started=job.started,
            finished=job.finished,
            received=job.received,
            added=list(report.added),
            updated=list(report.updated),
            unchanged=list(report.unchanged),
            removed=list(report.removed),
            skipped=[SkippedOut(path=s.path, reason=s.reason) for s in list(report.skipped)],
            passages=report.passages,
            version=report.version if job.state == "done" else None,
            error=job.error,
        )


class IngestJobsOut(BaseModel):
    jobs: list[IngestJobOut]


class DeletedOut(BaseModel):
    removed: str
    version: str | None
