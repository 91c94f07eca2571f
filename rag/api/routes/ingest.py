"""GET /v1/ingest and /v1/ingest/{job_id}: the progress and outcome of uploads made with POST /v1/documents."""

from __future__ import annotations

from fastapi import APIRouter

from rag.api.access import Reader
from rag.api.deps import Jobs
from rag.api.schemas import GET_ERRORS, IngestJobOut, IngestJobsOut, errors

router = APIRouter(tags=["documents"], dependencies=[Reader])


@router.get("/v1/ingest", response_model=IngestJobsOut, responses=GET_ERRORS)
async def list_jobs(jobs: Jobs) -> IngestJobsOut:
    """Recent ingest jobs, newest first (finished ones are kept up to RAG_INGEST_JOBS_KEPT)."""
    return IngestJobsOut(jobs=[IngestJobOut.of(job) for job in jobs.recent()])


@router.get("/v1/ingest/{job_id}", response_model=IngestJobOut, responses=errors(401, 404, 429))
async def get_job(job_id: str, jobs: Jobs) -> IngestJobOut:
    """One job: its state (queued, running, done, failed, cancelled), counts so far, skipped files with reasons."""
    return IngestJobOut.of(jobs.get(job_id))
