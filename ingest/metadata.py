"""Document metadata read off the text by general news conventions: headline, dateline, agency, author."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.clean import byline, line_spans, normalise
from rag.models import Span

# "TEHRAN –", "Baghdad (IP) -", "CAIRO, May 3 (Reuters) —": a place, optional agency code, a dash.
DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Za-z'.-]+(?: [A-Z][A-Za-z'.-]+){0,2})"
    r"(?:,[^()\n–—-]{1,30})?\s*(?:\((?P<agency>[^()\n]{1,40})\))?\s*[–—-]{1,2}\s+"
)
LICENCE_HOLDER = re.compile(r"All (?:Content|content|material) by (?P<name>[^\n]{2,80}?) (?:is|are) licen[sc]ed")
# The attribution that closes a news sentence ("…, Tasnim reported."), or "reported by Reuters". Not "according
# to X", "told X" or "X reported" opening a sentence: those name people and companies ("Nike reported earnings")
# as often as outlets.
REPORTED_BY = re.compile(
    r"\breported by (?P<a>[A-Z][\w]+(?: [A-Z][\w]+){0,3})"
    r"|[,–—]\s*(?P<b>[A-Z][\w]+(?: [A-Z][\w]+){0,3}) reported[.,;]"
)
HEADLINE_MAX_WORDS = 20
TITLE_MAX_CHARS = 140


@dataclass(frozen=True)
class Metadata:
    title: str
    place: str | None
    agency: str | None
    author: str | None
    source: str | None


def read_metadata(text: str, first_sentence: Span | None) -> Metadata:
    """Best-effort metadata; every field but the title may be None."""
    author_line = byline(text)
    body_start = author_line.end if author_line else 0
    body = text[body_start:]
    dateline = DATELINE.match(body)
    place = dateline.group("place") if dateline else None
    agency = (dateline.group("agency") if dateline else None) or _reported_by(body[:600])
    holder = LICENCE_HOLDER.search(text)
    author = normalise(text[author_line.start : author_line.end]).removeprefix("By ") if author_line else None
    return Metadata(
        title=_title(text, body_start, first_sentence, dateline.end() if dateline else 0),
        place=place.title() if place and place.isupper() else place,
        agency=agency.strip() if agency else None,
        author=author,
        source=holder.group("name") if holder else None,
    )


def _reported_by(opening: str) -> str | None:
    match = REPORTED_BY.search(opening)
    return (match.group("a") or match.group("b")) if match else None


def _title(text: str, body_start: int, first_sentence: Span | None, dateline_length: int) -> str:
    """The headline when the article opens with one, else its first sentence without the dateline."""
    lines = [s for s in line_spans(text) if s.start >= body_start]
    if lines:
        first_line = normalise(text[lines[0].start : lines[0].end])
        looks_like_headline = len(lines) > 1 and len(first_line.split()) <= HEADLINE_MAX_WORDS
        if looks_like_headline and not first_line.endswith((".", "!", '"', "”")):
            return _shorten(first_line)
    if first_sentence is None:
        return "(untitled)"
    sentence = text[first_sentence.start : first_sentence.end]
    if first_sentence.start <= body_start + dateline_length:
        sentence = text[body_start + dateline_length : first_sentence.end]
    return _shorten(normalise(sentence).rstrip("."))


def _shorten(title: str) -> str:
    if len(title) <= TITLE_MAX_CHARS:
        return title
    return title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
