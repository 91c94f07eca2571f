"""Ingest jobs for documents sent over HTTP: queued, run one at a time in a worker thread, watched by id.

A job runs the same pipeline as `rag ingest` and publishes through the same atomic writer, so a reader sees
the old version or the new one, never a mix. Jobs run one after another; a job whose index lock is held by
a `rag ingest` waits for it (up to `LOCK_WAIT` seconds) and then fails with the reason. On shutdown the job in
progress is stopped before it publishes, and nothing of it is visible.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import RawDocument, Skipped, load
from ingest.pipeline import UPLOAD_PREFIX, IngestCancelled, IngestReport, ingest
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import NotFound, RagError, ServiceUnavailable

log = logging.getLogger(__name__)

DOC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
MAX_NAME_BYTES = 200  # a file name longer than this would not fit the file system with the temp folder
SAFE_DOC_ID = re.compile(DOC_ID_PATTERN)
LOCK_WAIT = 600.0  # seconds a job waits for another writer (a CLI ingest) before failing
DELETE_WAIT = 5.0  # a delete is a request: it waits this long for the lock, then answers 409
MAX_WAITING_JOBS = 16  # uploads accepted but not started; more get 503


@dataclass(frozen=True)
class Article:
    """One article sent as JSON: the fields of a jsonl row."""

    doc_id: str
    text: str
    title: str | None = None
    url: str | None = None
    date: str | None = None
    source: str | None = None


@dataclass
class IngestJob:
    job_id: str
    received: int
    state: str = "queued"  # queued → running → done | failed | cancelled
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    report: IngestReport = field(default_factory=IngestReport)
    error: str | None = None
    folder: Path | None = None  # uploaded files, removed when the job ends

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class IngestJobs:
    """The service's ingest queue: one worker, a bounded memory of finished jobs."""

    def __init__(self, settings: Settings, embedder: Embedder, model_name: str) -> None:
        self.settings = settings
        self.embedder = embedder
        self.model_name = model_name
        self._jobs: OrderedDict[str, IngestJob] = OrderedDict()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self._deleter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delete")

    # -- submitting ------------------------------------------------------------------------------

    def new_folder(self) -> Path:
        """A private folder for one upload's files; the job removes it when it ends."""
        return Path(tempfile.mkdtemp(prefix="newsrag-upload-"))

    def check_room(self) -> None:
        """Refuse a new job while MAX_WAITING_JOBS are already waiting (each holds its files until it runs)."""
        waiting = sum(1 for job in self.recent() if job.state == "queued")
        if waiting >= MAX_WAITING_JOBS:
            raise ServiceUnavailable(f"{waiting} uploads are waiting to be ingested; try again when they are done")

    def submit_files(self, folder: Path, names: list[str], skipped: list[Skipped]) -> IngestJob:
        """Ingest the files saved in `folder` (under `names`, the uploaded file names)."""
        job = self._add(IngestJob(self._new_id(), received=len(names) + len(skipped), folder=folder))
        job.report.skipped.extend(skipped)
        self._worker.submit(self._run, job, _uploaded(folder, names))
        return job

    def submit_articles(self, articles: list[Article]) -> IngestJob:
        self.check_room()
        job = self._add(IngestJob(self._new_id(), received=len(articles)))
        raw = [
            RawDocument(a.doc_id, a.text, f"{UPLOAD_PREFIX}{a.doc_id}", a.title, a.url, a.date, a.source)
            for a in articles
        ]
        self._worker.submit(self._run, job, raw)
        return job

    # -- watching --------------------------------------------------------------------------------

    def get(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"unknown ingest job {job_id!r}")
        return job

    def recent(self) -> list[IngestJob]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.recent():
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts

    async def delete(self, doc_id: str) -> str | None:
        """Remove one document now (publishing a new version); its new version name.

        On a thread of its own, not the shared pool that answers questions: it may wait seconds for the lock.
        """
        return await asyncio.get_running_loop().run_in_executor(self._deleter, self._delete, doc_id)

    def _delete(self, doc_id: str) -> str | None:
        from rag.store import open_index_writer

        with open_index_writer(self.settings, DELETE_WAIT, merge=False) as writer:  # no merge in a request
            if not writer.delete(doc_id):
                raise NotFound(f"unknown document {doc_id!r}")
        return writer.version

    def shutdown(self) -> None:
        """Stop the running job before it publishes, cancel queued ones, and wait for the worker."""
        self._stopping.set()
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._deleter.shutdown(wait=True)
        for job in self.recent():
            if job.active:
                self._end(job, "cancelled", "the server shut down before the job ran")

    # -- running ---------------------------------------------------------------------------------

    def _run(self, job: IngestJob, documents: Iterable[RawDocument | Skipped]) -> None:
        if self._stopping.is_set():
            self._end(job, "cancelled", "the server shut down before the job ran")
            return
        job.state, job.started = "running", time.time()
        try:
            ingest(
                [],
                self.settings,
                self.embedder,
                self.model_name,
                progress=False,
                documents=_checked_ids(documents),
                report=job.report,
                should_stop=self._stopping.is_set,
                wait=LOCK_WAIT,
            )
        except IngestCancelled:
            self._end(job, "cancelled", "the server shut down; nothing of this job was published")
        except RagError as error:
            if self._stopping.is_set():  # e.g. it gave up waiting for another writer's lock
                self._end(job, "cancelled", "the server shut down; nothing of this job was published")
            else:
                self._end(job, "failed", error.message)
        except Exception as error:
            log.exception("ingest job %s failed", job.job_id)
            self._end(job, "failed", f"internal error ({type(error).__name__}); see the server log")
        else:
            self._end(job, "done", None)

    def _end(self, job: IngestJob, state: str, error: str | None) -> None:
        job.state, job.error, job.finished = state, error, time.time()
        if job.folder is not None:
            shutil.rmtree(job.folder, ignore_errors=True)
        log.info(
            "ingest job %s %s: %d added, %d updated, %d skipped",
            job.job_id,
            state,
            len(job.report.added),
            len(job.report.updated),
            len(job.report.skipped),
        )

    def _add(self, job: IngestJob) -> IngestJob:
        with self._lock:
            self._jobs[job.job_id] = job
            finished = [key for key, old in self._jobs.items() if not old.active]
            for key in finished[: max(0, len(self._jobs) - self.settings.ingest_jobs_kept)]:
                del self._jobs[key]
        return job

    @staticmethod
    def _new_id() -> str:
        return uuid.uuid4().hex[:16]


def safe_file_name(name: str) -> str | None:
    """The uploaded file name if it is a plain name (no folders, not hidden, no control characters), else None."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name.encode()) > MAX_NAME_BYTES:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return None
    return name


def _uploaded(folder: Path, names: list[str]) -> Iterator[RawDocument | Skipped]:
    """Load the saved files; source paths name the upload, never the temporary folder."""
    for name in names:
        label = f"{UPLOAD_PREFIX}{name}"
        for item in load(folder / name):
            if isinstance(item, Skipped):
                yield Skipped(item.path.replace(str(folder / name), name), item.reason)
            else:
                yield RawDocument(item.doc_id, item.text, label, item.title, item.url, item.date, item.source)


def _checked_ids(items: Iterable[RawDocument | Skipped]) -> Iterator[RawDocument | Skipped]:
    for item in items:
        if isinstance(item, RawDocument) and not SAFE_DOC_ID.fullmatch(item.doc_id):
            where = item.source_path.removeprefix(UPLOAD_PREFIX)
            yield Skipped(where, f"doc id {item.doc_id[:80]!r} is not allowed (letters, digits and . _ : - only)")
        else:
            yield item
