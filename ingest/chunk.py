"""Sentences and passages as spans of the original text.

Sentences are found with syntok inside each kept line (news paragraphs are lines), so a headline or a
dateline line never merges with the next paragraph. Passages are runs of whole sentences of about
`min_words`..`max_words` words inside one kept segment, so boilerplate between segments never leaks in.
"""

from __future__ import annotations

from collections.abc import Sequence

from syntok import segmenter

from ingest.clean import line_spans
from rag.models import Passage, Span

CONTINUATION = set("-–—,;:)")
TERMINALS = (".", "!", "?", "…", '"', "”")


def sentences(text: str, kept: Sequence[Span]) -> list[list[Span]]:
    """Per kept segment, the spans of its sentences, trimmed of surrounding whitespace."""
    segments = []
    for segment in kept:
        found: list[Span] = []
        for line in line_spans(text[segment.start : segment.end]):
            base = segment.start + line.start
            found.extend(_split_line(text[base : segment.start + line.end], base))
        if found:
            segments.append(found)
    return segments


def _split_line(line: str, base: int) -> list[Span]:
    spans = []
    for paragraph in segmenter.analyze(line):
        for sentence in paragraph:
            tokens = list(sentence)
            if tokens:
                spans.append(Span(base + tokens[0].offset, base + tokens[-1].offset + len(tokens[-1].value)))
    return _cover_line(line, base, _join_fragments(line, base, spans))


def _join_fragments(line: str, base: int, spans: list[Span]) -> list[Span]:
    """Undo splits that leave a fragment: a dateline like "Baghdad (IP)" before "- During ...",
    or a piece that continues in lower case."""
    joined: list[Span] = []
    for span in spans:
        piece = line[span.start - base : span.end - base]
        if joined:
            previous = line[joined[-1].start - base : joined[-1].end - base]
            continues = piece[:1] in CONTINUATION or piece[:1].islower()
            fragment = len(previous.split()) < 4 and not previous.rstrip().endswith(TERMINALS)
            if continues or fragment:
                joined[-1] = Span(joined[-1].start, span.end)
                continue
        joined.append(span)
    return joined


def _cover_line(line: str, base: int, spans: list[Span]) -> list[Span]:
    """Stretch each sentence to the next one's start, so closing quotes and brackets stay in a sentence."""
    covered = []
    for i, span in enumerate(spans):
        end = spans[i + 1].start if i + 1 < len(spans) else base + len(line)
        stretched = line[span.start - base : end - base].rstrip()
        covered.append(Span(span.start, span.start + len(stretched)))
    return covered


def passages(
    doc_id: str,
    text: str,
    segments: Sequence[Sequence[Span]],
    min_words: int = 60,
    max_words: int = 150,
    overlap: int = 1,
) -> list[Passage]:
    """Group sentences into passages; `text[p.start:p.end] == p.text` holds for every passage."""
    groups: list[list[Span]] = []
    for segment in segments:
        groups.extend(_group(text, list(segment), min_words, max_words, overlap))
    return [
        Passage(
            chunk_id=f"{doc_id}#{number:04d}",
            doc_id=doc_id,
            start=group[0].start,
            end=group[-1].end,
            text=text[group[0].start : group[-1].end],
            sentences=tuple(group),
        )
        for number, group in enumerate(groups)
    ]


def _group(text: str, sents: list[Span], min_words: int, max_words: int, overlap: int) -> list[list[Span]]:
    words = [len(text[s.start : s.end].split()) for s in sents]
    groups: list[list[int]] = []
    current: list[int] = []
    for i, count in enumerate(words):
        size = sum(words[j] for j in current)
        if current and size >= min_words and size + count > max_words:
            groups.append(current)
            carried = current[-overlap:] if overlap and len(current) > overlap else []
            # Overlap keeps context across a boundary; a long carried sentence would just duplicate text.
            current = carried if sum(words[j] for j in carried) <= max_words // 4 else []
        current.append(i)
    if current:
        fresh = [i for i in current if not groups or i > groups[-1][-1]]
        tail_words = sum(words[i] for i in fresh)
        if groups and fresh and tail_words < min_words // 3:
            groups[-1].extend(fresh)  # a scrap of a sentence or two reads better with its neighbour
        elif fresh:
            groups.append(current)
    return [[sents[i] for i in group] for group in groups]
