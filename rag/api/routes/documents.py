"""GET /v1/documents and /v1/documents/{doc_id}: what is in the index, and each article's original text."""

from __future__ import annotations

from fastapi import APIRouter

from rag.api.deps import Service
from rag.api.schemas import DocumentDetail, DocumentOut, DocumentsResponse, ErrorResponse

router = APIRouter(tags=["documents"])


@router.get("/v1/documents", response_model=DocumentsResponse)
async def list_documents(service: Service) -> DocumentsResponse:
    return DocumentsResponse(documents=[DocumentOut.of(info) for info in await service.documents()])


@router.get("/v1/documents/{doc_id}", response_model=DocumentDetail, responses={404: {"model": ErrorResponse}})
async def get_document(doc_id: str, service: Service) -> DocumentDetail:
    return DocumentDetail.of(await service.document(doc_id))
