"""Answer items on hand-made passages: the new person, place, date or number of a sentence, by type."""

from __future__ import annotations

import re

from rag.answer.items import Item, anchors, answer_items, fuller_name, nearest, pronoun_referent
from rag.answer.question import analyse
from rag.models import Mention, Passage, Span
from rag.terms import content_terms


def passage(text: str, mentions: dict[str, str]) -> Passage:
    """One passage at offset 100 of its document; sentences split at ". "; mentions by their text."""
    base = 100
    spans, start = [], 0
    for match in re.finditer(r"(?<=\.)\s+|$", text):
        if match.start() > start:
            spans.append(Span(base + start, base + match.start()))
        start = match.end()
    found = tuple(
        Mention(base + m.start(), base + m.end(), label)
        for phrase, label in mentions.items()
        for m in re.finditer(re.escape(phrase), text)
    )
    return Passage(
        "d#0000", "d", base, base + len(text), text, tuple(spans), tuple(sorted(found, key=lambda m: m.start))
    )


def items(question: str, p: Passage, sentence: int = 0) -> list[str]:
    return [i.text for i in answer_items(analyse(question), p, p.sentences[sentence], content_terms(question))]


INVITED = passage(
    "Iran’s Speaker of Parliament, Mohammad Bagher Ghalibaf, formally invited him.",
    {"Iran": "GPE", "Parliament": "ORG", "Mohammad Bagher Ghalibaf": "PERSON"},
)


def test_a_person_the_question_does_not_name() -> None:
    assert "Mohammad Bagher Ghalibaf" in items("Who invited Hakim to Tehran?", INVITED)
    assert "Mohammad Bagher Ghalibaf" not in items("Who did Ghalibaf invite?", INVITED)  # shares a name


def test_the_item_nearest_the_question_words_answers() -> None:
    p = passage(
        "Hakim’s visit to Cairo came amid Oman’s mediation between Iran and Egypt.",
        {"Hakim": "PERSON", "Cairo": "GPE", "Oman": "GPE", "Iran": "GPE", "Egypt": "GPE"},
    )
    question = "Who mediated between Iran and Egypt?"
    terms = content_terms(question)
    found = answer_items(analyse(question), p, p.sentences[0], terms)
    assert nearest(found, anchors(p, p.sentences[0], terms)).text == "Oman"


def test_dates_at_the_asked_granularity() -> None:
    p = passage(
        "Kadhimi was scheduled to visit Saudi Arabia on Monday, July 20 before heading to Tehran.",
        {"Kadhimi": "PERSON", "Saudi Arabia": "GPE", "Monday, July 20": "DATE", "Tehran": "GPE"},
    )
    assert items("When was Kadhimi to visit Saudi Arabia?", p) == ["Monday, July 20"]
    assert items("On which day of the week was the visit?", p) == ["Monday, July 20"]
    assert items("In which month was the visit?", p) == ["Monday, July 20"]
    assert items("In what year was the visit?", p) == []  # a day and a month, but no year


def test_durations_are_not_dates_and_relative_times_are() -> None:
    p = passage(
        "Hakim began his three-day visit to Iran earlier this week.",
        {"Hakim": "PERSON", "three-day": "DATE", "Iran": "GPE", "earlier this week": "DATE"},
    )
    assert items("How long was Hakim's visit to Iran?", p) == ["three-day"]
    assert items("When did Hakim begin his visit?", p) == ["earlier this week"]


def test_numbers_and_reasons() -> None:
    p = passage(
        "His visit to Riyadh was postponed due to King Salman entering the hospital, with 20 billion at stake.",
        {"Riyadh": "GPE", "King Salman": "PERSON", "20 billion": "CARDINAL"},
    )
    assert items("How much was at stake?", p) == ["20 billion"]
    assert items("Why was his visit to Riyadh postponed?", p) == ["due to King Salman entering the hospital"]


def test_a_number_keeps_the_magnitude_written_onto_it() -> None:
    p = passage(
        "NBC drew an average of 27m viewers, and the network paid $2bn for the rights to 10 games.",
        {"NBC": "ORG", "27": "CARDINAL", "$2": "MONEY", "10": "CARDINAL"},
    )
    assert items("How many viewers did NBC draw?", p) == ["27m", "$2bn", "10"]  # not "27"; "10 games" has none
    assert items("How much did the network pay for the rights?", p) == ["$2bn"]


def test_a_role_answers_who_but_not_what_is_the_name() -> None:
    p = passage(
        "The prime minister was accompanied by the ministers of oil, as well as the national security advisor.",
        {},
    )
    assert "national security advisor" in items("Which official accompanied the prime minister?", p)
    assert items("What is the name of the national security advisor who went along?", p) == []


