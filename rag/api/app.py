"""The FastAPI application: `create_app(settings)`, its lifespan, and the one place errors become HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from rag.api.routes import ask, documents, health, openai_compat, search
from rag.api.security import SecurityHeadersMiddleware
from rag.config import Settings
from rag.errors import RagError
from rag.service import RagService

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def build_service(settings: Settings) -> RagService:
    """The heavy objects (model, backend), built once per process."""
    from rag.answer import create_backend
    from rag.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.embed_batch_size)
    return RagService(settings, embedder, create_backend(settings, embedder))


def create_app(settings: Settings, service: RagService | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = service or build_service(settings)
        await app.state.service.reload()
        if not app.state.service.ready:
            log.warning("no index in %s yet; /readyz answers 503 until `rag ingest` publishes one", settings.index_dir)
        yield

    # Swagger UI and ReDoc assets served from the installed package, so /docs works offline.
    app = FastAPIOffline(
        title="newsrag",
        summary="Questions over a news corpus, answered with exact citations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    for module in (ask, search, documents, health, openai_compat):
        app.include_router(module.router)
    app.add_middleware(SecurityHeadersMiddleware)
    _add_web(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(request: Request, error: RagError) -> JSONResponse:
        return JSONResponse({"detail": error.message, "type": type(error).__name__}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe(error), "type": "RequestInvalid"}, status_code=422)

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
