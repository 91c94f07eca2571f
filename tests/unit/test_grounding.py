"""Grounded citations with a fake model whose text we choose: markers are rebuilt and checked in code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest

from rag.answer import Evidence
from rag.answer.grounding import ground, invented_facts, split_sentences
from rag.answer.llm import LLMBackend
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import UpstreamUnavailable
from rag.models import EXTRACTIVE, FINAL, Composed, Token
from rag.retrieval import retrieve
from rag.store import Index
from tests.support import run_sync

QUESTION = "Who invited Hakim to Tehran?"
THRESHOLD = 0.55


@pytest.fixture(scope="module")
def settings(built_index: Path) -> Settings:
    """The model answers every question here (by default, only those no quote answers reach it)."""
    return Settings(index_dir=built_index, llm_questions="all")


def _evidence(question: str, settings: Settings, embedder: Embedder) -> Evidence:
    index = Index.open_current(settings.index_dir)
    found = retrieve(index, embedder, question, 5, settings)
    vectors = index.sentence_vectors([h.passage.chunk_id for h in found.hits])
    return Evidence(question, found.query_vector, found.hits, vectors)


@pytest.fixture(scope="module")
def evidence(settings: Settings, embedder: Embedder) -> Evidence:
    return _evidence(QUESTION, settings, embedder)


def _ground(text: str, evidence: Evidence, embedder: Embedder):  # type: ignore[no-untyped-def]
    return ground(text, evidence, embedder, THRESHOLD)


@pytest.mark.parametrize(
    "text",
    [
        "Mohammad Bagher Ghalibaf, Iran's Speaker of Parliament, formally invited Hakim. [2]",  # the model's marker
        "Mohammad Bagher Ghalibaf, Iran's Speaker of Parliament, formally invited Hakim. [9]",  # invented marker
        "Mohammad Bagher Ghalibaf, Iran's Speaker of Parliament, formally invited Hakim.",  # no marker
    ],
)
def test_supported_sentence_is_cited_whatever_the_model_marked(text: str, evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground(text, evidence, embedder)
    assert grounded.supported
    (citation,) = grounded.citations
    assert "Ghalibaf, formally invited him" in citation.text
    assert grounded.answer.endswith("formally invited Hakim. [1]") and "[9]" not in grounded.answer
    passage = next(h.passage for h in evidence.hits if h.passage.chunk_id == citation.chunk_id)
    assert passage.text[citation.start - passage.start : citation.end - passage.start] == citation.text
    assert grounded.sentences[0].grounded and grounded.sentences[0].markers == (1,)


def test_unsupported_claims_are_dropped_and_reported(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Ghalibaf, Iran's Speaker of Parliament, formally invited Hakim [1]. "
        "Hakim was born in Najaf in 1971 [2]. The visit cost 40 million dollars."
    )
    grounded = _ground(text, evidence, embedder)
    assert [s.grounded for s in grounded.sentences] == [True, False, False]
    assert "Najaf" not in grounded.answer and "million" not in grounded.answer
    assert len(grounded.citations) == 1


def test_nothing_supported_means_no_answer(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    text = "The Acting Minister of Foreign Affairs, Seyyed Ammar Hakim, invited him. [1]"
    grounded = _ground(text, evidence, embedder)
    assert not grounded.supported and grounded.answer == "" and grounded.citations == ()


def test_the_models_framing_is_not_a_claim(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    text = (
        "The answer is: The passage states that Mohammad Bagher Ghalibaf, Iran's Speaker of Parliament, "
        "formally invited Hakim. [2] The passages do not mention when the visit was planned. [1]"
    )
    grounded = _ground(text, evidence, embedder)
    assert grounded.answer.startswith("Mohammad Bagher Ghalibaf, Iran's Speaker") and grounded.answer.endswith("[1]")
    assert [s.grounded for s in grounded.sentences] == [True, False], "declining to answer cites nothing"
    assert len(grounded.citations) == 1


def test_a_refusal_alone_is_no_answer(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground(
        "The answer is: The passages do not provide any information about the invitation.", evidence, embedder
    )
    assert not grounded.supported and grounded.citations == ()


GHALIBAF = "Iran's Speaker of Parliament, Mohammad Bagher Ghalibaf, formally invited Hakim [3]."


def test_a_short_answer_leads_when_its_grounded_support_names_it(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground(f"Ghalibaf. {GHALIBAF}", evidence, embedder)
    assert grounded.answer.startswith("Ghalibaf. [1] Iran's Speaker")
    assert [s.grounded for s in grounded.sentences] == [True, True]
    span, (citation,) = grounded.answer_span, grounded.citations
    assert span is not None and span.text == "Ghalibaf" and span.marker == 1
    assert citation.text[span.start - citation.start : span.end - citation.start] == "Ghalibaf"


def test_a_short_answer_may_rest_on_a_neighbour_of_the_support_in_its_passage(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    text = "Mohammad Bagher Ghalibaf. Hakim carried the message from senior Iranian officials [1]."
    grounded = _ground(text, evidence, embedder)
    assert grounded.answer.startswith("Mohammad Bagher Ghalibaf. [2] Hakim carried")
    assert "formally invited him" in grounded.citations[1].text
    assert grounded.citations[0].chunk_id == grounded.citations[1].chunk_id


@pytest.mark.parametrize(
    "text",
    [
        f"Rouhani. {GHALIBAF}",  # a name the cited sentence does not hold
        "Yes. The visit cost 40 million dollars.",  # "Yes" with no grounded support
        "Ghalibaf. The passages do not say more.",  # a short answer with nothing after it that is evidence
    ],
)
def test_a_short_answer_without_grounded_support_naming_it_is_dropped(text: str, evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground(text, evidence, embedder)
    short = text.split(". ")[0] + "."
    assert grounded.sentences[0].sentence == short and not grounded.sentences[0].grounded
    assert not grounded.answer.startswith(short) and grounded.answer_span is None


@pytest.mark.parametrize("text", ["Ghalibaf [1]", "Answer: Ghalibaf\nEvidence: [1]", "Ghalibaf [5]", "Ghalibaf, [1]"])
def test_a_lone_short_answer_is_cited_to_the_retrieved_sentence_that_holds_it(text: str, evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground(text, evidence, embedder)
    (citation,) = grounded.citations
    assert grounded.answer == "Ghalibaf. [1]" and "Ghalibaf, formally invited him" in citation.text
    assert grounded.answer_span is not None and grounded.answer_span.text == "Ghalibaf"


@pytest.mark.parametrize(
    "text", ["Rouhani [1]", "Hakim [1]", "Tehran", "Ammar Hakim [1]", "Iraqi politician Ammar Hakim [1]"]
)
def test_a_lone_short_answer_nothing_holds_or_that_only_repeats_the_question_is_dropped(
    text: str, evidence, embedder
) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground(text, evidence, embedder)
    assert not grounded.supported and grounded.answer == "" and grounded.citations == ()


def test_a_short_answer_that_only_starts_with_yes_is_checked_like_any_other(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    text = "Yes, 40 people died. Hakim carried the message from senior Iranian officials [1]."
    grounded = _ground(text, evidence, embedder)
    assert not grounded.sentences[0].grounded and "40" not in grounded.answer


def test_demonyms_of_the_sources_names_are_known_other_extensions_are_not() -> None:
    source = "Oman's ruler met Iran's president. Ahmad spoke."
    assert invented_facts("The Omani ruler met the Iranian president.", source) == []
    assert invented_facts("The ruler met Ahmadinejad.", source) == ["Ahmadinejad"]


def test_a_yes_needs_a_grounded_support_sentence(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    grounded = _ground("Yes. Hakim carried the message from senior Iranian officials [1].", evidence, embedder)
    assert grounded.answer.startswith("Yes. [1] Hakim carried") and grounded.answer_span is None


def test_a_close_paraphrase_is_kept_when_the_cited_sentence_holds_its_words(evidence, embedder) -> None:  # type: ignore[no-untyped-def]
    """Under the similarity threshold (0.48 < 0.55), but the cited sentence holds 60 % of its content words."""
    kept = _ground("Parliament speaker Ghalibaf was the one who asked him to come.", evidence, embedder)
    assert kept.supported and "formally invited him" in kept.citations[0].text
    assert THRESHOLD - 0.12 <= kept.sentences[0].score < THRESHOLD
    dropped = _ground("The trip was at the formal request of the Speaker.", evidence, embedder)
    assert not dropped.supported  # as far under, sharing no content word with its nearest sentence


def test_invented_names_and_numbers_are_caught() -> None:
    source = "Bagheri Kani arrived in Baghdad for a two-day official visit on Thursday, 13, 2024."
    assert invented_facts("Bagheri Kani arrived in Baghdad on Thursday.", source) == []
    assert invented_facts("Bagheri Kani arrived in Erbil in 2023.", source) == ["Erbil", "2023"]


def test_marker_only_pieces_stay_with_their_sentence() -> None:
    assert split_sentences("First claim. [1] Second claim. [2]") == ["First claim. [1]", "Second claim. [2]"]


class FakeChat:
    """A chat model that returns chosen text, fails a chosen number of times, or writes slowly or stalls."""

    where = "fake"

    def __init__(self, text: str = "", failures: int = 0, delay: float = 0.0, stall_after: int | None = None) -> None:
        self.text, self.failures, self.calls = text, failures, 0
        self.delay, self.stall_after = delay, stall_after

    async def stream(self, messages: Sequence[object]) -> AsyncGenerator[str, None]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("refused")
        for number, word in enumerate(self.text.split(" ")):
            await asyncio.sleep(3600 if number == self.stall_after else self.delay)
            yield word + " "


def _compose(backend: LLMBackend, evidence: Evidence) -> list:  # type: ignore[type-arg]
    async def collect() -> list:  # type: ignore[type-arg]
        return [event async for event in backend.compose(evidence)]

    return run_sync(collect())


def test_backend_streams_the_extractive_answer_then_drafts_then_a_grounded_answer(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    chat = FakeChat("Iran's Speaker of Parliament, Mohammad Bagher Ghalibaf, formally invited Hakim. [3]", failures=1)
    events = _compose(LLMBackend("fake", chat, settings, embedder), evidence)
    assert chat.calls == 2, "one retry after a failure before the first token"
    quick, *drafts, final = events
    assert isinstance(quick, Composed) and quick.stage == EXTRACTIVE and quick.answered_by == "extractive"
    assert quick.answered and any("Ghalibaf" in c.text for c in quick.citations)
    assert drafts and all(isinstance(e, Token) and e.draft for e in drafts)
    assert isinstance(final, Composed) and final.stage == FINAL and final.answered_by == ""
    assert final.answered and "Ghalibaf" in final.citations[0].text


def test_by_default_the_model_composes_only_what_no_quote_answers(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    default = settings.model_copy(update={"llm_questions": "composition"})
    chat = FakeChat(SUPPORTED)
    *tokens, final = _compose(LLMBackend("fake", chat, default, embedder), evidence)
    assert chat.calls == 0 and not any(isinstance(e, Token) and e.draft for e in tokens)
    assert final.stage == FINAL and final.answered_by == "extractive" and "Ghalibaf" in final.answer
    yes_no = _evidence("Did Ghalibaf invite Hakim to Tehran?", settings, embedder)
    chat = FakeChat("Answer: Yes [1]")
    final = _compose(LLMBackend("fake", chat, default, embedder), yes_no)[-1]
    assert chat.calls == 1 and final.answered_by == "" and final.answer.startswith("Yes. ")
    assert final.citations and all(f"[{c.marker}]" in final.answer for c in final.citations)
    declined = _compose(LLMBackend("fake", FakeChat("Answer: Not in the passages."), default, embedder), yes_no)
    assert not declined[-1].answered and declined[-1].grounding[0].sentence.startswith("Answer: Not")


def test_the_extractive_stage_can_be_turned_off(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    off = settings.model_copy(update={"llm_extractive_first": False})
    events = _compose(LLMBackend("fake", FakeChat(SUPPORTED), off, embedder), evidence)
    assert [type(e) for e in events[:-1]] == [Token] * (len(events) - 1) and events[-1].stage == FINAL


def test_unreachable_model_is_a_clear_error_or_the_extractive_answer(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UpstreamUnavailable, match="the LLM at fake is unavailable: ConnectionError"):
        _compose(LLMBackend("fake", FakeChat(failures=5), settings, embedder), evidence)
    fallback = settings.model_copy(update={"fallback": "extractive"})
    events = _compose(LLMBackend("fake", FakeChat(failures=5), fallback, embedder), evidence)
    assert events[-1].answered and any("Ghalibaf" in c.text for c in events[-1].citations)
    assert events[-1].answered_by == "extractive"


def test_weak_evidence_never_reaches_the_model(settings, embedder) -> None:  # type: ignore[no-untyped-def]
    index = Index.open_current(settings.index_dir)
    question = "Which football team won the Iraqi league?"
    found = retrieve(index, embedder, question, 5, settings)
    vectors = index.sentence_vectors([h.passage.chunk_id for h in found.hits])
    weak = Evidence(question, found.query_vector, found.hits, vectors)
    chat = FakeChat("Al-Shorta won the league.")
    events = _compose(LLMBackend("fake", chat, settings, embedder), weak)
    assert chat.calls == 0 and not events[-1].answered


SUPPORTED = "Iran's Speaker of Parliament, Mohammad Bagher Ghalibaf, formally invited Hakim. [3]"


def test_the_timeout_bounds_each_wait_not_the_whole_answer(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    quick = settings.model_copy(update={"llm_timeout": 0.2})
    steady = FakeChat(SUPPORTED, delay=0.05)  # ~0.6 s in all, never 0.2 s between two pieces
    assert _compose(LLMBackend("fake", steady, quick, embedder), evidence)[-1].answered
    stalled = FakeChat(SUPPORTED, stall_after=3)
    with pytest.raises(UpstreamUnavailable, match="failed mid-answer: no answer within the timeout"):
        _compose(LLMBackend("fake", stalled, quick, embedder), evidence)


def test_a_slow_reader_does_not_time_the_model_out(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    backend = LLMBackend("fake", FakeChat(SUPPORTED), settings.model_copy(update={"llm_timeout": 0.1}), embedder)

    async def read_slowly() -> list:  # type: ignore[type-arg]
        events = []
        async for event in backend.compose(evidence):
            events.append(event)
            await asyncio.sleep(0.15)  # e.g. a client on a slow connection
        return events

    assert run_sync(read_slowly())[-1].answered


def test_the_short_prompt_keeps_the_answering_sentence_its_neighbours_and_the_hit_numbers(evidence) -> None:  # type: ignore[no-untyped-def]
    from rag.answer.llm import number_passages

    whole = number_passages(evidence)
    short = number_passages(evidence, best_sentences=2)
    assert whole.count("\n\n") == len(evidence.hits) - 1
    assert len(short.split()) < len(whole.split()) / 2
    assert "Mohammad Bagher Ghalibaf, formally invited him." in short
    assert "began his three-day visit to Iran" in short  # the sentence before: who "him" is
    for block in short.split("\n\n"):
        number = int(block[1 : block.index("]")])
        passage = evidence.hits[number - 1].passage
        body = block.split(") ", 1)[1]
        quoted = [" ".join(passage.quote(s).split()) for s in passage.sentences]
        assert all(q in quoted for q in _split_known(body, quoted)), block


def _split_known(body: str, sentences: list[str]) -> list[str]:
    """The body cut back into the passage's own sentences, in order (fails the test if any text is extra)."""
    found = []
    while body:
        match = next((s for s in sentences if body.startswith(s)), None)
        assert match is not None, body[:80]
        found.append(match)
        body = body[len(match) :].lstrip()
    return found


