"""Boilerplate removal by general rules, never shifting offsets."""

from __future__ import annotations

from pathlib import Path

from ingest.chunk import passages, sentences
from ingest.clean import boilerplate_spans, kept_spans, normalise
from ingest.loaders import RawDocument, load

ARTICLE = (
    "CAIRO – The minister met his counterpart on Monday. They discussed trade and energy at length.\n"
    "The talks will continue next month in the capital, officials said.\n"
)


def _kept_text(text: str) -> str:
    return " ".join(text[s.start : s.end] for s in kept_spans(text))


def test_licence_footer_is_dropped() -> None:
    text = ARTICLE + "All Content by Example News Agency is licensed under a Creative Commons Attribution 4.0 License."
    assert "licensed" not in _kept_text(text)
    assert "The talks will continue" in _kept_text(text)


def test_read_more_tail_is_dropped() -> None:
    text = ARTICLE * 2 + "\nRead more:\nAnother story about something else\nAnd one more headline\n"
    kept = _kept_text(text)
    assert "Read more" not in kept and "Another story" not in kept
    assert kept.count("The minister met") == 2


def test_comment_widget_and_spam_tail_is_dropped() -> None:
    text = ARTICLE * 2 + (
        "admin in: Why the talks failed?\nGreat article with insight ...\n"
        "https://spam.example/buy-now/ in: Cooperation is needed\nHello there, found your blog ...\n"
    )
    kept = _kept_text(text)
    assert "admin in:" not in kept and "spam.example" not in kept and "Hello there" not in kept
    assert kept.rstrip().endswith("officials said.")


def test_tail_markers_in_the_first_half_are_kept() -> None:
    """A "Read more:" near the top is a link inside the story, not the start of a tail."""
    text = "Read more: the minister's earlier visit.\n" + ARTICLE * 3
    assert boilerplate_spans(text) == []


def test_byline_first_line_is_dropped_but_offsets_stay() -> None:
    text = "Jane Doe\n" + ARTICLE
    kept = kept_spans(text)
    assert kept[0].start >= len("Jane Doe")
    assert text[kept[0].start : kept[-1].end].strip() == ARTICLE.strip()


def test_normalise_replaces_nbsp_and_collapses_space() -> None:
    assert normalise("a\u00a0 b\n\tc ") == "a b c"


def test_no_boilerplate_in_any_passage_of_the_corpus(corpus_dir: Path) -> None:
    forbidden = ("licensed under", "Creative Commons", "Read more", " in: ", "http", "Great article", "Hello there")
    for path in sorted(corpus_dir.iterdir()):
        (raw,) = list(load(path))
        assert isinstance(raw, RawDocument)
        for passage in passages(raw.doc_id, raw.text, sentences(raw.text, kept_spans(raw.text))):
            for phrase in forbidden:
                assert phrase not in passage.text, f"{phrase!r} leaked into {passage.chunk_id}"
