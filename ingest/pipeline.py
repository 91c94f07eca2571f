"""The incremental ingest run: load → clean → chunk → tag entities → embed → write one new index version.

Unchanged documents (same content hash) are skipped, changed ones replaced, and with `prune` documents
whose source is gone are dropped. Everything lands in one atomic index version, or nothing does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from ingest.chunk import passages, sentences
from ingest.clean import kept_spans, normalise
from ingest.entities import mentions
from ingest.loaders import RawDocument, Skipped, count_documents, discover, load
from ingest.metadata import read_metadata
from rag.config import Settings
from rag.embeddings import Embedder
from rag.models import Document, Mention, Passage, Span
from rag.store import Writer, open_writer

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "upload:"  # source_path of documents that came over HTTP rather than from a file
EMBED_WINDOW = 256  # passages embedded and written per step: bounds memory, sets the progress bar's pace


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    passages: int = 0
    version: str | None = None


@dataclass(frozen=True)
class Prepared:
    document: Document
    passages: list[Passage]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare(raw: RawDocument, settings: Settings) -> Prepared | Skipped:
    """Clean, describe and chunk one document; a document with no content left is skipped."""
    text = raw.text
    segments = sentences(text, kept_spans(text))
    chunks = passages(
        raw.doc_id,
        text,
        segments,
        settings.chunk_min_words,
        settings.chunk_max_words,
        settings.chunk_overlap_sentences,
    )
    if not chunks:
        return Skipped(raw.source_path, "empty (nothing left after removing boilerplate)")
    meta = read_metadata(text, segments[0][0])
    document = Document(
        doc_id=raw.doc_id,
        text=text,
        title=raw.title or meta.title,
        source_path=raw.source_path,
        sha256=content_hash(text),
        place=meta.place,
        agency=meta.agency,
        author=meta.author,
        date=raw.date,
        url=raw.url,
        source=raw.source or meta.source,
    )
    return Prepared(document, chunks)


class IngestCancelled(Exception):
    """Raised inside the run when `should_stop()` says so; the writer discards everything, nothing is published."""


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    embedder: Embedder,
    model_name: str,
    prune: bool = False,
    force: bool = False,
    progress: bool = True,
    *,
    documents: Iterable[RawDocument | Skipped] | None = None,
    report: IngestReport | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    wait: float = 0.0,
) -> IngestReport:
    """Ingest files under `paths` (or already loaded `documents`) into one new index version.

    `report` is filled in as the run goes, so another thread can show progress; `should_stop` is checked
    between documents; `wait` is how long to wait for another writer's lock.
    """
    report = report if report is not None else IngestReport()
    items = _documents(paths, report) if documents is None else _loaded(documents, report)
    with open_writer(settings, embedder.dim, model_name, wait, should_stop) as writer:
        seen: set[str] = set()
        loaded_sources: set[str] = set()
        pending: list[Prepared] = []
        total = count_documents(paths) if progress and documents is None else None
        documents_bar = tqdm(desc="documents", unit="doc", disable=not progress, total=total, position=0)
        bar = tqdm(desc="embedding", unit="passage", disable=not progress, total=0, position=1)
        for item in items:
            documents_bar.update(1)
            if should_stop():
                raise IngestCancelled("stopped before publishing")
            loaded_sources.add(item.source_path)
            if item.doc_id in seen:
                report.skipped.append(Skipped(item.source_path, f"duplicate doc_id {item.doc_id!r}"))
                continue
            seen.add(item.doc_id)
            known = writer.sha256_of(item.doc_id)
            if not force and known == content_hash(item.text):
                report.unchanged.append(item.doc_id)  # checked before chunking: re-runs over big corpora stay cheap
                continue
            prepared = prepare(item, settings)
            if isinstance(prepared, Skipped):
                report.skipped.append(prepared)
                continue
            (report.updated if known is not None else report.added).append(item.doc_id)
            pending.append(prepared)
            bar.total += len(prepared.passages)
            bar.refresh()
            if sum(len(p.passages) for p in pending) >= EMBED_WINDOW:
                report.passages += _embed_and_write(pending, embedder, writer, bar)
                pending = []
        report.passages += _embed_and_write(pending, embedder, writer, bar)
        bar.close()
        documents_bar.close()
        if should_stop():
            raise IngestCancelled("stopped before publishing")
        if prune:
            report.removed = _prune(writer, seen, loaded_sources)
    report.version = writer.version
    return report


def _documents(paths: Iterable[Path], report: IngestReport) -> Iterable[RawDocument]:
    for found in discover(paths):
        if isinstance(found, Skipped):
            report.skipped.append(found)
            continue
        yield from _loaded(load(found), report)


def _loaded(items: Iterable[RawDocument | Skipped], report: IngestReport) -> Iterable[RawDocument]:
    for item in items:
        if isinstance(item, Skipped):
            report.skipped.append(item)
        else:
            yield item


def _embed_and_write(pending: list[Prepared], embedder: Embedder, writer: Writer, bar: tqdm) -> int:
    if not pending:
        return 0
    chunks = [p for prepared in pending for p in prepared.passages]
    tagged = [_with_mentions(p, found) for p, found in zip(chunks, mentions([p.text for p in chunks]), strict=True)]
    texts = [normalise(p.text) for p in chunks]
    relative = [_relative_sentences(p) for p in chunks]
    # One encoder call per window: the encoder sorts its input by length, and smaller calls pad more.
    passage_vectors, sentence_vectors = embedder.encode_passages(texts, relative)
    bar.update(len(texts))
    cursor = 0
    for prepared in pending:
        n = len(prepared.passages)
        writer.put(
            prepared.document,
            tagged[cursor : cursor + n],
            passage_vectors[cursor : cursor + n],
            sentence_vectors[cursor : cursor + n],
        )
        cursor += n
    return len(chunks)


def _with_mentions(passage: Passage, found: Sequence[Mention]) -> Passage:
    shifted = tuple(Mention(m.start + passage.start, m.end + passage.start, m.label) for m in found)
    return replace(passage, mentions=shifted)


def _relative_sentences(passage: Passage) -> list[Span]:
    """Sentence spans relative to the *normalised* passage text the encoder sees."""
    spans = []
    normalised = normalise(passage.text)
    cursor = 0
    for sentence in passage.sentences:
        piece = normalise(passage.text[sentence.start - passage.start : sentence.end - passage.start])
        found = normalised.find(piece, cursor)
        start = found if found >= 0 else cursor
        spans.append(Span(start, start + len(piece)))
        cursor = start + len(piece)
    return spans


def _prune(writer: Writer, seen: set[str], loaded_sources: set[str]) -> list[str]:
    """Drop documents whose file is gone, or whose file was re-read without them (a jsonl row removed).

    Documents sent over HTTP have no file to check (their source is "upload:NAME") and stay.
    """
    removed = []
    for doc_id, source in writer.source_paths().items():
        if source.startswith(UPLOAD_PREFIX):
            continue
        gone = not Path(source).exists() or (source in loaded_sources and doc_id not in seen)
        if gone and writer.delete(doc_id):
            removed.append(doc_id)
    return removed
