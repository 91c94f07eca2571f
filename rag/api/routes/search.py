"""POST /v1/search: the passages most relevant to a query, without composing an answer."""

from __future__ import annotations

from fastapi import APIRouter

from rag.api.access import Reader
from rag.api.deps import Service, Slots
from rag.api.schemas import READ_ERRORS, SearchRequest, SearchResponse, SearchResult

router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse, responses=READ_ERRORS, dependencies=[Reader])
async def search(body: SearchRequest, service: Service, slots: Slots) -> SearchResponse:
    async with slots.hold():
        hits = await service.search(body.query, body.top_k, body.filters())
    return SearchResponse(results=[SearchResult.of(hit) for hit in hits])
