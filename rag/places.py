"""Which country a place word stands for: its name, its demonym, its capital ("Baghdad", "Iraqi" → Iraq).

The data is countryinfo's (MIT; 250 countries, shipped in the package, read once). Only distinctive words
count: "Saudi Arabia" gives saudi and arabia, "United States" gives nothing but its capital's and
demonym's words (united and states say nothing), and a word two countries share stands for the more
populous one ("American" for the United States, not American Samoa).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from rag.terms import content_terms

# Words of country names and capitals too common to stand for one country.
GENERIC = frozenset(
    content_terms(
        "united states state republic kingdom federation federal democratic people islamic arab emirates island "
        "islands north south east west northern southern eastern western central new great saint city d.c. "
        "union territory sultanate commonwealth principality independent abu al el port san santo fort "
        # Everyday words and first names from small territories' names and capitals: "see" (Holy See), "point"
        # and "king" (King Edward Point), "nation" and "peace" (Nation of Brunei, the Abode of Peace), "man" (Isle
        # of Man), "heard" (Heard Island), "jersey" (New Jersey is not the island).
        "abode air bass bottom cape channel coast cook cove department des diego edward fish garcia george grand "
        "hague hamilton heard helena isle isla jan john jos juan keel king land leon lest lia louis mal man mann "
        "marshall martin mata minor nation ocean opera orient out part peace peter pierre pleasant point prince "
        "province road saba see holy sint stanley tom town valley victoria virgin wallis christmas charlotte "
        "douglas jersey norfolk plymouth jamestown vella coco ai aux"
    )
)


@lru_cache(maxsize=1)
def _countries() -> tuple[tuple[int, frozenset[str], frozenset[str]], ...]:
    """Per country: its population, the terms of its name and demonym, and those plus its capital's."""
    rows = []
    for entry in (resources.files("countryinfo") / "data").iterdir():
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        names = _texts(data.get("name")) + _texts(data.get("demonym"))
        # Short other names only ("UAE", "Rossiya", "United States of America"): the long official ones
        # drag in other countries' words ("… Great Britain and Northern Ireland").
        # ISO codes are left out: "TON" (Tonga) and "PER" (Peru) are words.
        codes = set((data.get("ISO") or {}).values())
        names += [
            s
            for s in _texts(data.get("altSpellings"))
            if s.isascii() and len(s) >= 3 and s not in codes and len(content_terms(s)) <= 3
        ]
        national = _distinctive(names)
        everything = national | _distinctive(_texts(data.get("capital")))
        if everything:
            rows.append((int(data.get("population") or 0), national, everything))
    return tuple(rows)


def _texts(value: object) -> list[str]:
    """A field as a list of strings: countryinfo gives one or several (a country with two capitals)."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _distinctive(texts: list[str]) -> frozenset[str]:
    return frozenset(t for text in texts for t in content_terms(text) if t not in GENERIC and not t.isdigit())


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    owner: dict[str, int] = {}  # a word two countries share stands for the more populous ("American": the US)
    for population, _, everything in _countries():
        for t in everything:
            owner[t] = max(owner.get(t, 0), population)
    national: dict[str, set[str]] = {}
    for population, country, everything in _countries():
        unique = {t for t in everything if owner[t] == population}
        for t in unique:
            national.setdefault(t, set()).update(country & unique)
    return {t: frozenset(group - {t}) for t, group in national.items()}


def country_terms(term: str) -> frozenset[str]:
    """The country a place term stands for or lies in, by name and demonym: "baghdad" → iraq, iraqi;
    "iranian" → iran (never a capital: "tehran" is a new answer to a question about Iranians).

    A place the question names is not a new answer, and neither is the country it lies in ("Where in
    Baghdad …?" is not answered by "Iraq"); its capital is ("Which Iraqi city …?" is answered by Baghdad).
    """
    return _table().get(term, frozenset())


@lru_cache(maxsize=4096)  # asked once per question (and per sentence of a comparison), so once in effect
def with_countries(terms: frozenset[str]) -> frozenset[str]:
    """The terms and the countries their places stand for or lie in: {baghdad} → {baghdad, iraq, iraqi}."""
    return terms.union(*(country_terms(t) for t in terms))


@lru_cache(maxsize=1)
def _country_names() -> frozenset[str]:
    # The table's groups hold only name and demonym words, never a capital's.
    return frozenset(t for group in _table().values() for t in group)


def is_country(term: str) -> bool:
    """Whether a word names a country or its people ("iran", "iranian"), not a city ("tehran")."""
    return term in _country_names()


# Countries the table cannot name by a distinctive word: its "United States" gives none, the home nations of
# the United Kingdom are countries in sport ("his senior England debut"), and news names some territories
# as it names countries ("Gaza's economy").
COUNTRY_NAMES = frozenset(
    "united states|u.s.|us|usa|u.s.a.|america|united kingdom|uk|u.k.|britain|great britain|united arab emirates|"
    "uae|england|scotland|wales|northern ireland|gaza|gaza strip|west bank|palestine|hong kong|taiwan|kosovo".split("|")
)


def names_country(text: str) -> bool:
    """Whether a name is a country's ("Iraq", "the United States", "England"), not a city's or a club's
    ("Manchester City")."""
    name = text.strip().lower().removeprefix("the ").strip()
    return name in COUNTRY_NAMES or any(is_country(t) for t in content_terms(name))
