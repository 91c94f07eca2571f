"""Answer items: the spans of a sentence that can answer a question of a given type.

A "who" question is answered by a person or organisation the question does not already name, a "when"
question by a date of the asked granularity, a "how many" question by a number, and so on. Names, dates
and numbers come from the entity mentions found at ingest (spaCy); granularity, durations and reasons
are read off those mentions' text and the sentence's wording.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.answer.question import PERSON_NOUNS, Asked, Expect, Granularity
from rag.models import Mention, Passage, Span
from rag.places import is_country, names_country, with_countries
from rag.terms import STOP_WORDS, WORD, content_terms, term

NAME_LABELS = frozenset({"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})
LABELS: dict[Expect, frozenset[str]] = {
    Expect.PERSON: frozenset({"PERSON"}),
    Expect.AGENT: frozenset({"PERSON", "ORG", "NORP", "GPE"}),
    Expect.PLACE: frozenset({"GPE", "LOC", "FAC"}),
    Expect.ORGANISATION: frozenset({"ORG", "NORP"}),
    Expect.DATE: frozenset({"DATE", "TIME"}),
    Expect.NUMBER: frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY"}),
    Expect.MONEY: frozenset({"MONEY"}),
    Expect.DURATION: frozenset({"DATE", "TIME"}),
    Expect.ENTITY: NAME_LABELS,
}
MONTHS = "january february march april may june july august september october november december"
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday"
MONTH = re.compile(r"\b(?:" + "|".join(MONTHS.split()) + r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?", re.I)
WEEKDAY = re.compile(r"\b(?:" + "|".join(WEEKDAYS.split()) + r")\b", re.I)
YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
DAY_NUMBER = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\b")
TIME_OF_DAY = re.compile(r"\b(?:morning|afternoon|evening|night|noon|midnight|dawn|a\.m\.|p\.m\.|\d{1,2}:\d\d)\b", re.I)
COUNT = (
    r"(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|hundred|several|a few|a couple of|many)"
)
DURATION = re.compile(
    r"\b" + COUNT + r"[- ](?:day|week|month|year|hour|minute|decade)s?\b(?! ago)(?! later)(?! earlier)", re.I
)
REASON = re.compile(
    r"\b(?:because|due to|owing to|as a result of|in order to|so that|so as to|attribut\w+ (?:it|them)? ?to|"
    r"for fear|aimed at|in response to|in protest|on the grounds|thanks to|caused by|amid|following|"
    r"to (?:ensure|make sure|avoid|prevent|help|allow|enable|promote|reduce|protect|keep|maintain|secure|bridge))\b",
    re.I,
)
# A game's result, "52-17" or "3–1"; three digits at most on each side, so a date (2023-10-01) is none.
SCORE = re.compile(r"(?<![\d/-])\d{1,3}\s?[-–]\s?\d{1,3}(?![\d/-])")
RELATIVE_TIME = re.compile(
    r"\b(?:soon|recently|shortly|earlier|later|(?:earlier|later|this|last|next) (?:week|month|year)|"
    r"(?:in )?(?:the )?coming (?:days|weeks|months)|within (?:days|weeks|months)|by the end of the year|"
    r"in (?:early|late|mid-?)\s?(?:" + "|".join(MONTHS.split()) + r"))\b",
    re.I,
)
PLACE_PREPOSITION = re.compile(r"\b(?:to|for|in|at|from|into|towards?|via|near)\s+(?:the\s+)?$", re.I)
CLAUSE_END = re.compile(r"[,;:.!?](?:\s|$)|\s[–—]\s")
# A whole numeral ("11", "1,200", "4.5"), never one digit of it: "November 11" once answered "how much time" with "1".
NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|"
    r"millions?|billions?|half)\b|\d+(?:[.,]\d+)*",
    re.I,
)


@dataclass(frozen=True)
class Item:
    """A span of the original text that answers the question's type, in document offsets."""

    span: Span
    text: str
    label: str  # the mention's entity label, ROLE for a person named by role, PATTERN for a matched phrase


