"""The FastAPI application: `create_app(settings)`, its lifespan, and the one place errors become HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sse_starlette.sse import AppStatus
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api.access import Access
from rag.api.limits import AnswerSlots, BodySizeLimit, ShedLoad
from rag.api.observability import Metrics, RequestContext, gauge
from rag.api.routes import ask, documents, health, ingest, openai_compat, search
from rag.api.security import SecurityHeadersMiddleware
from rag.config import Settings
from rag.embeddings import EMBEDDING_MODEL_NAME
from rag.errors import RagError, Unauthorized
from rag.jobs import IngestJobs
from rag.query_encoder import BatchingEmbedder
from rag.service import RagService

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def build_service(settings: Settings) -> RagService:
    """The heavy objects (model, backend), built once per process."""
    from rag.answer import create_backend
    from rag.embeddings import load_embedder

    model = load_embedder(settings)
    embedder = BatchingEmbedder(model, settings.embed_window_ms, settings.query_cache_size)
    return RagService(settings, embedder, create_backend(settings, embedder))


def create_app(settings: Settings, service: RagService | None = None) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live = service or build_service(settings)
        app.state.service = live
        app.state.jobs = IngestJobs(settings, live.embedder, EMBEDDING_MODEL_NAME)
        live.answer_hooks.append(metrics.observe_answer)
        metrics.watch(lambda: _live_gauges(app))
        await live.reload()
        if not live.ready:
            log.warning("no index in %s yet; /readyz answers 503 until `rag ingest` publishes one", settings.index_dir)
        yield
        # Requests in flight have finished (uvicorn waits for them); stop an upload before it publishes.
        await asyncio.to_thread(app.state.jobs.shutdown)

    # Swagger UI and ReDoc assets served from the installed package, so /docs works offline.
    app = FastAPIOffline(
        title="newsrag",
        summary="Questions over a news corpus, answered with exact citations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.access = Access(settings)
    app.state.slots = AnswerSlots(settings.max_concurrent, settings.max_queued, settings.queue_timeout)
    app.state.metrics = metrics
    _add_error_handlers(app)
    for module in (ask, search, documents, ingest, health, openai_compat):
        app.include_router(module.router)
    # The last added runs first: request ids and metrics see every request, 413s included.
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodySizeLimit, max_json=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    app.add_middleware(ShedLoad, slots=app.state.slots)
    app.add_middleware(RequestContext, metrics=metrics)
    _add_web(app)
    # Streams in flight on SIGTERM are finished, not cut (uvicorn's graceful timeout still bounds them).
    AppStatus.disable_automatic_graceful_drain()
    return app


def _live_gauges(app: FastAPI) -> Iterator[Metric]:
    service: RagService = app.state.service
    slots: AnswerSlots = app.state.slots
    yield gauge("newsrag_index_passages", "Passages in the loaded index version", service.passages)
    yield gauge("newsrag_index_documents", "Documents in the loaded index version", service.documents_count)
    yield gauge("newsrag_index_segments", "Segments of the loaded index version", service.segments)
    labels = {"version": service.version or "none", "store": service.settings.store}
    yield gauge("newsrag_index_info", "The loaded index version and its store", 1, labels)
    yield gauge("newsrag_answers_in_progress", "Answers and searches being worked on", slots.working)
    yield gauge("newsrag_answers_waiting", "Requests waiting for an answer slot", slots.waiting)
    family = GaugeMetricFamily("newsrag_ingest_jobs", "Ingest jobs remembered, by state", labels=["state"])
    counts = app.state.jobs.counts()
    for state in ("queued", "running", "done", "failed", "cancelled"):
        family.add_metric([state], counts.get(state, 0))
    yield family
    embedder = service.embedder
    if isinstance(embedder, BatchingEmbedder):
        yield CounterMetricFamily("newsrag_query_embedding_batches", "Encoder calls for queries", embedder.batches)
        yield CounterMetricFamily(
            "newsrag_query_cache_hits", "Query embeddings served from the cache", embedder.cache_hits
        )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(request: Request, error: RagError) -> JSONResponse:
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        body = {"detail": error.message, "type": type(error).__name__}
        return JSONResponse(body, status_code=error.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe(error), "type": "RequestInvalid"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Starlette's own: an unknown path, a wrong method, a malformed multipart body.
        kind = "PayloadTooLarge" if error.status_code == 413 else "HTTPError"
        body = {"detail": str(error.detail), "type": kind}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log", "type": "InternalError"}, 500)


def _describe(error: RequestValidationError) -> str:
    """One readable line per problem, e.g. "body.top_k: Input should be a valid integer"."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        message = "malformed JSON body" if item.get("type") == "json_invalid" else item.get("msg", "invalid")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) or "invalid request"


def _add_web(app: FastAPI) -> None:
    index_html = WEB_DIR / "index.html"
    if not index_html.is_file():
        return
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index_html)
