"""POST /v1/search: the passages most relevant to a query, without composing an answer."""

from __future__ import annotations

from fastapi import APIRouter

from rag.api.deps import Service
from rag.api.schemas import ErrorResponse, SearchRequest, SearchResponse, SearchResult

router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse, responses={422: {"model": ErrorResponse}})
async def search(body: SearchRequest, service: Service) -> SearchResponse:
    hits = await service.search(body.query, body.top_k, body.filters())
    return SearchResponse(results=[SearchResult.of(hit) for hit in hits])
