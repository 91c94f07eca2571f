"""Readers per file type: turn files into raw documents, or into a skip with a reason.

Offsets everywhere refer to the text a reader returns: the decoded file for .txt/.md, the main text
trafilatura extracts from .html, and the `text` field of a .jsonl row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES


@dataclass(frozen=True)
class RawDocument:
    doc_id: str
    text: str
    source_path: str
    title: str | None = None
    url: str | None = None
    date: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def discover(paths: Iterable[Path]) -> Iterator[Path | Skipped]:
    """Files under the given paths (folders are walked, sorted; hidden entries ignored)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden:
                    yield child
        elif path.is_file():
            yield path
        else:
            yield Skipped(str(path), "not found")


def count_documents(paths: Iterable[Path]) -> int:
    """About how many documents the paths hold (a jsonl line each, one per other file): for the progress ETA.

    Reads jsonl files for their line breaks only, a megabyte at a time.
    """
    total = 0
    for found in discover(paths):
        if isinstance(found, Skipped) or found.suffix.lower() not in SUPPORTED:
            continue
        if found.suffix.lower() not in JSONL_SUFFIXES:
            total += 1
            continue
        with open(found, "rb") as handle:
            lines, last = 0, b"\n"
            while block := handle.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
            total += lines + (last != b"\n")
    return total


def load(path: Path) -> Iterator[RawDocument | Skipped]:
    """Read one file; never raises for bad content, it yields a `Skipped` instead."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        yield Skipped(str(path), f"unsupported type {suffix or '(none)'}")
        return
    if suffix in JSONL_SUFFIXES:  # read row by row: a corpus file may be far larger than memory
        yield from _jsonl_rows(path)
        return
    raw = path.read_bytes()
    if not raw.strip():
        yield Skipped(str(path), "empty")
        return
    if b"\x00" in raw[:8192]:
        yield Skipped(str(path), "binary")
        return
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        yield Skipped(str(path), f"undecodable (not UTF-8: {error.reason} at byte {error.start})")
        return
    if suffix in HTML_SUFFIXES:
        yield _html(path, decoded)
    else:
        yield _checked(RawDocument(path.stem, decoded, str(path)))


def _checked(document: RawDocument, where: str | None = None) -> RawDocument | Skipped:
    if not document.text.strip():
        return Skipped(where or document.source_path, "empty")
    return document


def _html(path: Path, markup: str) -> RawDocument | Skipped:
    import trafilatura

    text = trafilatura.extract(markup, include_comments=False, include_tables=False, favor_precision=True)
    if not text or not text.strip():
        return Skipped(str(path), "empty (no main text found in the HTML)")
    meta = trafilatura.extract_metadata(markup)
    return RawDocument(
        path.stem,
        text,
        str(path),
        title=getattr(meta, "title", None),
        url=getattr(meta, "url", None),
        date=getattr(meta, "date", None),
        source=getattr(meta, "sitename", None),
    )


def _jsonl_rows(path: Path) -> Iterator[RawDocument | Skipped]:
    with open(path, "rb") as handle:
        head = handle.read(8192)
        if b"\x00" in head:
            yield Skipped(str(path), "binary")
            return
        if not head.strip() and not handle.read(1):
            yield Skipped(str(path), "empty")
            return
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            yield from _jsonl_row(path, number, raw)


def _jsonl_row(path: Path, number: int, raw: bytes) -> Iterator[RawDocument | Skipped]:
    where = f"{path}:{number}"
    try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        yield Skipped(where, f"undecodable (not UTF-8: {error.reason} at byte {error.start} of the row)")
        return
    if line.strip():
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield Skipped(where, f"invalid JSON ({error.msg})")
            return
        yield _row_document(path, number, row, where)


def _row_document(path: Path, number: int, row: object, where: str) -> RawDocument | Skipped:
    text = row.get("text") if isinstance(row, dict) else None
    if not isinstance(row, dict) or not isinstance(text, str):
        return Skipped(where, "no 'text' string in the row")
    doc_id = str(row.get("id") or f"{path.stem}-{number}")
    return _checked(
        RawDocument(
            doc_id,
            text,
            str(path),
            title=_optional(row, "title"),
            url=_optional(row, "url"),
            date=_optional(row, "date"),
            source=_optional(row, "source"),
        ),
        where,
    )


def _optional(row: dict, key: str) -> str | None:
    value = row.get(key)
    return str(value) if value not in (None, "") else None
