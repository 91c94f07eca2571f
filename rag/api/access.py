"""Who may call what: API keys for writes (and for reads with RAG_PUBLIC_READ=false), and per-client rate limits.

With no keys set, writes are allowed only when the server listens on loopback, where only this machine can
reach it; anywhere else they are off (403) until keys are set. Keys are compared in constant time and never
logged. Rate limits count per client: the key's hash when a key is sent, else the client address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from rag.config import Settings
from rag.errors import ConfigError, Forbidden, RateLimited, Unauthorized


class Access:
    def __init__(self, settings: Settings) -> None:
        self.keys = [_digest(key) for key in settings.accepted_keys()]
        self.public_read = settings.public_read
        self.loopback = is_loopback(settings.host)
        try:
            self.limits: list[RateLimitItem] = parse_many(settings.rate_limit) if settings.rate_limit.strip() else []
        except ValueError as error:
            raise ConfigError(
                f"RAG_RATE_LIMIT {settings.rate_limit!r} is not a limit like 60/minute: {error}"
            ) from None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @property
    def read_requires_key(self) -> bool:
        return bool(self.keys) and not self.public_read

    @property
    def write_requires_key(self) -> bool:
        return bool(self.keys) or not self.loopback

    def check(self, request: Request, write: bool) -> None:
        given = _bearer(request)
        digest = _digest(given) if given is not None else None
        known = digest is not None and self._known(digest)
        # Counted first, by key only when it is a real one: made-up tokens and key guesses share the address's budget.
        self._count("key:" + digest.hex()[:16] if digest is not None and known else _address(request))
        if write and not self.keys and not self.loopback:
            raise Forbidden("writes are off: set RAG_API_KEYS to allow them on a server that is not on loopback")
        if (write and self.keys) or self.read_requires_key:
            if given is None:
                raise Unauthorized("this endpoint needs an API key: send `Authorization: Bearer KEY`")
            if not known:
                raise Unauthorized("the API key was not accepted")

    def _known(self, digest: bytes) -> bool:
        # Digests have one length, so compare_digest's time says nothing about a key's length or its prefix;
        # every key is compared, so neither does which one matched.
        matches = [hmac.compare_digest(digest, key) for key in self.keys]
        return any(matches)

    def _count(self, client: str) -> None:
        if not self.limits:
            return
        for limit in self.limits:
            if not self._limiter.hit(limit, client):
                reset = self._limiter.get_window_stats(limit, client).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                raise RateLimited(f"rate limit of {limit} exceeded; retry in {retry} s", retry)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


async def require_read(request: Request, access: Annotated[Access, Depends(_access)]) -> None:
    access.check(request, write=False)


async def require_write(request: Request, access: Annotated[Access, Depends(_access)]) -> None:
    access.check(request, write=True)


Reader = Depends(require_read)
Writer = Depends(require_write)