def test_a_pronoun_points_to_the_person_named_before() -> None:
    p = passage(
        "Sultan Haitham bin Tarik of Oman traveled to Egypt and Iran. "
        "During his visit to Tehran, he broached the issue of Egypt, which was welcomed by Ayatollah Khamenei.",
        {
            "Sultan Haitham bin Tarik": "PERSON",
            "Oman": "GPE",
            "Egypt": "GPE",
            "Iran": "GPE",
            "Tehran": "GPE",
            "Ayatollah Khamenei": "PERSON",
        },
    )
    question = "Who raised the issue of Egypt during a visit to Tehran?"
    asked, terms = analyse(question), content_terms(question)
    own = answer_items(asked, p, p.sentences[1], terms)
    referent = pronoun_referent(asked, p, p.sentences[1], own, p.sentences[0], terms)
    assert referent is not None and referent.text == "Sultan Haitham bin Tarik"


def test_every_item_is_an_exact_span_of_the_text() -> None:
    for question in ("Who invited Hakim?", "Where was it?", "When was it?"):
        for item in answer_items(analyse(question), INVITED, INVITED.sentences[0], content_terms(question)):
            assert INVITED.quote(item.span) == item.text


MET = passage(
    "The meeting was held in the office of the leader of the Iraqi National Wisdom Movement in Baghdad, Iraq.",
    {"Iraqi National Wisdom Movement": "ORG", "Baghdad": "GPE", "Iraq": "GPE"},
)


def test_the_country_of_a_place_the_question_names_is_not_new() -> None:
    assert items("Where in Baghdad did they meet?", MET) == []  # "Iraq" says nothing new
    assert items("In which Iraqi city did they meet?", MET) == ["Baghdad"]  # a capital is no mere alias
    assert "Iraq" in items("In which country did they meet?", MET)


def test_a_surname_is_answered_as_the_article_first_names_him() -> None:
    text = "Quarterback Brock Purdy threw four touchdowns. Purdy's been at his worst when pressured."
    p = passage(text, {"Brock Purdy": "PERSON", "Purdy": "PERSON"})
    short = next(i for i in answer_items(analyse("Which quarterback struggles when pressured?"), p, p.sentences[1], []))
    naming = fuller_name(short, "d", [p])
    assert short.text == "Purdy" and naming is not None
    assert naming.item.text == "Brock Purdy" and naming.sentence == p.sentences[0]
    # Another article's fuller form counts only when it is the one the retrieved articles hold.
    assert fuller_name(short, "another-article", [p]) == naming
    other = passage("Rookie Sean Purdy signed on Friday.", {"Sean Purdy": "PERSON"})
    assert fuller_name(short, "another-article", [p, other]) is None  # two Purdys: say just "Purdy"


def test_a_surname_the_recogniser_took_for_a_company_answers_who() -> None:
    p = passage(
        "The prosecution painted Bankman-Fried as someone who committed fraud, while FTX Inc said nothing.",
        {"Bankman-Fried": "ORG", "FTX Inc": "ORG"},
    )
    assert items("Which person committed fraud, according to the prosecution?", p) == ["Bankman-Fried"]
    assert items("Which company said nothing?", p) == ["Bankman-Fried", "FTX Inc"]  # no person-shaped guessing


def test_a_fuller_name_leaves_out_what_the_recogniser_took_along() -> None:
    text = "Investors want him back. — Sam Altman's post went viral, and Altman thanked them."
    p = passage(text, {"— Sam Altman's": "PERSON", "Altman": "PERSON"})
    short = answer_items(analyse("Who thanked the investors?"), p, p.sentences[1], [])[-1]
    naming = fuller_name(short, "d", [p])
    assert naming is not None and naming.item.text == "Sam Altman"
    assert text[naming.item.span.start - 100 : naming.item.span.end - 100] == "Sam Altman"


def test_a_city_question_is_not_answered_by_a_country() -> None:
    received = passage(
        "Khamenei received the Iraqi prime minister in Tehran, Iran.",
        {"Khamenei": "PERSON", "Tehran": "GPE", "Iran": "GPE"},
    )
    assert items("In which city did Khamenei receive the prime minister?", received) == ["Tehran"]
    assert items("Where did Khamenei receive the prime minister?", received) == ["Tehran", "Iran"]


def test_a_country_question_is_answered_by_a_country_only() -> None:
    moved = passage(
        "Palmer moved from Manchester City to Chelsea before his debut against Malta and the United States.",
        {"Palmer": "PERSON", "Manchester City": "GPE", "Chelsea": "GPE", "Malta": "GPE", "the United States": "GPE"},
    )
    assert items("Against which country did Palmer make his debut?", moved) == ["Malta", "the United States"]
    assert items("Where did Palmer play?", moved) == ["Manchester City", "Chelsea", "Malta", "the United States"]


def test_a_name_after_the_is_a_things_not_a_persons() -> None:
    console = passage(
        "As the sun sets on the Switch, Miyamoto presents Wonder.",
        {"Switch": "PERSON", "Miyamoto": "PERSON", "Wonder": "PERSON"},
    )
    assert items("Who presented the game?", console) == ["Miyamoto", "Wonder"]


