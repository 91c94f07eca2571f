"""Request ids, access logs, JSON logging and Prometheus metrics.

Every request gets an id (the caller's `X-Request-ID` when it is a sane token, else a new one), sent back
in the response and attached to every log line written while it runs. `/metrics` serves one registry per
app: request counts and latencies by route, per-stage answer latencies, answered/abstained counts, and
gauges read at scrape time (index version and size, answer slots, ingest jobs, the query-embedding cache).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.api.limits import ANSWER_PATHS, UPLOAD_PATH
from rag.models import Answer

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Keys of an answer's timings_ms worth a histogram.
STAGES = ("embed", "search", "compose", "preliminary", "first_token", "total")
access_log = logging.getLogger("rag.access")
REFUSED_EARLY_PATHS = ANSWER_PATHS | {UPLOAD_PATH}  # where BodySizeLimit and ShedLoad answer before routing
disable_created_metrics()  # the *_created series double the output and say nothing an operator needs


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and any `extra` fields."""

    STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        entry.update({key: value for key, value in vars(record).items() if key not in self.STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime  # type: ignore[assignment]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "newsrag_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsrag_http_request_duration_seconds",
            "Time to the end of the response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "newsrag_answer_stage_seconds",
            "Time per answer stage (embed, search, compose, quick extractive answer, LLM first token, total)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "newsrag_answers",
            "Answers given, and questions the corpus does not answer",
            ["outcome"],
            registry=self.registry,
        )

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels("answered" if answer.answered else "abstained").inc()
        for stage in STAGES:
            if stage in answer.timings_ms:
                self.stages.labels(stage).observe(answer.timings_ms[stage] / 1000)

    def watch(self, read: Callable[[], Iterator[Metric]]) -> None:
        """Gauges computed at scrape time from the live objects."""
        self.registry.register(_Live(read))


class _Live(Collector):
    def __init__(self, read: Callable[[], Iterator[Metric]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        return self.read()


def gauge(name: str, documentation: str, value: float, labels: dict[str, str] | None = None) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


class RequestContext:
    """Pure ASGI: request id in and out, one access-log line and the request metrics per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or _static_or_unmatched(scope["path"])
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            access_log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id.reset(token)


def _static_or_unmatched(path: str) -> str:
    """A bounded label for requests no route saw: refused early (413, 503) on a known path, static files, the rest."""
    if path in REFUSED_EARLY_PATHS:
        return path
    return "/static" if path.startswith("/static/") else "unmatched"
