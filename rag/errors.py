"""The project's one exception tree; each class carries its HTTP status and CLI exit code.

    RagError (500, exit 1)
    ├── BadRequest (400, exit 2)          input the caller can fix
    │   ├── QuestionInvalid (422)         empty, too long, top_k out of range, a bad filter
    │   ├── Unauthorized (401)            no API key, or not one of RAG_API_KEYS
    │   ├── Forbidden (403)               writes are off: no keys set and the server is not on loopback
    │   ├── Conflict (409)                another writer holds the index
    │   ├── PayloadTooLarge (413)         a body over RAG_MAX_BODY_BYTES / RAG_MAX_UPLOAD_BYTES
    │   ├── UnsupportedMediaType (415)    an upload that is neither JSON nor multipart
    │   └── RateLimited (429)             over RAG_RATE_LIMIT; carries Retry-After
    ├── NotFound (404, exit 3)            unknown document or ingest job
    ├── NotReady (503, exit 4)            no index loaded yet
    ├── Overloaded (503)                  every answer slot busy and the queue full; carries Retry-After
    ├── ServiceUnavailable (503)          the server cannot take the work now: disk full, upload queue full
    ├── UpstreamUnavailable (503, exit 5) an LLM server down or timing out
    └── ConfigError (500, exit 6)         bad settings: unknown backend, missing model file

Services raise these; `rag.api.app` maps them to HTTP and `rag.cli` to exit codes, each in one place.
"""

from __future__ import annotations


class RagError(Exception):
    status = 500
    exit_code = 1
    retry_after: int | None = None  # seconds, sent as Retry-After; a class sets its default, a raise may override

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retry_after is not None:
            self.retry_after = retry_after


class BadRequest(RagError):
    status = 400
    exit_code = 2


class QuestionInvalid(BadRequest):
    status = 422


class Unauthorized(BadRequest):
    status = 401


class Forbidden(BadRequest):
    status = 403


class Conflict(BadRequest):
    status = 409


class PayloadTooLarge(BadRequest):
    status = 413


class UnsupportedMediaType(BadRequest):
    status = 415


class RateLimited(BadRequest):
    status = 429


class NotFound(RagError):
    status = 404
    exit_code = 3


class NotReady(RagError):
    status = 503
    exit_code = 4


class Overloaded(RagError):
    status = 503
    retry_after = 1


class ServiceUnavailable(RagError):
    status = 503
    retry_after = 30


class UpstreamUnavailable(RagError):
    status = 503
    exit_code = 5


class ConfigError(RagError):
    status = 500
    exit_code = 6
