"""The project's one exception tree; each class carries its HTTP status and CLI exit code.

    RagError (500, exit 1)
    ├── BadRequest (400, exit 2)          input the caller can fix
    │   └── QuestionInvalid (422)         empty, too long, top_k out of range
    ├── NotFound (404, exit 3)            unknown document
    ├── NotReady (503, exit 4)            no index loaded yet
    ├── UpstreamUnavailable (503, exit 5) an LLM server down or timing out
    └── ConfigError (500, exit 6)         bad settings: unknown backend, missing model file

Services raise these; `rag.api.app` maps them to HTTP and `rag.cli` to exit codes, each in one place.
"""

from __future__ import annotations


class RagError(Exception):
    status = 500
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(RagError):
    status = 400
    exit_code = 2


class QuestionInvalid(BadRequest):
    status = 422


class NotFound(RagError):
    status = 404
    exit_code = 3


class NotReady(RagError):
    status = 503
    exit_code = 4


class UpstreamUnavailable(RagError):
    status = 503
    exit_code = 5


class ConfigError(RagError):
    status = 500
    exit_code = 6