SUBJECT_PRONOUN = re.compile(r"\b(?:he|she|they)\b", re.I)
ROLE = re.compile(r"\b(?:" + "|".join(PERSON_NOUNS) + r")\b", re.I)
MODIFIER = re.compile(r"^[A-Za-z][\w’'-]*$")
# "Raisi said that …" opening a sentence: the speaker, though the recogniser labelled no name there.
SPEAKER = re.compile(
    r"^\s*((?:[A-Z][\w’'-]+\s+){0,2}[A-Z][\w’'-]+)\s+(?:said|added|stated|noted|stressed|asserted|told|warned|"
    r"argued|insisted|explained|claimed|declared|emphasi[sz]ed|reiterated|urged|called)\b"
)
NOT_A_SPEAKER = frozenset(
    {"the", "he", "she", "it", "they", "this", "that", "these", "those", "we", "i", "you", "a", "an"}
)


def answer_items(asked: Asked, passage: Passage, sentence: Span, question_terms: Iterable[str]) -> list[Item]:
    """The new items of the asked type in one sentence of `passage`, in text order.

    A name is new when it shares no word with the question ("Ammar Hakim" is not new to a question about
    Hakim) nor with the countries of the places it names ("Iraq" is not new to "Where in Baghdad …?"; the
    capital of a country it names is: "Which Iraqi city …?" is answered by "Baghdad"); a date or number
    when not all its words are in the question ("July 20" is new to "in July?").
    """
    known = with_countries(frozenset(question_terms))
    found = []
    for item, is_name in _typed(asked, passage, sentence):
        terms = set(content_terms(item.text))
        if asked.wants_city and terms and all(is_country(t) for t in terms):
            continue  # "In which city …?" is not answered by "Iran"
        if asked.wants_country and not names_country(item.text):
            continue  # "Against which country …?" is not answered by "Manchester City"
        if asked.wants_thing and item.label == "PERSON":
            continue  # "What was the name of the TV show …?" is not answered by "Christopher"
        if terms and not (terms & known if is_name else terms <= known):
            found.append(item)
    return found


def anchors(passage: Passage, sentence: Span, question_terms: Iterable[str]) -> list[int]:
    """Offsets of the question's own words in the sentence, its places' countries included."""
    known = with_countries(frozenset(question_terms))
    return [sentence.start + offset for offset, word in _terms_at(passage.quote(sentence)) if word in known]


@lru_cache(maxsize=50_000)  # the sentences of often-retrieved passages are read on every question
def _terms_at(text: str) -> tuple[tuple[int, str | None], ...]:
    """Each word's offset in the text and its content term."""
    return tuple((m.start(), term(m.group())) for m in WORD.finditer(text))


def nearest(items: Sequence[Item], near: Sequence[int], passage: Passage | None = None) -> Item:
    """The item standing closest to the question's words: in "Hakim's visit to Cairo came amid Oman's
    mediation", the word "mediation" points at Oman, not at Hakim or Cairo. Given the passage, a place
    after "to", "for", "in" comes before one that is not ("left for Erbil", not "Minister … of Iran")."""
    if passage is not None:
        placed = [i for i in items if _after_preposition(passage, i.span)]
        items = placed or items
    if not near:
        return items[0]
    return min(items, key=lambda item: _distance(item.span, near))


def pronoun_referent(
    asked: Asked,
    passage: Passage,
    sentence: Span,
    own: Sequence[Item],
    previous: Span | None,
    question_terms: Iterable[str],
) -> Item | None:
    """For a who-question answered by "…, he broached the issue", the person the sentence before names.

    Used when a subject pronoun stands closer to the question's words than any name of the sentence; the
    referent is the first new person (or, for "who", organisation or country) of the previous sentence.
    """
    if asked.expect not in (Expect.PERSON, Expect.AGENT) or previous is None:
        return None
    near = anchors(passage, sentence, question_terms)
    pronouns = [
        Span(sentence.start + m.start(), sentence.start + m.end())
        for m in SUBJECT_PRONOUN.finditer(passage.quote(sentence))
    ]
    if not near or not pronouns:
        return None
    closest_pronoun = min(_distance(p, near) for p in pronouns)
    if own and min(_distance(i.span, near) for i in own) <= closest_pronoun:
        return None
    before = answer_items(asked, passage, previous, question_terms)
    people = [i for i in before if i.label == "PERSON"] or [i for i in before if i.label != "ROLE"]
    return people[0] if people else _speaker(passage, previous, question_terms)


