"""Metadata read off news conventions: headline, dateline place and agency, byline, licence holder."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import RawDocument, load
from ingest.pipeline import Prepared, prepare
from rag.config import Settings


def _prepared(path: Path) -> Prepared:
    (raw,) = list(load(path))
    assert isinstance(raw, RawDocument)
    prepared = prepare(raw, Settings())
    assert isinstance(prepared, Prepared)
    return prepared


def test_corpus_metadata(corpus_dir: Path) -> None:
    first = _prepared(corpus_dir / "000_377df34418484512.txt").document
    assert first.title.startswith("Iraqi politician Ammar Hakim met with Iranian Ambassador")
    assert (first.place, first.agency, first.source) == ("Tehran", "Tasnim", "Mehr News Agency")
    second = _prepared(corpus_dir / "001_f23d52426f8a3810.txt").document
    assert (second.place, second.agency) == ("Baghdad", "IP")
    last = _prepared(corpus_dir / "004_3432d813c02bbff3.txt").document
    assert last.author == "Eslam Mohamed" and not last.title.startswith("Eslam")


def test_headline_line_becomes_the_title(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Envoy arrives for talks in Baghdad\nThe envoy arrived on Thursday. Talks start today.\n")
    document = _prepared(path).document
    assert document.title == "Envoy arrives for talks in Baghdad"
    assert len(document.sha256) == 64 and document.length == len(path.read_text())
