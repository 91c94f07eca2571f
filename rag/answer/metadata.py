"""Questions about an article rather than its events: who wrote it, which agency reported it, where it
was datelined, when it was published, under which licence it is.

They are answered from the metadata read off the article at ingest (byline, dateline, agency credit,
licence holder, or a jsonl row's fields), for the retrieved article that holds the question's topic words
(`described`), and cited at the span of the original text the value was read from. A value the article
does not carry is "the corpus does not say", never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rag.models import Document, Span
from rag.terms import content_terms, name_terms

ARTICLE = r"(?:article|report|story|piece|item|dispatch|news)"


class Field(StrEnum):
    AUTHOR = "author"
    AGENCY = "agency"
    PLACE = "place"
    DATE = "date"
    LICENCE = "licence"


ASKS: list[tuple[Field, re.Pattern[str]]] = [
    (
        Field.AUTHOR,
        re.compile(
            r"\bwho (?:wrote|authored|penned|is the author of)\b|\bwritten by\b|\bauthor\b|\bbyline\b"
            r"|\bwhose (?:name|byline) (?:is|appears)\b|\bwhich (?:journalist|reporter|writer) (?:wrote|filed)\b",
            re.I,
        ),
    ),
    (
        Field.AGENCY,
        re.compile(
            r"\b(?:which|what) (?:news )?(?:agency|agencies|outlet|wire|news service|media outlet|publication|"
            r"publisher)\b|\bwho (?:reported|published|carried|distributed)\b|\baccording to (?:which|what)\b"
            r"|\bcredited (?:to|as)\b|\bcontent (?:licen[sc]e|belongs)\b|\blicen[sc]ed by\b",
            re.I,
        ),
    ),
    (
        Field.PLACE,
        re.compile(
            r"\bdatelined?\b|\bfiled from\b|\bwhere was (?:the|this|that) " + ARTICLE + r" (?:filed|written|"
            r"datelined|reported from|dated)\b|\bwhich city (?:is|was) (?:the|this|that) " + ARTICLE + r"\b",
            re.I,
        ),
    ),
    (
        Field.DATE,
        re.compile(
            r"\b(?:when|(?:on )?what date|(?:on )?which day) (?:was|were) (?:the|this|that) "
            + ARTICLE
            + r"\b[^?]*\b(?:published|posted|written|filed|dated|released)\b"
            r"|\bpublication date\b|\bdate of publication\b",
            re.I,
        ),
    ),
    # After the agency: "Which agency's content licence is printed …" asks whose content it is.
    (
        Field.LICENCE,
        re.compile(
            r"\b(?:what|which) licen[sc]es?\b|\b(?:what|which) (?:version|type|kind|edition) of\b[^?]*\blicen[sc]e\b",
            re.I,
        ),
    ),
]
# A licence footer: "All Content by Mehr News Agency is licensed under a Creative Commons Attribution 4.0
# International License." The footer stays in the stored text, though passages leave it out; a full stop
# inside the name is a version number's.
LICENCE = re.compile(r"\blicen[sc]ed under (?:a |an |the )?(?P<name>(?:[^\n.]|\.(?=\d)){3,120}?\bLicen[sc]e)\b", re.I)


# "Which outlet did officials talk to?" asks about the events; "Which outlet reported the meeting?" about
# the article: an agency question must also speak of reporting or publishing.
AGENCY_CUE = re.compile(
    r"\b(?:report|publish|carr(?:y|ied)|credit|licen[sc]|cover|ran\b|run\b|articles?\b|story\b)", re.I
)


@dataclass(frozen=True)
class Found:
    """A metadata value of one document and the span of the original text it was read from."""

    field: Field
    value: str
    span: Span | None  # None: the value came with the document (jsonl), not from its text


def asked_field(question: str) -> Field | None:
    for field, pattern in ASKS:
        if pattern.search(question) and (field is not Field.AGENCY or AGENCY_CUE.search(question)):
            return field
    return None


# Words that ask about the article rather than say what it is about.
ABOUT_THE_ARTICLE = frozenset(
    content_terms(
        "article report story piece item dispatch news wrote write written author authored byline dateline "
        "datelined filed agency agencies outlet wire service publication publisher published publish posted "
        "released content licence license licensed credited printed end media city date day footer version cite"
    )
)


def described(question: str, documents: Sequence[Document]) -> tuple[Document, float] | None:
    """The article the question describes ("the report on Hakim's talks with the acting foreign minister"):
    the one that holds most of the question's other words, names counting double, with that share.

    The whole article counts, not one sentence: "the report on X" is identified by X anywhere in it. Ties go
    to the earlier document (the better retrieved).
    """
    named = name_terms(question)
    weights = {t: 2.0 if t in named else 1.0 for t in content_terms(question) if t not in ABOUT_THE_ARTICLE}
    total = sum(weights.values())
    if not documents or not total:
        return None
    shares = []
    for document in documents:
        held = set(content_terms(document.text))
        shares.append((sum(w for t, w in weights.items() if t in held) / total, document))
    share, document = max(shares, key=lambda pair: pair[0])  # max keeps the first of equals
    return document, share


def values(document: Document, field: Field) -> list[Found]:
    """The document's values for `field` (an agency question also gets the licence holder/publisher)."""
    raw: list[str | None] = {
        Field.AUTHOR: [document.author],
        Field.AGENCY: [document.agency, document.source],
        Field.PLACE: [document.place],
        Field.DATE: [document.date],
        Field.LICENCE: [m.group("name") for m in LICENCE.finditer(document.text)],
    }[field]
    found = []
    for value in dict.fromkeys(v for v in raw if v):
        found.append(Found(field, value, _locate(document.text, value)))
    return found


def _locate(text: str, value: str) -> Span | None:
    """Where the value stands in the text (case-insensitive: "Tehran" was read from "TEHRAN –")."""
    match = re.search(re.escape(value).replace(r"\ ", r"\s+"), text, re.I)
    return Span(match.start(), match.end()) if match else None
