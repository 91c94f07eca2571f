"""Dependencies shared by the routes: the objects built once in the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.api.limits import AnswerSlots
from rag.jobs import IngestJobs
from rag.service import RagService


def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.service
    return service


def get_jobs(request: Request) -> IngestJobs:
    jobs: IngestJobs = request.app.state.jobs
    return jobs


def get_slots(request: Request) -> AnswerSlots:
    slots: AnswerSlots = request.app.state.slots
    return slots


Service = Annotated[RagService, Depends(get_service)]
Jobs = Annotated[IngestJobs, Depends(get_jobs)]
Slots = Annotated[AnswerSlots, Depends(get_slots)]
