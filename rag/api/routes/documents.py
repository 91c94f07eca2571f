"""Documents: list and read them; add them over HTTP (files or JSON articles) as ingest jobs; delete one."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from ingest.loaders import SUPPORTED, Skipped
from rag.api.access import Reader, Writer
from rag.api.deps import Jobs, Service
from rag.api.schemas import (
    GET_ERRORS,
    WRITE_ERRORS,
    ArticlesIn,
    DeletedOut,
    DocumentDetail,
    DocumentOut,
    DocumentsResponse,
    IngestJobOut,
    errors,
)
from rag.errors import QuestionInvalid, ServiceUnavailable, UnsupportedMediaType
from rag.jobs import IngestJob, IngestJobs, safe_file_name

router = APIRouter(tags=["documents"])

MAX_FILES = 1000


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic schema with its `$defs` inlined, to sit inside an OpenAPI request body."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return dict(walk(schema))


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline(ArticlesIn.model_json_schema())},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Files as `rag ingest` takes them: " + ", ".join(sorted(SUPPORTED)),
                        }
                    },
                }
            },
        },
    }
}


@router.get("/v1/documents", response_model=DocumentsResponse, responses=GET_ERRORS, dependencies=[Reader])
async def list_documents(service: Service) -> DocumentsResponse:
    return DocumentsResponse(documents=[DocumentOut.of(info) for info in await service.documents()])


@router.get(
    "/v1/documents/{doc_id}",
    response_model=DocumentDetail,
    responses=errors(401, 404, 429),
    dependencies=[Reader],
)
async def get_document(doc_id: str, service: Service) -> DocumentDetail:
    return DocumentDetail.of(await service.document(doc_id))


@router.post(
    "/v1/documents",
    status_code=202,
    response_model=IngestJobOut,
    responses={**WRITE_ERRORS, **errors(503)},
    dependencies=[Writer],
    openapi_extra=UPLOAD_BODY,
    description="Add or replace documents: upload files (multipart, field `files`) or send JSON articles. "
    "Answers 202 with an ingest job at once; follow it at `Location` (GET /v1/ingest/{job_id}). The job runs "
    "the same pipeline as `rag ingest` and publishes one new index version atomically, or nothing.",
)
async def add_documents(request: Request, response: Response, jobs: Jobs) -> IngestJobOut:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        job = await _from_files(request, jobs)
    elif content_type.startswith("application/json"):
        try:
            articles = ArticlesIn.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(_in_body(error)) from None
        job = jobs.submit_articles([article.to_article() for article in articles.documents])
    else:
        raise UnsupportedMediaType("send multipart/form-data with `files` fields, or application/json articles")
    response.headers["Location"] = f"/v1/ingest/{job.job_id}"
    return IngestJobOut.of(job)


@router.delete(
    "/v1/documents/{doc_id}",
    response_model=DeletedOut,
    responses=errors(401, 403, 404, 409, 429, 503),
    dependencies=[Writer],
)
async def delete_document(doc_id: str, jobs: Jobs, service: Service) -> DeletedOut:
    """Remove one document; publishes a new index version (409 while another writer holds the index)."""
    version = await jobs.delete(doc_id)
    await service.reload()  # answer from the new version from now on (and say so in /readyz and /metrics)
    return DeletedOut(removed=doc_id, version=version)


async def _from_files(request: Request, jobs: IngestJobs) -> IngestJob:
    jobs.check_room()
    form = await request.form(max_files=MAX_FILES, max_fields=20)
    try:
        uploads = [value for key, value in form.multi_items() if key == "files" and isinstance(value, UploadFile)]
        if not uploads:
            raise QuestionInvalid("no files: send one or more files in multipart fields named `files`")
        folder = jobs.new_folder()
        try:
            names, skipped = await _save_all(uploads, folder)
            return jobs.submit_files(folder, names, skipped)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # the job that would have removed it never started
            raise
    finally:
        await form.close()


async def _save_all(uploads: list[UploadFile], folder: Path) -> tuple[list[str], list[Skipped]]:
    names: list[str] = []
    skipped: list[Skipped] = []
    for upload in uploads:
        name = safe_file_name(upload.filename or "")
        if name is None:
            label = (upload.filename or "(no name)")[:200]
            reason = "the file name must be a plain name: no folders, not hidden, at most 200 bytes"
            skipped.append(Skipped(label, reason))
        elif name in names:
            skipped.append(Skipped(name, "the same file name twice in one upload"))
        else:
            try:
                await asyncio.to_thread(_save, upload, folder / name)
            except OSError as error:
                raise ServiceUnavailable(f"could not store the upload: {error.strerror}") from None
            names.append(name)
    return names, skipped


def _save(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with open(target, "wb") as handle:
        shutil.copyfileobj(upload.file, handle)


def _in_body(error: ValidationError) -> list[Any]:
    """Pydantic's errors located in the body, as FastAPI reports its own."""
    return [{**item, "loc": ("body", *item.get("loc", ()))} for item in error.errors(include_url=False)]
