"""Yes/no and either-or answers: the model gives the verdict, the code quotes what it rests on.

A small model seldom copies a sentence word for word ("Evidence: [2]" is common), and "Yes" has no meaning an
embedding could check. So for a question that needs composing (`Asked.needs_composition`) the model is asked
only for its verdict and the numbers of the passages that show it (prompts/verdict.txt). The support is quoted
here, exactly: of the extractive scorer's best sentences it was shown (beside their neighbours), those of the
passages it named (any, when it named none), one per article (a comparison rests on two articles), two at most.
The polarity is the model's judgement, checked where numbers can check it: a "Yes" to "Did the visit last a
week?" over a quoted "three-day visit" is turned into "No" (`quantities`), and the model's verdict is listed in
`grounding` as unsupported. Elsewhere the answer shows what the model judged by.

A verdict is no answer when the model declines or names an option the question does not offer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import Evidence
from rag.answer.extractive import cite, quote
from rag.answer.grounding import span_in
from rag.answer.quantities import verdict_by_quantities
from rag.answer.question import analyse
from rag.answer.scoring import Candidate, score_sentences
from rag.models import Composed, GroundedSentence
from rag.terms import content_terms

SUPPORT_SENTENCES = 2  # one per article: "Do both the TechCrunch and the Verge articles say …?"
NUMBERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
LEAD = re.compile(r"^\s*(?:\**\s*(?:short )?answer\s*:?\**\s*)", re.I)
YES_NO = re.compile(r"^(yes|no)\b", re.I)
YES_OR_NO = ("Yes", "No")
DECLINED = re.compile(
    r"\bnot (?:in|stated in|shown in|given in) the (?:passages?|text|articles?)\b|^(?:unknown|unclear)\b", re.I
)


@dataclass(frozen=True)
class Verdict:
    says: str  # "Yes", "No", or the option of the question it chose
    passages: tuple[int, ...]  # the passage numbers it named (1-based, as the prompt numbered them)


def read_verdict(text: str, question: str) -> Verdict | None:
    """The verdict on the model's first line, or None when it declined or chose nothing the question offers."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    numbers = tuple(int(n) for group in NUMBERS.findall(text) for n in group.split(","))
    said = NUMBERS.sub("", LEAD.sub("", line)).strip().strip(" .!*\"'")
    if not said or DECLINED.search(said):
        return None
    yes_no = YES_NO.match(said)
    if yes_no:
        return Verdict(yes_no.group(1).capitalize(), numbers)
    option = set(content_terms(said))
    if " or " in question and option and option <= set(content_terms(question)):
        return Verdict(said, numbers)
    return None


def answer_with(
    verdict: Verdict, evidence: Evidence, shown: int, confidence: float, ranked: Sequence[Candidate] | None = None
) -> Composed | None:
    """The verdict, then the sentences it rests on as exact, cited quotes: of the `shown` best sentences the
    model read, those of the passages it named. None if there is nothing to quote. `ranked` is the scorer's
    ranking when the caller has it already (`Draft.ranked`)."""
    named = {evidence.hits[n - 1].passage.chunk_id for n in verdict.passages if 0 < n <= len(evidence.hits)}
    if ranked is None:
        ranked = score_sentences(evidence, analyse(evidence.question))
    support: list[Candidate] = []
    for candidate in ranked[:shown]:
        if (not named or candidate.hit.passage.chunk_id in named) and all(
            c.doc_id != candidate.doc_id for c in support
        ):
            support.append(candidate)
        if len(support) == SUPPORT_SENTENCES:
            break
    if not support:
        return None
    citations = cite(support)
    markers = tuple(c.marker for c in citations)
    score = round(max(c.score for c in citations), 4)
    says = verdict.says
    overruled: tuple[GroundedSentence, ...] = ()
    if says in YES_OR_NO:
        settled = verdict_by_quantities(evidence.question, [c.text for c in citations])
        if settled is not None and settled != says:
            says, overruled = settled, (GroundedSentence(verdict.says, False, markers, score),)
    text = " ".join([f"{says}.", *(quote(c.text, c.marker) for c in citations)])
    grounding = (*overruled, GroundedSentence(says, True, markers, score))
    span = next((found for c in citations if (found := span_in(says, c))), None)  # "Yes" stands nowhere
    return Composed(text, True, citations, grounding, confidence=confidence, answer_span=span)
