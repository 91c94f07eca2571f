"""What a question asks for: the expected answer type, the date granularity, list or metadata intent.

Read off the question's wording only (wh-word, the noun after "which/what", auxiliaries), so it costs
microseconds and needs no model; the answer step then checks that a sentence holds a *new* item of that
type, one the question does not already name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Expect(StrEnum):
    PERSON = "person"
    AGENT = "agent"  # "who": a person, an organisation or a country acting
    PLACE = "place"
    ORGANISATION = "organisation"
    DATE = "date"
    NUMBER = "number"
    MONEY = "money"
    DURATION = "duration"
    SCORE = "score"  # a game's result: "52-17"
    REASON = "reason"
    LABEL = "label"
    ENTITY = "entity"  # "which platform …": a name of any kind is likely, but a common noun may answer too
    YES_NO = "yes_no"
    ANY = "any"


class Granularity(StrEnum):
    WEEKDAY = "weekday"
    DAY = "day"  # a calendar date: "July 20"
    MONTH = "month"
    YEAR = "year"
    TIME = "time"  # time of day
    ANY = "any"


PERSON_NOUNS = (
    "person people individual man woman official officials minister ministers leader leaders president "
    "politician politicians ambassador diplomat envoy king queen sultan ruler premier speaker spokesman "
    "spokesperson chief head founder ceo executive player players coach singer actor actress author writer "
    "journalist reporter commander judge lawyer prosecutor candidate member members figure counterpart "
    "advisor adviser deputy director visitor visitors guest guests host hosts mayor governor senator "
    "secretary chancellor prince emir sheikh cleric ayatollah teacher doctor referee interviewer owner manager "
    "producer brother sister son daughter father mother wife husband"
).split()
ORGANISATION_NOUNS = (
    "agency agencies newspaper newspapers outlet outlets organisation organization organisations "
    "organizations movement movements company companies group groups party parties team teams "
    "institution government governments ministry network publication publisher firm firms militia "
    "militias coalition alliance channel station"
).split()
PLACE_NOUNS = (
    "city cities country countries capital capitals place places region regions nation nations town "
    "province provinces state states venue location continent border territory kingdom kingdoms "
    "monarchy emirate emirates republic"
).split()
LABEL_NOUNS = "term word phrase name label title stance position slogan nickname description message".split()
# What a "what …" question asks for when it is not a name: a topic, a role, an aim, a quality. A sentence
# holding a name is no better an answer to "What role did they think Iraq could play?" ("a bridge").
ABSTRACT_NOUNS = (
    "kind kinds sort sorts type types makes made subject subjects topic topics issue issues matter matters theme "
    "themes role roles principle principles behaviour behavior bond bonds relationship relations ties goal goals "
    "aim aims purpose objective objectives concern concerns step steps measure measures action actions idea ideas "
    "view views point points argument arguments claim claims advice warning warnings demand demands request "
    "requests proposal proposals plan plans policy policies strategy approach reform reforms change changes "
    "problem problems challenge challenges risk risks threat threats impact effect effects consequence "
    "consequences benefit benefits advantage advantages situation condition conditions atmosphere mood "
    "feeling feelings emotion emotions quality qualities factor factors details mistake mistakes"
).split()

# Up to two modifiers between "which" and its noun ("which Gulf country", "which senior Iranian figure"):
# capitalised words, adjectives by their ending, a few common ones. "What illness sent King Salman …"
# and "What did Tehran's president denounce?" ask for a thing, not a person.
MODIFIER = (
    r"(?:(?-i:[A-Z][\w'’.-]*)|[a-z]+(?:ian|ese|ish|ean|al|ic|ern|ior|ous|ive|ary|ing)|senior|top|new|former|other|"
    r"main|chief|two|three|four|five|first|second|last|same|high-ranking)"
)
AUXILIARY = r"(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could|should|might|may)"
# "Between the X report and the Y report, was there a change …?": a yes/no question after a leading clause.
LEADING_CLAUSE = (
    r"|^\s*(?:between|after|before|following|since|while|given|considering|according to)\b[^?]*,\s*(?:and\s+)?"
    r"(?:is|are|was|were|does|do|did|has|have|had|will|would|can|could)\s[^,]*\?\s*$"
)
_NOUN = r"(?:" + MODIFIER + r"\s+){0,2}"
WHICH = r"\b(?:which|what)\s+" + _NOUN


def _nouns(words: list[str]) -> str:
    return r"(?:" + "|".join(words) + r")\b"


# "the name of the …" asks for the kind of name its noun says ("the company": an organisation; "the
# cryptocurrency exchange": a name of any kind), not always a person's.
NAME_OF = r"\bnames? of (?:the |a |an |this |that |these |those |his |her |their |its )?(?:[\w'’-]+\s+){0,2}?"

# The first of these nouns after "the name of" says the kind: "the name of the company whose CEO …" asks for a company.
NAME_OF_KIND = re.compile(
    NAME_OF
    + r"(?:(?P<person>"
    + "|".join(PERSON_NOUNS)
    + r")|(?P<organisation>"
    + "|".join(ORGANISATION_NOUNS)
    + r")|(?P<place>"
    + "|".join(PLACE_NOUNS)
    + r"))\b",
    re.I,
)
NAME_OF_ANY = re.compile(r"^\s*what (?:is|was|are|were) the names? of\b", re.I)

RULES: list[tuple[re.Pattern[str], Expect]] = [
    (re.compile(r"^\s*(?:how long|for how long|how many (?:days|weeks|months|years|hours))\b", re.I), Expect.DURATION),
    (
        re.compile(
            r"\bhow much (?:money|did .* cost|does .* cost|is .* worth)|\bwhat (?:price|cost)\b|"
            r"\bwhat (?:is|was|were|are) the (?:total |estimated |annual )?(?:value|worth|price|cost)\b|"
            # "What fine did the Commission impose?", "How much will the Wild pay him?": an amount of money.
            r"\b(?:what|which) (?:[a-z]+ )?(?:fines?|fees?|salary|salaries|wages?|fares?|bail|ransom|payout)\b|"
            # "What total penalty did the judge order Trump to pay?": a penalty paid is money, a penalty kick is not.
            r"\b(?:what|which) (?:[a-z]+ )?(?:penalty|penalties|damages|compensation|settlement)\b[^?]*"
            r"\b(?:pay|pays|paid|owe|owes|owed)\b|"
            r"\bhow much\b[^?]*\b(?:pay|pays|paid|earn|earns|earned|charge|charges|charged|spend|spent|raise|"
            r"raised|invest|invested|owe|owes|owed)\b",
            re.I,
        ),
        Expect.MONEY,
    ),
    (
        re.compile(r"\b(?:what|which) (?:was|is|were) the (?:final )?scores?\b|\b(?:by|with) what scores?\b", re.I),
        Expect.SCORE,
    ),
    (
        re.compile(
            r"\bhow (?:many|much|old)\b|\b(?:what|which) (?:number|percentage|share|amount|proportion)\b|"
            r"\bat what age\b|\bwhat age\b",
            re.I,
        ),
        Expect.NUMBER,
    ),
    (
        re.compile(r"^\s*when\b|\b(?:what|which) (?:year|date|day|month|time|weekday)\b|\bin which year\b", re.I),
        Expect.DATE,
    ),
    (re.compile(r"^\s*where\b|" + WHICH + _nouns(PLACE_NOUNS), re.I), Expect.PLACE),
    (
        re.compile(
            r"^\s*why\b|\bwhat (?:was|is|were) the (?:reasons?|causes?)\b|\bfor what reasons?\b|"
            r"^\s*(?:[^,?]+,\s*)?what (?:led to|leads to|prompted|prompts|caused|causes|drove|drives|motivated)\b",
            re.I,
        ),
        Expect.REASON,
    ),
    (re.compile(WHICH + _nouns(ORGANISATION_NOUNS), re.I), Expect.ORGANISATION),
    (
        re.compile(
            r"^\s*who (?:is|was) (?:the|a|an)\b|^\s*who (?:is|was|are|were)\b.*\b" + _nouns(PERSON_NOUNS),
            re.I,
        ),
        Expect.PERSON,
    ),
    (
        re.compile(r"^\s*[Ww]ho (?:is|was) (?!the\b|a\b|an\b)[A-Z]"),
        Expect.ANY,
    ),  # "Who is Alireza Moezzi?": a description
    (re.compile(r"^\s*(?:who|whose)\b|\bwhom\b|" + WHICH + _nouns(PERSON_NOUNS), re.I), Expect.AGENT),
    (
        re.compile(r"\bwhat (?:did|does|do) .* (?:call|describe|label|term)\b|" + WHICH + _nouns(LABEL_NOUNS), re.I),
        Expect.LABEL,
    ),
    (
        re.compile(
            r"^\s*(?:is|are|was|were|does|do|did|can|could|has|have|had|will|would|should|shall)\b" + LEADING_CLAUSE,
            re.I,
        ),
        Expect.YES_NO,
    ),
    # "What makes Oman well placed …?" asks for a quality, "What subjects did they go over?" for a topic: no
    # name answers those.
    (
        re.compile(r"^\s*(?:which|what) (?!" + AUXILIARY + r"\b|" + _nouns(ABSTRACT_NOUNS) + r")\w+", re.I),
        Expect.ENTITY,
    ),
]
# "Which came first: A or B?", "Whose visit lasted longer: …": a comparison of two things the text states apart.
COMPARISON = re.compile(
    r"\b(?:which|whose|who|what)\b[^?]*\b(?:longer|shorter|earlier|later|first|last|more|fewer|less|larger|bigger|"
    r"smaller|higher|lower|older|newer)\b[^?]*\bor\b",
    re.I,
)
# The two options of a comparison follow a colon or a comma: "…lasted longer: A or B?", "Which came first, A or B?"
OPTIONS = re.compile(r"[:,]\s*(?P<first>[^:,]+?)\s+or\s+(?P<second>[^:,]+?)\s*\??\s*$", re.I)
COUNTRY_CUE = re.compile(r"\b(?:which|what) (?:" + _NOUN + r")?(?:country|countries|nation|nations)\b", re.I)
CITY_CUE = re.compile(r"\b(?:which|what) (?:" + _NOUN + r")?(?:city|cities|town|towns|capital|capitals)\b", re.I)
# A nationality or a group ("Iraqi", "Shiite") answers "which group …", not "what illness" or "what office":
# there it is the adjective of the asked thing ("Saudi King Salman", "Iraqi Prime Minister").
GROUP_CUE = re.compile(
    r"\b(?:nationality|nationalities|citizenship|religion|religions|religious|faith|ethnic|ethnicity|community|"
    r"communities|group|groups|militia|militias|movement|movements|party|parties|tribe|tribes|sect|sects|people)\b",
    re.I,
)
# A thing's name, not a person's: "What was the name of the TV show …?" is not answered by "Christopher".
THING_CUE = re.compile(
    r"\b(?:which|what|name of the|name of a)\s+(?:[\w'’-]+\s+){0,2}?(?:show|shows|series|film|films|movie|movies|"
    r"book|books|novel|song|songs|album|albums|programme|program|podcast|game|games|app|apps|product|products|"
    r"device|devices|phone|model|operation|ship|vessel|hurricane|storm|bill|law|treaty|deal|award|prize|festival|"
    r"exhibition|tournament|competition|brand|drug|vaccine|disease|illness|documentary|painting|feature|platform)\b",
    re.I,
)
NAME_CUE = re.compile(r"\bnames? of\b|\b(?:his|her|their|its) names?\b", re.I)
PERSON_ONLY = re.compile(WHICH + _nouns(PERSON_NOUNS), re.I)
# Deeds only a person does: "Who directed Super Mario Bros. Wonder?" is not answered by "Nintendo Switch".
PERSON_DEED = re.compile(
    r"^\s*who\s+(?:directed|wrote|penned|authored|composed|painted|sang|starred|coached|married|founded|co-founded|"
    r"invented)\b",
    re.I,
)

GRANULARITY: list[tuple[re.Pattern[str], Granularity]] = [
    (
        re.compile(r"\bday of the week\b|\bwhich (?:week)?day\b|\bwhat weekday\b|\bon what day\b", re.I),
        Granularity.WEEKDAY,
    ),
    (re.compile(r"\b(?:what|which|in what|in which) month\b", re.I), Granularity.MONTH),
    (re.compile(r"\b(?:what|which|in what|in which) year\b", re.I), Granularity.YEAR),
    (re.compile(r"\b(?:what|which) (?:date|exact date)\b|\bon what date\b", re.I), Granularity.DAY),
    (re.compile(r"\b(?:what|which) time\b|\bwhat time of day\b|\bat what hour\b", re.I), Granularity.TIME),
]

LIST_CUE = re.compile(
    r"\b(?:name|list) (?:the|all|every|some)\b|"
    + WHICH
    + r"(?:"
    + "|".join(w for w in PERSON_NOUNS + ORGANISATION_NOUNS + PLACE_NOUNS if w.endswith("s") or w == "people")
    + r")\b|\bwhat are the\b|\bwho are the\b|\ball the\b",
    re.I,
)


@dataclass(frozen=True)
class Asked:
    """The question and what a right answer must contain."""

    text: str
    expect: Expect
    granularity: Granularity = Granularity.ANY
    wants_list: bool = False
    wants_name: bool = False  # "what is the name of …": a role ("the national security advisor") is no answer
    wants_city: bool = False  # "in which city …": a country ("Iran") is no answer
    wants_group: bool = False  # "which faith …": a nationality or group ("Shiite") may answer a "what" question
    wants_thing: bool = False  # "the name of the TV show …": a person's name is no answer
    wants_country: bool = False  # "against which country …": a club or a city ("Manchester City") is no answer

    @property
    def typed(self) -> bool:
        """Whether sentences holding an item of the asked type (a name, a date, a number …) come first."""
        return self.expect not in (Expect.ANY, Expect.YES_NO, Expect.LABEL)

    @property
    def needs_composition(self) -> bool:
        """Whether the answer must be composed, not quoted: yes/no, either-or and comparisons."""
        return self.expect is Expect.YES_NO or bool(COMPARISON.search(self.text))

    @property
    def compares(self) -> bool:
        """Whether it asks which of two options it names is longer, earlier, more …: no single quote answers
        that. "Who was the last person to see her or talk to her?" names no two options."""
        return self.expect is not Expect.YES_NO and bool(COMPARISON.search(self.text) and OPTIONS.search(self.text))

    @property
    def strict(self) -> bool:
        """Whether an answer without an item of the asked type is no answer at all."""
        return self.typed and self.expect is not Expect.ENTITY


def analyse(question: str) -> Asked:
    expect = _name_of(question) or next((kind for pattern, kind in RULES if pattern.search(question)), Expect.ANY)
    if expect is Expect.AGENT and (PERSON_ONLY.search(question) or PERSON_DEED.search(question)):
        expect = Expect.PERSON
    granularity = Granularity.ANY
    if expect is Expect.DATE:
        granularity = next((g for pattern, g in GRANULARITY if pattern.search(question)), Granularity.ANY)
    wants_name = bool(NAME_CUE.search(question))
    wants_city = expect is Expect.PLACE and bool(CITY_CUE.search(question))
    wants_group = expect is Expect.ENTITY and bool(GROUP_CUE.search(question))
    wants_thing = expect is Expect.ENTITY and bool(THING_CUE.search(question))
    return Asked(
        question,
        expect,
        granularity,
        bool(LIST_CUE.search(question)),
        wants_name,
        wants_city,
        wants_group,
        wants_thing,
        expect is Expect.PLACE and bool(COUNTRY_CUE.search(question)),
    )


def _name_of(question: str) -> Expect | None:
    """The kind of name "the name of the …" asks for, or None when the question says no "name of"."""
    found = NAME_OF_KIND.search(question)
    if found and found.lastgroup:
        return Expect(found.lastgroup)
    return Expect.ENTITY if NAME_OF_ANY.search(question) else None