def _speaker(passage: Passage, sentence: Span, question_terms: Iterable[str]) -> Item | None:
    """The name opening "Raisi said that …", when no mention there is one: unlabelled, or labelled a
    person or a person-shaped organisation; not a word of the question, not an organisation's name."""
    match = SPEAKER.match(passage.quote(sentence))
    if match is None or match.group(1).split()[0].lower() in NOT_A_SPEAKER or ORGANISATION_WORDS.search(match.group(1)):
        return None
    span = Span(sentence.start + match.start(1), sentence.start + match.end(1))
    for mention in _mentions_in(passage, sentence):
        overlaps = mention.start < span.end and span.start < mention.end
        if overlaps and mention.label != "PERSON" and not person_shaped(passage, mention):
            return None  # "Iran said …" is a country speaking
    terms = set(content_terms(match.group(1)))
    if not terms or terms & with_countries(frozenset(question_terms)):
        return None
    return Item(span, match.group(1), "PERSON")


def _distance(span: Span, near: Sequence[int]) -> int:
    return min(min(abs(a - span.start), abs(a - span.end)) for a in near)


# What a sentence holds of each kind depends on the kind asked and the sentence only, not on the question's
# words, and the same sentences come back question after question: read once, kept (a bounded memo).
_TYPED_MEMO: dict[tuple[object, ...], tuple[tuple[Item, bool], ...]] = {}
TYPED_MEMO_SIZE = 20_000  # about 1 KB each (measured over MultiHop-RAG questions): ≤ ~20 MB


def _typed(asked: Asked, passage: Passage, sentence: Span) -> tuple[tuple[Item, bool], ...]:
    """Items of the asked type, each with whether it is a name."""
    key = (
        passage.text,
        passage.start,
        sentence.start,
        sentence.end,
        asked.expect,
        asked.granularity,
        asked.wants_name,
        asked.wants_group,
    )
    found = _TYPED_MEMO.get(key)
    if found is None:
        if len(_TYPED_MEMO) >= TYPED_MEMO_SIZE:
            _TYPED_MEMO.clear()
        found = _TYPED_MEMO[key] = tuple(_read_typed(asked, passage, sentence))
    return found


def _read_typed(asked: Asked, passage: Passage, sentence: Span) -> list[tuple[Item, bool]]:
    if asked.expect is Expect.REASON:
        return [(i, False) for i in _pattern_items(REASON, passage, sentence, to_clause_end=True)]
    if asked.expect is Expect.SCORE:
        return [(i, False) for i in _pattern_items(SCORE, passage, sentence)]
    labels = LABELS.get(asked.expect)
    if labels is None:
        return []
    if asked.expect is Expect.ENTITY and not asked.wants_group:
        labels = labels - {"NORP"}
    inside = _mentions_in(passage, sentence)
    items = [_item(passage, m) for m in inside if m.label in labels or _placed(asked, passage, m)]
    if asked.expect is Expect.PERSON and not items:
        items = [_item(passage, m) for m in inside if person_shaped(passage, m)]
    if asked.expect in (Expect.PERSON, Expect.AGENT):
        items = [i for i in items if not (i.label == "PERSON" and _after_article(passage, i.span))]
    if asked.expect is Expect.DURATION:
        items = [i for i in items if DURATION.search(i.text)] + _pattern_items(DURATION, passage, sentence)
    elif asked.expect is Expect.DATE:
        items = [i for i in items if _has_granularity(i.text, asked.granularity) and not DURATION.fullmatch(i.text)]
        if asked.granularity is Granularity.ANY:
            items += _pattern_items(RELATIVE_TIME, passage, sentence)
    elif asked.expect is Expect.NUMBER and not items:
        # A number the recogniser did not label, unless it is a date's: the 11 of "November 11" counts nothing.
        dates = [m for m in inside if m.label in LABELS[Expect.DATE]]
        items = [
            i
            for i in _pattern_items(NUMBER_WORD, passage, sentence)
            if not any(d.start <= i.span.start and i.span.end <= d.end for d in dates)
        ]
    elif asked.expect in (Expect.PERSON, Expect.AGENT) and not asked.wants_name:
        items += _roles(passage, sentence)  # "senior Iranian officials", "the national security advisor"
    return [(i, i.label in NAME_LABELS) for i in _unique(items)]


def _mentions_in(passage: Passage, sentence: Span) -> list[Mention]:
    """The mentions inside a sentence; they are in text order, so a bisection finds the first."""
    mentions = passage.mentions
    first = bisect_left(mentions, sentence.start, key=_start)
    inside = []
    for mention in mentions[first:]:
        if mention.start >= sentence.end:
            break
        if mention.end <= sentence.end:
            inside.append(mention)
    return inside


