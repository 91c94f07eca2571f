"""POST /v1/ask: one JSON answer, or with `stream: true` Server-Sent Events."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from rag.api.access import Reader
from rag.api.deps import Service, Slots
from rag.api.limits import AnswerSlots
from rag.api.schemas import READ_ERRORS, AskRequest, AskResponse
from rag.errors import RagError
from rag.models import FINAL, Answer, Token
from rag.service import RagService

log = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])

STREAM_DOC = """With `"stream": true` the response is `text/event-stream`: `token` events (`{"text", "draft"}`)
as the answer is produced (`draft`: an LLM's raw text, which the grounded answer replaces), a `citations` event
(the response body without `timings_ms`), then `done` (`{"timings_ms"}`); a failure after the stream started is
an `error` event (`{"status", "detail"}`). With an LLM backend the extractive answer comes first as a `citations`
event with `"stage": "extractive"`, before the model's drafts; the `citations` event with `"stage": "final"`
replaces it (RAG_LLM_EXTRACTIVE_FIRST=false leaves the first one out)."""


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    responses=READ_ERRORS,
    dependencies=[Reader],
    description="Answer a question from the corpus, citing the exact spans it rests on. " + STREAM_DOC,
)
async def ask(body: AskRequest, service: Service, slots: Slots) -> AskResponse | EventSourceResponse:
    if body.stream:
        service.validate(body.question, body.top_k)  # bad input is a 4xx, not an event in a 200 stream
        slots.check()  # and a full queue a 503
        return EventSourceResponse(_events(service, slots, body), ping=15)
    history = [turn.to_turn() for turn in body.history]
    async with slots.hold():
        return AskResponse.of(await service.ask(body.question, body.top_k, history, body.filters()))


async def _events(service: RagService, slots: AnswerSlots, body: AskRequest) -> AsyncIterator[dict]:
    history = [turn.to_turn() for turn in body.history]
    try:
        async with slots.hold():
            async for event in service.stream(body.question, body.top_k, history, body.filters()):
                if isinstance(event, Token):
                    yield {"event": "token", "data": json.dumps({"text": event.text, "draft": event.draft})}
                elif isinstance(event, Answer):
                    body_now = AskResponse.of(event).model_dump(exclude={"timings_ms"})
                    yield {"event": "citations", "data": json.dumps(body_now)}
                    if event.stage == FINAL:
                        yield {"event": "done", "data": json.dumps({"timings_ms": event.timings_ms})}
    except RagError as error:
        yield {"event": "error", "data": json.dumps({"status": error.status, "detail": error.message})}
    except Exception:
        log.exception("answer stream failed")
        yield {"event": "error", "data": json.dumps({"status": 500, "detail": "internal error; see the server log"})}