def test_a_things_name_is_not_a_persons() -> None:
    show = passage(
        "Cain turned down the show Lois and Clark for Christopher.",
        {"Cain": "PERSON", "Lois and Clark": "WORK_OF_ART", "Christopher": "PERSON"},
    )
    assert items("What was the name of the TV show Cain turned down?", show) == ["Lois and Clark"]
    assert items("Which Republican did Cain back?", show) == ["Lois and Clark", "Christopher"]


def test_a_fine_or_a_fee_is_an_amount_of_money() -> None:
    fined = passage(
        "The Commission fined X 120 million euros after a 90-day probe of 3 cases.",
        {"120 million euros": "MONEY", "90-day": "DATE", "3": "CARDINAL"},
    )
    assert items("What fine did the Commission impose on X?", fined) == ["120 million euros"]
    assert items("How much did X have to pay?", fined) == ["120 million euros"]


def test_a_nationality_answers_a_what_question_only_when_it_asks_for_a_group() -> None:
    hospital = passage(
        "Saudi King Salman was admitted to a Riyadh hospital, and Shiite militias were on alert.",
        {"Saudi": "NORP", "Salman": "PERSON", "Riyadh": "GPE", "Shiite": "NORP"},
    )
    # "Saudi" is the adjective of the king the question names, not an illness.
    assert items("What illness sent King Salman to hospital?", hospital) == ["Riyadh"]
    assert "Shiite" in items("Which faith do the militias on alert follow?", hospital)


def test_no_fuller_name_for_a_name_without_words_or_of_another_kind() -> None:
    p = passage(
        "The US and the Washington Post disagreed. Washington said the US Senate would vote.",
        {"US": "GPE", "Washington Post": "ORG", "Washington": "GPE", "US Senate": "ORG"},
    )
    us = Item(Span(104, 106), "US", "GPE")
    washington = Item(Span(142, 152), "Washington", "GPE")
    assert p.quote(us.span) == "US" and p.quote(washington.span) == "Washington"
    assert fuller_name(us, "d", [p]) is None  # "US" has no content words: every name would "hold" them
    assert fuller_name(washington, "d", [p]) is None  # a place is not the newspaper named after it


def test_only_mentions_wholly_inside_the_sentence_are_items() -> None:
    """Mentions are found by bisection over their starts: one that begins in the sentence before, or runs
    past the sentence's end, is not the sentence's."""
    p = passage(
        "Bagheri met Hakim. Then Hakim met Ghalibaf. Ghalibaf left.",
        {"Bagheri": "PERSON", "Hakim": "PERSON", "Ghalibaf": "PERSON", "Hakim. Then": "PERSON", "Ghalibaf. G": "ORG"},
    )
    assert items("Who met the visitor?", p, 1) == ["Hakim", "Ghalibaf"]
    assert items("Who met the visitor?", p, 0) == ["Bagheri", "Hakim"]
    assert items("Who met the visitor?", p, 2) == ["Ghalibaf"]
    # Asked again, the memo gives the same items, and a question naming one leaves it out as before.
    assert items("Who met the visitor?", p, 1) == ["Hakim", "Ghalibaf"]
    assert items("Who did Hakim meet?", p, 1) == ["Ghalibaf"]


def test_an_unlabelled_number_is_read_whole_and_never_out_of_a_date() -> None:
    dated = passage("They stressed a calm environment ahead of the elections on November 11.", {"November 11": "DATE"})
    assert items("How much time is left before the elections?", dated) == []  # not "1", "1", nor "11"
    counted = passage("Police said 1,250 people marched and 11 were held.", {"Police": "ORG"})
    assert items("How many people marched?", counted) == ["1,250", "11"]


def test_a_score_is_a_games_result_and_never_a_date() -> None:
    game = passage("Georgia beat Ole Miss 52-17 on 2023-11-11 before a crowd of 92,746.", {"Georgia": "GPE"})
    assert items("What was the final score?", game) == ["52-17"]
    untold = passage("Georgia beat Ole Miss on 2023-11-11 before a crowd of 92,746.", {"Georgia": "GPE"})
    assert items("What was the final score?", untold) == []


def test_a_pronoun_points_to_the_speaker_the_recogniser_did_not_label() -> None:
    said = "Raisi said that problems in the region can be resolved. “The countries can establish peace,” he asserted."
    question = "Who asserted that the countries could establish peace?"
    asked, terms = analyse(question), content_terms(question)
    p = passage(said, {})
    referent = pronoun_referent(asked, p, p.sentences[1], [], p.sentences[0], terms)
    assert referent is not None and referent.text == "Raisi"
    # a country speaking is no person, and nor is a pronoun or an organisation
    for opening, mentions in [("Iran said", {"Iran": "GPE"}), ("The ministry said", {}), ("Reuters News said", {})]:
        p = passage(said.replace("Raisi said", opening), mentions)
        official = analyse("Which official asserted that?")
        assert pronoun_referent(official, p, p.sentences[1], [], p.sentences[0], terms) is None
