"""Questions about the article itself: which field is asked, and where its value stands in the text."""

from __future__ import annotations

import pytest

from rag.answer.metadata import Field, asked_field, described, values
from rag.models import Document


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Who wrote the article about Kadhimi's visit to Iran?", Field.AUTHOR),
        ("Whose byline appears on the Kadhimi piece?", Field.AUTHOR),
        ("Which agency reported Hakim's meeting with the ambassador?", Field.AGENCY),
        ("Which news agency published the report on the phone call?", Field.AGENCY),
        ("Where was the article on the phone call datelined?", Field.PLACE),
        ("When was the article about Hakim's visit published?", Field.DATE),
        ("Which newspaper did Egyptian officials talk to?", None),  # about the events, not the article
        ("Which outlet did the officials speak to?", None),
        ("Who invited Hakim to Tehran?", None),
        ("Under what licence is the content of the report published?", Field.LICENCE),
        ("What version of the Creative Commons licence does the footer cite?", Field.LICENCE),
        ("Which agency's content licence is printed at the end of the report?", Field.AGENCY),  # whose content
    ],
)
def test_asked_field(question: str, field: Field | None) -> None:
    assert asked_field(question) is field


TEXT = "Eslam Mohamed\nTEHRAN – Iraqi Prime Minister Mustafa al-Kadhimi visited Iran, Tasnim reported."


def document(**fields: str | None) -> Document:
    return Document("d", TEXT, "title", "d.txt", "hash", **fields)  # type: ignore[arg-type]


def test_values_are_cited_where_they_were_read() -> None:
    (author,) = values(document(author="Eslam Mohamed"), Field.AUTHOR)
    assert author.span is not None and TEXT[author.span.start : author.span.end] == "Eslam Mohamed"
    (place,) = values(document(place="Tehran"), Field.PLACE)
    assert place.span is not None and TEXT[place.span.start : place.span.end] == "TEHRAN"  # read case-blind


def test_an_agency_question_also_names_the_publisher() -> None:
    found = values(document(agency="Tasnim", source="Mehr News Agency"), Field.AGENCY)
    assert [f.value for f in found] == ["Tasnim", "Mehr News Agency"]
    assert found[1].span is None  # not in this text: it came with the document


def test_the_licence_is_read_from_the_footer_the_passages_leave_out() -> None:
    footer = "All Content by Mehr is licensed under a Creative Commons Attribution 4.0 International License."
    licensed = Document("d", TEXT + "\n" + footer, "title", "d.txt", "hash")
    (licence,) = values(licensed, Field.LICENCE)
    assert licence.value == "Creative Commons Attribution 4.0 International License"
    assert licence.span is not None and licensed.text[licence.span.start : licence.span.end] == licence.value
    assert values(document(), Field.LICENCE) == []


def test_a_missing_value_gives_nothing() -> None:
    assert values(document(), Field.DATE) == []


def article(doc_id: str, text: str) -> Document:
    return Document(doc_id, text, "title", f"{doc_id}.txt", "hash")


def test_the_described_article_holds_the_question_s_topic_words() -> None:
    call = article("call", "TEHRAN — President Raisi and Prime Minister al-Kadhimi spoke in a phone call on Saturday.")
    visit = article("visit", "Kadhimi visited Tehran, where he met Raisi and Khamenei.")
    found = described("Who is the author of the report on Raisi's phone call with al-Kadhimi?", [visit, call])
    assert found is not None and found[0] is call and found[1] == 1.0  # "author", "report" say nothing
    other = described("Who wrote the novel War and Peace?", [visit, call])
    assert other is not None and other[1] < 0.5  # no article here is about it: a low share, so no answer
