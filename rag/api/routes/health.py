"""Liveness, readiness, metrics, and picking up a newer index without a restart."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rag.api.access import Access, Reader, Writer
from rag.api.deps import Service
from rag.api.schemas import GET_ERRORS, ReloadResponse, errors

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "No index loaded yet"}})
async def readyz(request: Request, service: Service) -> JSONResponse:
    """Ready when an index is loaded; also says which endpoints need an API key (never needs one itself)."""
    access: Access = request.app.state.access
    keys = {"read_requires_key": access.read_requires_key, "write_requires_key": access.write_requires_key}
    if not service.ready:
        await service.reload()
    if not service.ready:
        return JSONResponse({"status": "no index loaded", **keys}, status_code=503)
    body = {
        "status": "ready",
        "index_version": service.version,
        "passages": service.passages,
        "store": service.settings.store,
        "segments": service.segments,
        "backend": service.backend.name,
        **keys,
    }
    return JSONResponse(body)


@router.get("/metrics", dependencies=[Reader], response_class=Response, responses=GET_ERRORS)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests, latencies per route and answer stage, answers, index, jobs."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/reload", response_model=ReloadResponse, dependencies=[Writer], responses=errors(401, 403, 429))
async def reload(service: Service) -> ReloadResponse:
    changed = await service.reload()
    return ReloadResponse(reloaded=changed, version=service.version)