def _start(mention: Mention) -> int:
    return mention.start


# Words that make a name an organisation's, whatever its shape.
ORGANISATION_WORDS = re.compile(
    r"\b(?:inc|corp|co|company|group|research|commission|court|department|agency|bank|university|association|"
    r"council|committee|party|office|ministry|news|media|times|post|journal|press|network|foundation|institute|"
    r"fund|capital|partners|holdings|labs?|technologies|systems|exchange|league|club|team|fc|authority|board|"
    r"services?|airlines|motors|movement|government|army|police|house|senate|congress|parliament)\b",
    re.I,
)


ARTICLE_BEFORE = re.compile(r"\bthe\s+$", re.I)


def person_shaped(passage: Passage, mention: Mention) -> bool:
    """An organisation-labelled name shaped like a person's: the small recogniser often takes a surname it
    does not know for a company ("Bankman-Fried" as ORG). One to three capitalised words, not an acronym,
    no organisation word, and no "the" before it: "the Switch" is a thing's name, never a person's."""
    if mention.label != "ORG":
        return False
    text = passage.quote(Span(mention.start, mention.end))
    words = text.split()
    return (
        1 <= len(words) <= 3
        and all(w[:1].isupper() and not w.isupper() for w in words)
        and not ORGANISATION_WORDS.search(text)
        and not _after_article(passage, Span(mention.start, mention.end))
    )


def _after_article(passage: Passage, span: Span) -> bool:
    """Whether "the" stands right before a name: "the Switch" is a thing's name, never a person's."""
    before = passage.text[max(0, span.start - passage.start - 5) : span.start - passage.start]
    return bool(ARTICLE_BEFORE.search(before))


def _placed(asked: Asked, passage: Passage, mention: Mention) -> bool:
    """A name the recogniser mislabels ("left for Erbil" as an organisation) is a place after "to", "for", "in"."""
    if asked.expect is not Expect.PLACE or mention.label not in ("ORG", "PERSON", "NORP"):
        return False
    return _after_preposition(passage, Span(mention.start, mention.end))


def _after_preposition(passage: Passage, span: Span) -> bool:
    before = passage.text[max(0, span.start - passage.start - 12) : span.start - passage.start]
    return bool(PLACE_PREPOSITION.search(before))


def _has_granularity(text: str, granularity: Granularity) -> bool:
    if granularity is Granularity.WEEKDAY:
        return bool(WEEKDAY.search(text))
    if granularity is Granularity.MONTH:
        return bool(MONTH.search(text))
    if granularity is Granularity.YEAR:
        return bool(YEAR.search(text))
    if granularity is Granularity.DAY:
        return bool(MONTH.search(text) or WEEKDAY.search(text)) and bool(DAY_NUMBER.search(text))
    if granularity is Granularity.TIME:
        return bool(TIME_OF_DAY.search(text))
    return True


def _roles(passage: Passage, sentence: Span) -> list[Item]:
    """A person named by role: the role noun with up to three modifiers before it."""
    text = passage.quote(sentence)
    return [
        Item(Span(sentence.start + start, sentence.start + end), text[start:end], "ROLE")
        for start, end in _role_spans(text)
    ]


@lru_cache(maxsize=50_000)
def _role_spans(text: str) -> tuple[tuple[int, int], ...]:
    spans = []
    for role in ROLE.finditer(text):
        start = role.start()
        words = text[: role.start()].split()
        for word in reversed(words[-3:]):
            bare = word.strip("“”\"'(")
            if not MODIFIER.match(bare) or bare.lower() in STOP_WORDS or bare.lower().endswith(("ed", "ing")):
                break
            start = text.rindex(word, 0, start)
        spans.append((start, role.end()))
    return tuple(spans)


def _pattern_items(
    pattern: re.Pattern[str], passage: Passage, sentence: Span, to_clause_end: bool = False
) -> list[Item]:
    """Matches of `pattern` in the sentence; with `to_clause_end`, each runs on to the end of its clause
    ("… postponed due to Saudi King Salman bin Abdulaziz entering the hospital")."""
    text = passage.quote(sentence)
    items = []
    for match in pattern.finditer(text):
        end = _clause_end(text, match.end()) if to_clause_end else match.end()
        items.append(_span_item(passage, Span(sentence.start + match.start(), sentence.start + end), "PATTERN"))
    return items


def _clause_end(text: str, start: int) -> int:
    found = CLAUSE_END.search(text, start)
    return found.start() if found else len(text.rstrip())


