"""Liveness, readiness, and picking up a newer index without a restart."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rag.api.deps import Service
from rag.api.schemas import ReloadResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(service: Service) -> JSONResponse:
    if not service.ready:
        await service.reload()
    if not service.ready:
        return JSONResponse({"status": "no index loaded"}, status_code=503)
    return JSONResponse({"status": "ready", "index_version": service.version, "backend": service.backend.name})


@router.post("/v1/reload", response_model=ReloadResponse)
async def reload(service: Service) -> ReloadResponse:
    changed = await service.reload()
    return ReloadResponse(reloaded=changed, version=service.version)