def test_a_comparison_the_text_settles_is_answered_in_code_without_the_model(settings, embedder) -> None:  # type: ignore[no-untyped-def]
    question = "Which visit was longer, Hakim's visit to Iran or Bagheri Kani's visit to Baghdad?"
    chat = FakeChat("Answer: Bagheri Kani's visit to Baghdad [2]")  # wrong, and never asked
    for questions in ("composition", "all"):
        chosen = settings.model_copy(update={"llm_questions": questions})
        final = _compose(LLMBackend("fake", chat, chosen, embedder), _evidence(question, settings, embedder))[-1]
        assert chat.calls == 0 and final.answered_by == "extractive" and final.stage == FINAL
        assert final.answer.startswith("Hakim's visit to Iran (three-day against two-day) — ")


def test_a_comparison_the_text_does_not_settle_goes_to_the_model(settings, embedder) -> None:  # type: ignore[no-untyped-def]
    question = "Which visit was longer, Hakim's visit to Iran or Zarif's visit to Baghdad?"
    chat = FakeChat("Answer: Hakim's visit to Iran [1]")
    events = _compose(LLMBackend("fake", chat, settings, embedder), _evidence(question, settings, embedder))
    assert chat.calls == 1, "the model judges what the stated values cannot"
    assert not any(isinstance(e, Composed) and e.stage == EXTRACTIVE for e in events), "no 'does not say' first"


