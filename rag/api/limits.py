"""Limits that keep one caller from taking the server down: body sizes, and a bounded queue for answer work.

`BodySizeLimit` answers 413 from the Content-Length header, before a byte of the body is read; a body sent
without a length (chunked) is cut off with a 413 as soon as it passes the limit. `AnswerSlots` lets
RAG_MAX_CONCURRENT requests work at once and RAG_MAX_QUEUED wait; past that, or after RAG_QUEUE_TIMEOUT of
waiting, a request gets 503 with Retry-After at once instead of queueing for minutes; `ShedLoad` gives that
503 before the body is read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import Overloaded

BODY_METHODS = {"POST", "PUT", "PATCH"}
UPLOAD_PATH = "/v1/documents"


class BodySizeLimit:
    """Pure ASGI, so streamed responses pass through untouched."""

    def __init__(self, app: ASGIApp, max_json: int, max_upload: int) -> None:
        self.app = app
        self.max_json = max_json
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # The larger limit only where uploads go: a multipart body to /v1/ask is held to the JSON limit.
        upload = scope["path"] == UPLOAD_PATH and headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.max_upload if upload else self.max_json
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await _too_large(send, limit, upload)
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): count the bytes as the app reads them and stop at the limit.
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit, upload)
            return message

        await self.app(scope, counted, send)


class BodyTooLarge(HTTPException):
    """Raised while a chunked body is read; FastAPI lets HTTPExceptions through its body parsing, as a 413."""

    def __init__(self, limit: int, upload: bool) -> None:
        super().__init__(413, _too_large_detail(limit, upload))


def _too_large_detail(limit: int, upload: bool) -> str:
    setting = "RAG_MAX_UPLOAD_BYTES" if upload else "RAG_MAX_BODY_BYTES"
    return f"the request body is larger than {limit} bytes ({setting})"


async def _too_large(send: Send, limit: int, upload: bool) -> None:
    await _refuse(send, 413, {"detail": _too_large_detail(limit, upload), "type": "PayloadTooLarge"})


ANSWER_PATHS = {"/v1/ask", "/v1/search", "/v1/chat/completions"}


class ShedLoad:
    """Refuse answer requests with 503 before their body is read when every slot and queue place is taken.

    The routes take their slot themselves; this only makes the refusal cheap, so a crowd of clients being
    turned away does not eat the CPU the answers need.
    """

    def __init__(self, app: ASGIApp, slots: AnswerSlots) -> None:
        self.app = app
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in ANSWER_PATHS:
            try:
                self.slots.check()
            except Overloaded as error:
                await _refuse(send, 503, {"detail": error.message, "type": "Overloaded"}, error.retry_after)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, body: dict, retry_after: int | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class AnswerSlots:
    """A semaphore with a bounded, time-limited queue in front of it."""

    def __init__(self, concurrent: int, queued: int, timeout: float) -> None:
        self._free = asyncio.Semaphore(concurrent)
        self.concurrent = concurrent
        self.queued = queued
        self.timeout = timeout
        self.waiting = 0
        self.working = 0

    def check(self) -> None:
        """Refuse now when the queue is full (for streams, which take their slot once they start)."""
        if self._free.locked() and self.waiting >= self.queued:
            raise Overloaded(f"the server is busy ({self.working} answers in progress, {self.waiting} waiting)")

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        self.check()
        self.waiting += 1
        try:
            await asyncio.wait_for(self._free.acquire(), self.timeout)
        except TimeoutError:
            raise Overloaded(f"the server is busy: no answer slot free within {self.timeout:g} s") from None
        finally:
            self.waiting -= 1
        self.working += 1
        try:
            yield
        finally:
            self.working -= 1
            self._free.release()
