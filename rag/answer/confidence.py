"""How likely the corpus answers the question: a logistic model over signals that say why it might not,
and vetoes.

Signals, each justified by a failure seen in extractive QA:
- the best sentence's evidence score, similarity and term coverage (weak evidence);
- the question asks for a type (a person, a date, a number) and no retrieved sentence holds a new one;
- question terms that no document in the corpus contains, and names among them: the corpus covers the
  topic but not the asked detail (paraphrases use such words too, so they weigh by what was measured);
- question terms that none of the retrieved passages contains.
Vetoes, which no other signal outweighs:
- "Who is the *mayor* of …?" answered by a sentence that never names that office;
- an outcome asked for ("who won", "what was the result") where the evidence speaks of the future;
- a source the question cites that no document of the corpus comes from ("according to a Bloomberg
  article …" over a corpus without one);
- "How many *fans* attended …?" answered by a sentence that never says what its numbers count (a box
  score, "the first 45 minutes");
- a question placed in one country ("How many days did Hakim spend in Saudi Arabia?") answered by a
  sentence that names only other countries ("his three-day visit to Iran").

The weights are fitted on the tune splits of our questions and MultiHop-RAG's by `bench/calibrate.py`;
`RAG_MIN_ANSWER_SCORE` is a threshold on this probability (`rag eval --coverage` shows what it trades).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.answer import Evidence
from rag.answer.items import person_shaped
from rag.answer.question import PERSON_NOUNS, Asked, Expect
from rag.answer.scoring import Candidate, logistic
from rag.models import Span
from rag.places import country_terms, is_country
from rag.terms import WORD, content_terms, name_terms, stem, term, term_set

FEATURES = (
    "score",
    "semantic",
    "lexical",
    "untyped",
    "unknown_share",
    "unknown_name",
    "unseen_share",
)
# Offices, not just "a person": "Who is the *mayor* of Baghdad?" needs a sentence that says "mayor".
GENERIC_PERSON = set(
    "person people individual man woman figure member members player players official officials "
    "leader leaders visitor visitors guest guests host hosts counterpart".split()
)
ROLE = re.compile(r"\b(" + "|".join(n for n in PERSON_NOUNS if n not in GENERIC_PERSON) + r")\b", re.I)
# The role a question asks for, not one it mentions on the way ("… acknowledged after a *judge's* intervention"):
# a few words after "who is (the)", "who became", "what is the name of (the)", "which", "name the".
ASKED_ROLE = re.compile(
    r"^\s*(?:who (?:is|was|are|were|will be|became|becomes)|what (?:is|was|are|were) the names? of|which|what|"
    r"name the)\s+"
    r"(?:the\s+|a\s+|an\s+)?"
    r"(?:[\w'’.-]+\s+){0,3}?(?:" + "|".join(n for n in PERSON_NOUNS if n not in GENERIC_PERSON) + r")\b",
    re.I,
)
OUTCOME = re.compile(
    r"\b(?:won|win|wins|result|results|outcome|decided|concluded|agreed|signed|elected|happened)\b", re.I
)
FUTURE = re.compile(
    r"\b(?:will|expected|likely|upcoming|could|may|might|would|plans?|planned|scheduled|hopes?|whether|soon)\b", re.I
)
# The words after "how many" up to the first stop word name what is counted: "How many *fans* attended …",
# "how many *Iranian officials* …"; "how many *of* the cases" names nothing there.
HOW_MANY = re.compile(r"\bhow many\s+((?:[\w'’-]+\s*){1,3})", re.I)

# Fitted by `python bench/calibrate.py` on the tune splits (see README, "Calibrated abstention").
WEIGHTS = {
    "bias": -4.276,
    "score": 2.427,
    "semantic": 7.930,
    "lexical": -0.004,
    "untyped": -4.038,
    "unknown_share": 2.190,
    "unknown_name": -2.134,
    "unseen_share": 0.761,
}


@dataclass(frozen=True)
class Signals:
    score: float
    semantic: float
    lexical: float
    untyped: float  # 1: a typed question and no retrieved sentence holds a new item of its type
    unknown_share: float  # weighted share of question terms no document contains
    unknown_name: float  # 1: a name in the question that no document contains
    unseen_share: float  # weighted share of question terms none of the retrieved passages contains
    role_missing: float  # 1: "who is the <role>" and the answering sentence never names that role
    outcome_unsettled: float  # 1: an outcome asked for, and the answering sentence speaks of the future
    source_missing: float = 0.0  # 1: the question cites a source no document of the corpus comes from
    counted_missing: float = 0.0  # 1: "how many <things>" and the answering sentence never names those things
    elsewhere: float = 0.0  # 1: the answering sentence speaks of other countries than all the question names
    someone_else: float = 0.0  # 1: a person's number or date asked, and the sentence names only other people

    def vector(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]


def signals(evidence: Evidence, asked: Asked, candidates: list[Candidate]) -> Signals:
    best = candidates[0] if candidates else None
    terms = content_terms(evidence.question)
    named = name_terms(evidence.question)
    weights = {t: 2.0 if t in named else 1.0 for t in terms}
    total = sum(weights.values()) or 1.0
    unknown = set(evidence.unknown_terms)
    seen = frozenset().union(*(term_set(hit.passage.text) for hit in evidence.hits))
    return Signals(
        score=best.score if best else 0.0,
        semantic=best.semantic if best else 0.0,
        lexical=best.lexical if best else 0.0,
        untyped=float(asked.strict and not (best and best.items)),
        unknown_share=sum(w for t, w in weights.items() if t in unknown) / total,
        unknown_name=float(bool(named & unknown)),
        unseen_share=sum(w for t, w in weights.items() if t not in seen and t not in unknown) / total,
        role_missing=float(best is not None and _role_missing(asked, evidence.question, best.text)),
        outcome_unsettled=float(
            best is not None and bool(OUTCOME.search(evidence.question)) and bool(FUTURE.search(best.text))
        ),
        source_missing=float(source_missing(evidence, best)),
        counted_missing=float(best is not None and counted_missing(evidence.question, best.text)),
        elsewhere=float(best is not None and elsewhere(asked, evidence.question, best.text, _answer_words(best))),
        someone_else=float(best is not None and someone_else(asked, evidence, best)),
    )


def source_missing(evidence: Evidence, best: Candidate | None) -> bool:
    """Whether the question cites a source no document comes from, and the answering passage does not
    relay it either: over a corpus without a Bloomberg article, "according to a Bloomberg report …" is
    unanswerable, unless the passage itself says "Data from Apptopia, reported by Bloomberg, …"."""
    said = best.hit.passage.text if best is not None else ""
    return any(not _names(said, source) for source in evidence.unknown_publishers)


def _names(text: str, name: str) -> bool:
    words = r"\s+".join(map(re.escape, name.split()))
    return re.search(r"(?<!\w)" + words + r"(?!\w)", text, re.I) is not None


def _answer_words(best: Candidate) -> list[str]:
    """The words the answer itself takes from the sentence: "Egypt" answers "Which country …?". A role is no
    such answer: the "Iranian" of "Iranian Foreign Minister" is the country the sentence speaks of, and it
    does not answer "Who is Saudi Arabia's foreign minister?"."""
    answer = best.answer
    return [answer.text] if answer is not None and answer.label != "ROLE" else []


def _role_missing(asked: Asked, question: str, answer: str) -> bool:
    if asked.expect not in (Expect.PERSON, Expect.AGENT):
        return False
    focus = ASKED_ROLE.search(question)
    roles = {stem(m.group(1).lower()) for m in ROLE.finditer(focus.group(0))} if focus else set()
    said = {stem(m.group(1).lower()) for m in ROLE.finditer(answer)}
    return bool(roles) and not roles & said


def counted_missing(question: str, answer: str) -> bool:
    """Whether "how many <things>" is answered by a sentence naming none of those things: its number counts
    something else. "How many days …" is answered by "a three-day visit" (the stems match)."""
    found = HOW_MANY.search(question)
    if found is None:
        return False
    counted = []
    for word in WORD.findall(found.group(1)):
        if (name := term(word)) is None:
            break
        counted.append(name)
    return bool(counted) and not term_set(answer) & set(counted)


def elsewhere(asked: Asked, question: str, sentence: str, answers: Iterable[str] = ()) -> bool:
    """Whether a question placed in one country is answered by a sentence naming only others (by name,
    demonym or capital): "How many days did Hakim spend in Saudi Arabia?" is not answered by "his three-day
    visit to Iran". Only a country the question places things in counts ("in", "to", "at", "of" or
    "Iran's"), not one a description names on the way ("… previously defeated by Argentina …"); nor does a
    yes/no question, whose answer may well be "no, elsewhere". The answer's own words do not count:
    "Which country did Hakim visit after Iraq?" is answered by "Egypt"."""
    if asked.expect is Expect.YES_NO or asked.compares:
        return False
    placed = _countries_in(" ".join(m.group(1) or m.group(2) for m in PLACED.finditer(question)))
    if len(placed) != 1:
        return False
    text = sentence
    for answer in answers:
        text = text.replace(answer, " ")
    said = _countries_in(text)
    return bool(said) and not said & placed


# The values a person has: what they pay or are paid, count, score, do on a date, for how long.
PERSONAL_VALUES = (Expect.NUMBER, Expect.MONEY, Expect.DATE, Expect.DURATION, Expect.SCORE)
PERSONAL_PRONOUN = re.compile(r"\b(?:he|she|his|her|him|hers|they|their|them)\b", re.I)


def someone_else(asked: Asked, evidence: Evidence, best: Candidate) -> bool:
    """Whether a number, amount or date asked of a person the question names is read from a sentence that
    names only other people: "How much will the Wild pay new head coach John Hynes?" is not answered by "the
    remainder of Evason's contract … at just under $2M per season". The question's people are its names the
    evidence labels as persons; a pronoun in the sentence may stand for them, and then it is not vetoed. The
    sentence's people count by shape too: the recogniser often takes a surname for a company ("Evason’s")."""
    if asked.expect not in PERSONAL_VALUES:
        return False
    question = set(content_terms(evidence.question))
    passage = best.hit.passage
    inside = [m for m in passage.mentions if best.span.start <= m.start and m.end <= best.span.end]
    others = [
        set(content_terms(passage.quote(Span(m.start, m.end))))
        for m in inside
        if m.label == "PERSON" or person_shaped(passage, m)
    ]
    if not others or any(names & question for names in others):
        return False
    named = name_terms(evidence.question)
    people = {
        t
        for hit in evidence.hits
        for m in hit.passage.mentions
        if m.label == "PERSON"
        for t in content_terms(hit.passage.quote(Span(m.start, m.end)))
        if t in named
    }
    sentence = best.text
    return bool(people) and not term_set(sentence) & people and not PERSONAL_PRONOUN.search(sentence)