def test_a_yes_no_question_the_stated_duration_settles_is_answered_without_the_model(settings, embedder) -> None:  # type: ignore[no-untyped-def]
    chat = FakeChat("Answer: Yes [1]")  # wrong: the visit lasted three days
    evidence = _evidence("Did Hakim's visit to Iran last a week?", settings, embedder)
    final = _compose(LLMBackend("fake", chat, settings, embedder), evidence)[-1]
    assert chat.calls == 0 and final.answered_by == "extractive" and final.answer.startswith("No — ")


class RecordingChat(FakeChat):
    """A fake model that keeps the messages it was sent."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.sent: list[Sequence[object]] = []

    async def stream(self, messages: Sequence[object]) -> AsyncGenerator[str, None]:
        self.sent.append(messages)
        async for piece in super().stream(messages):
            yield piece


def test_the_in_process_model_writes_a_short_answer_that_the_code_quotes(settings, embedder, evidence) -> None:  # type: ignore[no-untyped-def]
    from rag.answer.llm import answer_format

    assert answer_format(settings, "llamacpp") == "short" and answer_format(settings, "openai") == "sentence"
    chat = RecordingChat("Answer: Mohammad Bagher Ghalibaf [2]")
    *_, final = _compose(LLMBackend("llamacpp", chat, settings, embedder), evidence)
    system = chat.sent[0][0]
    assert "Reply with one line" in system.content and "copied word for word" not in system.content  # type: ignore[attr-defined]
    assert final.answered and final.answer.startswith("Mohammad Bagher Ghalibaf. [1]")
    (citation,) = final.citations
    assert "Mohammad Bagher Ghalibaf, formally invited him." in citation.text
    span = final.answer_span
    assert span is not None and citation.text[span.start - citation.start : span.end - citation.start] == span.text
    sentence = settings.model_copy(update={"llm_answer_format": "sentence"})
    chat = RecordingChat("Answer: Ghalibaf")
    _compose(LLMBackend("llamacpp", chat, sentence, embedder), evidence)
    assert "copied word for word" in chat.sent[0][0].content  # type: ignore[attr-defined]
