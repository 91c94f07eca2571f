"""POST /v1/chat/completions and GET /v1/models, so OpenAI clients and chat front ends can use the service."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from rag import openai_compat as oa
from rag.api.access import Reader
from rag.api.deps import Service, Slots
from rag.api.limits import AnswerSlots
from rag.api.schemas import GET_ERRORS, READ_ERRORS
from rag.errors import RagError
from rag.models import FINAL, Answer, Token
from rag.service import RagService

log = logging.getLogger(__name__)
router = APIRouter(tags=["openai-compatible"])


@router.get("/v1/models", dependencies=[Reader], responses=GET_ERRORS)
async def list_models() -> dict[str, Any]:
    return oa.models()


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses=READ_ERRORS,
    dependencies=[Reader],
    description="The answer as a chat completion. Streamed, an LLM's draft arrives as `reasoning_content` deltas "
    "and the grounded answer with its footnotes as `content`, so the content equals the non-streamed one.",
)
async def chat_completions(
    body: oa.ChatRequest, service: Service, slots: Slots
) -> dict[str, Any] | EventSourceResponse:
    question, history = oa.question_and_history(body)
    if body.stream:
        service.validate(question, body.top_k)
        slots.check()
        return EventSourceResponse(_chunks(service, slots, body, question, history), ping=15)
    async with slots.hold():
        return oa.completion(await service.ask(question, body.top_k, history), body.model)


async def _chunks(
    service: RagService, slots: AnswerSlots, body: oa.ChatRequest, question: str, history: list
) -> AsyncIterator[str]:
    chunk_id = oa.completion_id()
    yield json.dumps(oa.chunk(chunk_id, body.model, {"role": "assistant", "content": ""}))
    sent = ""  # final (non-draft) text already streamed as content
    try:
        async with slots.hold():
            async for event in service.stream(question, body.top_k, history):
                if isinstance(event, Token):
                    # A chat client cannot take back text it has shown: the draft is not content.
                    field = "reasoning_content" if event.draft else "content"
                    sent += "" if event.draft else event.text
                    yield json.dumps(oa.chunk(chunk_id, body.model, {field: event.text}))
                elif isinstance(event, Answer) and event.stage == FINAL:  # a chat client shows one answer
                    rest = event.answer[len(sent) :] if event.answer.startswith(sent) else "\n\n" + event.answer
                    delta = {"content": rest + oa.footnotes(event.citations)}
                    yield json.dumps(oa.chunk(chunk_id, body.model, delta, "stop", oa.extra(event)))
    except RagError as error:
        yield json.dumps({"error": {"message": error.message, "type": type(error).__name__, "code": error.status}})
    except Exception:
        log.exception("chat completion stream failed")
        yield json.dumps({"error": {"message": "internal error; see the server log", "type": "InternalError"}})
    yield "[DONE]"
