"""Dependencies shared by the routes: the objects built once in the app's lifespan.

All `async def`: FastAPI runs a plain `def` dependency in its thread pool, one hop per request each.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.api.limits import AnswerSlots
from rag.jobs import IngestJobs
from rag.service import RagService


async def get_service(request: Request) -> RagService:
    service: RagService = request.app.state.service
    return service


async def get_jobs(request: Request) -> IngestJobs:
    jobs: IngestJobs = request.app.state.jobs
    return jobs


async def get_slots(request: Request) -> AnswerSlots:
    slots: AnswerSlots = request.app.state.slots
    return slots


Service = Annotated[RagService, Depends(get_service)]
Jobs = Annotated[IngestJobs, Depends(get_jobs)]
Slots = Annotated[AnswerSlots, Depends(get_slots)]
