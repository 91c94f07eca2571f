"""Boilerplate detection by general rules of news pages; cleaning returns spans, never a shifted text.

What is dropped: licence and copyright footers, a leading byline line, "Read more:"-style tails, and
reader-comment or spam tails (comment widgets, bare links). The text itself is never rewritten, so every
kept span's offsets are offsets into the original, and citations quote the original exactly.
"""

from __future__ import annotations

import re

from rag.models import Span

LICENCE = re.compile(
    r"(?:All (?:Content|content|material|rights)\b[^\n]{0,120}?licen[sc]ed under[^\n]*?(?:Licen[sc]e|$)\.?"
    r"|(?:©|Copyright\s+(?:©\s*)?\d{4})[^\n]*"
    r"|All rights reserved\.?)",
)
# A line that opens a tail of links to other stories.
READ_MORE = re.compile(r"^\s*(?:Read (?:more|also)|Also read|Related(?: articles| stories)?|See also)\s*:", re.I)
# Lines that only occur once the article is over: comment widgets ("someone in: Post title"),
# comment headings, and bare links.
TAIL_LINE = re.compile(
    r"^\s*(?:\S[^\n]{0,80}? in: \S[^\n]*"
    r"|\d+\s+(?:comments?|responses?)\b[^\n]*"
    r"|(?:leave a (?:comment|reply)|comments|post a comment)\s*:?"
    r"|https?://\S+[^\n]*)\s*$",
    re.I,
)
# A first line of two to four capitalised words without punctuation: an author byline.
BYLINE = re.compile(r"^\s*(?:By\s+)?(?:[A-Z][\w'’-]+\s+){1,3}[A-Z][\w'’-]+\s*$")
WHITESPACE = re.compile(r"\s+")

TAIL_ZONE = 0.5  # tails are only looked for in the second half of a document


def line_spans(text: str) -> list[Span]:
    """Spans of the non-empty lines of `text`, without their line breaks."""
    spans, offset = [], 0
    for line in text.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        if content.strip():
            spans.append(Span(offset, offset + len(content)))
        offset += len(line)
    return spans


def byline(text: str) -> Span | None:
    """The first line when it is an author byline followed by the article."""
    lines = line_spans(text)
    if len(lines) < 2:
        return None
    first = lines[0]
    return first if BYLINE.match(text[first.start : first.end]) else None


def boilerplate_spans(text: str) -> list[Span]:
    """Spans of `text` that are not article content, sorted and non-overlapping."""
    drops = [Span(m.start(), m.end()) for m in LICENCE.finditer(text)]
    found_byline = byline(text)
    if found_byline:
        drops.append(found_byline)
    tail = _tail_start(text)
    if tail is not None:
        drops.append(Span(tail, len(text)))
    return _merge(drops)


def _tail_start(text: str) -> int | None:
    """Where a "Read more" or comment/spam tail begins, if the document has one."""
    zone = int(len(text) * TAIL_ZONE)
    for span in line_spans(text):
        if span.start < zone:
            continue
        line = text[span.start : span.end]
        if READ_MORE.match(line) or TAIL_LINE.match(line):
            return span.start
    return None


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def kept_spans(text: str) -> list[Span]:
    """The complement of the boilerplate: the article content, as spans of the original text."""
    kept, cursor = [], 0
    for drop in boilerplate_spans(text):
        if drop.start > cursor:
            kept.append(Span(cursor, drop.start))
        cursor = max(cursor, drop.end)
    if cursor < len(text):
        kept.append(Span(cursor, len(text)))
    return [span for span in kept if text[span.start : span.end].strip()]


def normalise(text: str) -> str:
    """Whitespace-normalised text (NBSP, tabs, line breaks → one space) for embedding and matching only."""
    return WHITESPACE.sub(" ", text.replace("\u00a0", " ")).strip()