# "in Saudi Arabia", "to Iran", "of Baghdad", "Iraq's": where the question places what it asks about.
PLACED = re.compile(
    r"\b(?:in|to|at|of|from|inside|across)\s+(?:the\s+)?((?:[A-Z][\w'-]*\s+){0,2}[A-Z][\w'-]*)"
    r"|((?:[A-Z][\w'-]*\s+){0,2}[A-Z][\w'-]*)['’]s?\b"
)


# Compounds ("All-American") and words that as often name something else: a US state or a university's team
# ("Georgia tight end Brock Bowers"), a first name ("Jordan", "Chad"), a bird, a city's namesake.
COMPOUND = re.compile(r"[\w’'-]*-[\w’'-]+")
NOT_ONLY_A_COUNTRY = frozenset({"georgia", "jordan", "chad", "turkey", "jersey", "washington", "guinea"})


def _countries_in(text: str) -> set[frozenset[str]]:
    """The countries a text names, each as the set of its name's and demonym's terms."""
    terms = term_set(COMPOUND.sub(" ", text)) - NOT_ONLY_A_COUNTRY
    found = (frozenset(c for c in country_terms(t) | {t} if is_country(c)) for t in terms)
    return {country for country in found if country}


def vetoed(found: Signals) -> bool:
    """Whether a veto says the corpus does not answer, whatever the scores."""
    return bool(
        found.role_missing
        or found.outcome_unsettled
        or found.source_missing
        or found.counted_missing
        or found.elsewhere
        or found.someone_else
    )


def probability(found: Signals, weights: dict[str, float] = WEIGHTS) -> float:
    if vetoed(found):
        return 0.0
    return logistic(weights["bias"] + sum(weights[name] * v for name, v in zip(FEATURES, found.vector(), strict=True)))
