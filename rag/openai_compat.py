"""The OpenAI chat-completions dialect: messages in, the service's answer out as a chat completion.

The last user message is the question and earlier user/assistant messages are the history; system
messages are ignored (the service has its own instructions). Citations travel twice: as numbered
footnotes in the text, for chat front ends that only show text, and structured in `citations`. Streamed,
an LLM's ungrounded draft goes out as `reasoning_content` (the field reasoning models use), never as
content, so what a client shows as the answer is the grounded answer.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from rag.api.schemas import CitationOut
from rag.errors import QuestionInvalid
from rag.models import Answer, Citation, Turn

MODEL_ID = "newsrag"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int | None = Field(default=None, ge=1, le=50, description="Extension: passages to retrieve.")


def question_and_history(request: ChatRequest) -> tuple[str, list[Turn]]:
    dialogue = [m for m in request.messages if m.role in ("user", "assistant")]
    if not dialogue or dialogue[-1].role != "user":
        raise QuestionInvalid("the last message must be the user's question")
    history = [Turn(m.role, m.text()) for m in dialogue[:-1]]
    return dialogue[-1].text(), history


def footnotes(citations: tuple[Citation, ...]) -> str:
    if not citations:
        return ""
    lines = [
        f'[{c.marker}] {c.title} ({c.doc_id}, chars {c.start}-{c.end}): "{" ".join(c.text.split())}"' for c in citations
    ]
    return "\n\nSources:\n" + "\n".join(lines)


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion(answer: Answer, model: str) -> dict[str, Any]:
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer + footnotes(answer.citations)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **extra(answer),
    }


def extra(answer: Answer) -> dict[str, Any]:
    """Fields beyond OpenAI's: structured citations, the verdict, the answer without footnotes."""
    return {
        "citations": [CitationOut.of(c).model_dump() for c in answer.citations],
        "answered": answer.answered,
        "answer": answer.answer,
        "standalone_question": answer.standalone_question,
    }


def chunk(
    chunk_id: str, model: str, delta: dict[str, str], finish: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return {**body, **(extra or {})}


def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsrag"}]}
