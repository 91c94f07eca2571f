"""Which country a place word stands for, from the packaged country data."""

from __future__ import annotations

from rag.places import country_terms, is_country, names_country
from rag.terms import term as content_term


def term(word: str) -> str:
    found = content_term(word)
    assert found is not None
    return found


def test_a_capital_and_a_demonym_stand_for_their_country() -> None:
    assert country_terms(term("Baghdad")) == {term("Iraq"), term("Iraqi")}
    assert term("Iran") in country_terms(term("Tehran"))
    assert {term("Saudi"), term("Arabia")} <= country_terms(term("Riyadh"))


def test_a_country_is_never_its_capital() -> None:
    assert term("Baghdad") not in country_terms(term("Iraqi"))
    assert term("Tehran") not in country_terms(term("Iran"))


def test_a_shared_word_stands_for_the_more_populous_country_and_generic_words_for_none() -> None:
    assert term("America") in country_terms(term("Washington"))  # the United States, not American Samoa
    assert term("Irish") in country_terms(term("Ireland"))  # not the United Kingdom's "Northern Ireland"
    assert term("Ireland") not in country_terms(term("British"))
    for generic in ("United", "States", "Republic", "Abu", "minister"):
        assert country_terms(term(generic)) == frozenset()
    assert country_terms(term("Tonga")) and not country_terms("ton")  # ISO codes ("TON") are no names


def test_a_country_is_told_from_a_city() -> None:
    assert is_country(term("Iran")) and is_country(term("Iranian"))
    assert not is_country(term("Tehran")) and not is_country(term("Erbil"))


def test_everyday_words_of_small_territories_stand_for_no_country() -> None:
    """The verb "see" is not the Holy See, "pointing" not King Edward Point, "national" not Brunei."""
    for word in ("see", "pointing", "king", "national", "peace", "man", "heard", "Jersey"):
        assert country_terms(term(word)) == frozenset() and not is_country(term(word)), word
    assert is_country(term("Vatican")) and is_country(term("Brunei")) and is_country(term("Monaco"))


def test_a_countrys_name_is_told_from_a_clubs_or_a_citys() -> None:
    for country in ("Iraq", "the United States", "U.S.", "England", "South Korea", "the Netherlands"):
        assert names_country(country), country
    for other in ("Manchester City", "Chelsea", "Tehran", "Ole Miss"):
        assert not names_country(other), other
