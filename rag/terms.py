"""Content terms of a text: lower-cased, stemmed words without stop words, for lexical matching."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer  # PyStemmer: the Snowball stemmers in C

WORD = re.compile(r"[A-Za-z0-9$]+(?:['’][A-Za-z]+)?")
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves according said says say told tell did does do many much
    whose whom one ones
    """.split()
)


_STEMMER = Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem: visit/visited/visits, urge/urged, mediate/mediation match."""
    return _STEMMER.stemWord(word)


def content_terms(text: str) -> list[str]:
    """Stemmed content words in order of appearance (possessives stripped: Iran's → iran)."""
    return list(_cached_terms(text))


@lru_cache(maxsize=50_000)  # the sentences of often-retrieved passages are read on every question
def _cached_terms(text: str) -> tuple[str, ...]:
    return tuple(t for t in map(term, WORD.findall(text)) if t is not None)


@lru_cache(maxsize=50_000)  # a retrieved passage's sentences come back question after question
def term_set(text: str) -> frozenset[str]:
    """The content terms of a text as a set, for membership tests."""
    return frozenset(_cached_terms(text))


@lru_cache(maxsize=200_000)
def term(word: str) -> str | None:
    """One word's content term, or None for a stop word or a short non-number."""
    lowered = word.lower()
    if lowered.endswith(("'s", "’s")):
        lowered = lowered[:-2]
    if lowered in STOP_WORDS or (len(lowered) <= 2 and not lowered.isdigit()):
        return None
    return stem(lowered)


def names(text: str) -> list[str]:
    """Capitalised words that are not sentence-initial: a cheap stand-in for named entities."""
    found: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", text.strip()):
        words = WORD.findall(sentence)
        found.extend(w for w in words[1:] if w[:1].isupper() and w.lower() not in STOP_WORDS)
    return found


def name_terms(text: str) -> set[str]:
    """The content terms of the names in a text ("Ammar Hakim met Al Sadeq" → ammar, hakim, al, sadeq)."""
    return {t for name in names(text) for t in content_terms(name)}