# A magnitude written onto a number: the recogniser's "27" of "27m viewers", "$2" of "$2bn".
MAGNITUDE = re.compile(r"(?:m|mn|bn|b|k|tn|trn)\b")
COUNTED_LABELS = frozenset({"CARDINAL", "MONEY", "QUANTITY"})


def _item(passage: Passage, mention: Mention) -> Item:
    end = mention.end
    if mention.label in COUNTED_LABELS and (magnitude := MAGNITUDE.match(passage.text, end - passage.start)):
        end = passage.start + magnitude.end()  # "27m", not "27": the short answer must not say 27 viewers
    return _span_item(passage, Span(mention.start, end), mention.label)


def _same_kind(short: str, fuller: str) -> bool:
    """Whether a fuller name can be the short one's: the same kind of name, or a person's (the recogniser
    takes surnames it does not know for companies, nationalities, places: "Bankman-Fried" ORG, "Rouhani"
    NORP), or a company's for a person-labelled one; never a place's or a people's name grown into a company's
    ("Washington" → "Washington Post", "Iranian" → "Iranian Foreign Ministry")."""
    return short == fuller or fuller == "PERSON" or (short == "PERSON" and fuller == "ORG")


NAME_EDGES = re.compile(r"^[^\w“\"]+|(?:['’]s)?[^\w.)”\"]*$")


def _name_item(passage: Passage, mention: Mention) -> Item:
    """A name without what the recogniser took along: "— Sam Altman" (a signature), "Travis Kelce's"."""
    text = passage.quote(Span(mention.start, mention.end))
    lead = NAME_EDGES.match(text)
    start = mention.start + (lead.end() if lead else 0)
    tail = NAME_EDGES.search(text, lead.end() if lead else 0)
    end = mention.start + (tail.start() if tail else len(text))
    while end > start and passage.text[end - passage.start - 1] == ")" and "(" not in passage.quote(Span(start, end)):
        end -= 1  # "(Sam Altman)" lost its "(" above
    return _span_item(passage, Span(start, end), mention.label)


def _span_item(passage: Passage, span: Span, label: str) -> Item:
    return Item(span, passage.quote(span), label)


def _unique(items: list[Item]) -> list[Item]:
    seen: set[tuple[int, int]] = set()
    kept = []
    for item in sorted(items, key=lambda i: (i.span.start, -i.span.end)):
        if any(s <= item.span.start and item.span.end <= e for s, e in seen):
            continue  # inside an item already kept: "Friday" within "this Friday morning"
        seen.add((item.span.start, item.span.end))
        kept.append(item)
    return kept


@dataclass(frozen=True)
class Naming:
    """Where a fuller form of a short name stands: the item, and the passage and sentence holding it."""

    item: Item
    passage: Passage
    sentence: Span


FULL_NAME_WORDS = 5  # a longer form beyond this is a phrase, not a name ("the 49ers quarterback Brock Purdy …")


def fuller_name(short: Item, doc_id: str, passages: Iterable[Passage]) -> Naming | None:
    """The first fuller form of a short name: news names a person in full once, then by surname ("Brock
    Purdy" … "Purdy's been at his worst"). Another mention whose words include all the short one's words
    counts: in the same article first; in another retrieved article only when it is the one fuller form
    they hold ("Bankman-Fried" → "Sam Bankman-Fried", but "Smith" stays "Smith" beside "Geno Smith" and
    "Will Smith").
    """
    words = set(content_terms(short.text))
    if short.label not in NAME_LABELS or not words:  # "US" has no content words: every name would hold them
        return None
    own: list[Naming] = []
    other: list[Naming] = []
    for passage in passages:
        for mention in passage.mentions:
            if not _same_kind(short.label, mention.label):
                continue
            text = passage.quote(Span(mention.start, mention.end))
            if not (words < set(content_terms(text)) and len(text.split()) <= FULL_NAME_WORDS):
                continue
            sentence = next((s for s in passage.sentences if s.start <= mention.start < s.end), None)
            if sentence is not None and mention.end <= sentence.end:
                naming = Naming(_name_item(passage, mention), passage, sentence)
                (own if passage.doc_id == doc_id else other).append(naming)
    if not own and len({" ".join(content_terms(n.item.text)) for n in other}) == 1:
        return other[0]  # in retrieval order: the best retrieved passage that names it
    return min(own, key=lambda n: n.item.span.start, default=None)
