"""Dependencies shared by the routes: the service built once in the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.service import RagService


def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.service
    return service


Service = Annotated[RagService, Depends(get_service)]
