"""What every LLM backend shares: prompts, a bounded streaming call with one retry, and grounding.

A backend module only says how to reach its model (a `ChatStream`); this module does the rest, the same
way for all of them. Before any model is called, the extractive evidence check runs: when retrieval found
nothing that could answer, the service says so without letting a model improvise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import replace
from typing import Protocol

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

from rag.answer import Evidence
from rag.answer.condense import carry_names, checked_rewrite
from rag.answer.extractive import NOT_IN_CORPUS, ExtractiveBackend, draft
from rag.answer.grounding import ground
from rag.answer.question import analyse
from rag.answer.scoring import Candidate, score_sentences
from rag.answer.verdict import answer_with, read_verdict
from rag.config import PROMPTS_DIR, Settings
from rag.embeddings import Embedder
from rag.errors import UpstreamUnavailable
from rag.models import EXTRACTIVE, AnswerEvent, Composed, GroundedSentence, Token, Turn

log = logging.getLogger(__name__)

ATTEMPTS = 2  # one retry, and only while nothing has been streamed yet
# The best sentences, with neighbours, that an in-process model reads (~230 tokens): on 2 cores a 1.5B model reads
# ~100 prompt tokens/s, so eight whole passages (~1,550 tokens) cost 15 s before its first word. On our tune
# questions (RAG_LLM_QUESTIONS=all, the 1.5B, short answers) 1 / 2 / 4 sentences scored 0.433 / 0.450 / 0.475 in
# 2.0 / 3.4 / 5.1 s p50: 2 is the knee (README, "Local LLM").
LOCAL_EVIDENCE_SENTENCES = 2
# A yes/no or either-or verdict reads the best sentences with their neighbours. On 40 yes/no questions of
# MultiHop-RAG's tune half the 1.5B judged 21 right with the 2 best (3.3 s p50), 20 with the 4 best (5.6 s), and
# 16 with 4 but no neighbours; always answering "Yes" would have scored 25.
VERDICT_SENTENCES = 2


class ChatStream(Protocol):
    """A chat model reached somehow: messages in, text pieces out as they are generated."""

    where: str

    def stream(self, messages: Sequence[BaseMessage]) -> AsyncGenerator[str, None]: ...


def load_prompt(*names: str) -> ChatPromptTemplate:
    """A chat prompt from files in prompts/: the first is the system message, the second the user's."""
    roles = ("system", "human")
    return ChatPromptTemplate.from_messages(
        [(role, (PROMPTS_DIR / f"{name}.txt").read_text()) for role, name in zip(roles, names, strict=False)]
    )


# The system prompt of each answer format (RAG_LLM_ANSWER_FORMAT): "short" asks for the few words and a passage
# number only, and the code quotes the sentence that holds them (grounding.py, a lone short answer). A copied
# support sentence is ~30 tokens more to decode (~2 s for the 1.5B here) and was no more often right.
ANSWER_PROMPTS = {"sentence": "system", "short": "short"}


def answer_format(settings: Settings, backend: str) -> str:
    wanted = settings.llm_answer_format
    return wanted if wanted != "auto" else "short" if backend == "llamacpp" else "sentence"


def answer_prompt(settings: Settings, backend: str) -> ChatPromptTemplate:
    return load_prompt(ANSWER_PROMPTS[answer_format(settings, backend)], "user")


def evidence_sentences(settings: Settings, backend: str) -> int:
    """How many best sentences the model reads (RAG_LLM_EVIDENCE_SENTENCES; -1: a few for an in-process model,
    whole passages for a server)."""
    wanted = settings.llm_evidence_sentences
    return wanted if wanted >= 0 else LOCAL_EVIDENCE_SENTENCES if backend == "llamacpp" else 0


def number_passages(evidence: Evidence, best_sentences: int = 0, ranked: Sequence[Candidate] | None = None) -> str:
    """The evidence as the model reads it: numbered passages, each with its article's title, source and date.

    With `best_sentences` (see LOCAL_EVIDENCE_SENTENCES for why), only the passages holding the extractive
    scorer's best sentences are given, and of them only those sentences and their neighbours. Numbers stay
    those of `evidence.hits`, which the grounding check maps citations back to. `ranked` is the scorer's
    ranking when the caller has it already (`Draft.ranked`).
    """
    picked = _best_sentences(evidence, best_sentences, ranked) if best_sentences > 0 else None
    blocks = []
    for i, hit in enumerate(evidence.hits):
        passage = hit.passage
        if picked is None:
            text = passage.text
        elif i in picked:
            text = " ".join(passage.quote(passage.sentences[j]) for j in sorted(picked[i]))
        else:
            continue
        document = evidence.documents.get(passage.doc_id)
        about = [hit.title]
        if document is not None:
            about += [document.source or document.agency or "", document.date or ""]
        blocks.append(f"[{i + 1}] ({', '.join(a for a in about if a)}) {' '.join(text.split())}")
    return "\n\n".join(blocks)


def _best_sentences(evidence: Evidence, count: int, ranked: Sequence[Candidate] | None) -> dict[int, set[int]]:
    """Per hit (by position), the sentences to show: the `count` best by the extractive score, and neighbours."""
    position = {id(hit): i for i, hit in enumerate(evidence.hits)}
    picked: dict[int, set[int]] = {}
    if ranked is None:
        ranked = score_sentences(evidence, analyse(evidence.question))
    for candidate in ranked[:count]:
        sentences = candidate.hit.passage.sentences
        at = next(j for j, s in enumerate(sentences) if s.start <= candidate.span.end - 1 < s.end)
        around = {j for j in (at - 1, at, at + 1) if 0 <= j < len(sentences)}
        picked.setdefault(position[id(candidate.hit)], set()).update(around)
    return picked


class LLMBackend:
    def __init__(self, name: str, chat: ChatStream, settings: Settings, embedder: Embedder) -> None:
        self.name = name
        self.chat = chat
        self.settings = settings
        self.embedder = embedder
        self.extractive = ExtractiveBackend(settings, embedder)
        self.answer_prompt = answer_prompt(settings, name)
        self.verdict_prompt = load_prompt("verdict", "user")  # yes/no and either-or: rag/answer/verdict.py
        self.evidence_sentences = evidence_sentences(settings, name)
        self.condense_prompt = load_prompt("condense")

    async def standalone_question(self, question: str, history: tuple[Turn, ...]) -> str:
        """Ask the model to rewrite the follow-up, checked in code; without the model, carry the names."""
        conversation = "\n".join(f"{turn.role}: {turn.content}" for turn in history[-6:])
        messages = self.condense_prompt.format_messages(history=conversation, question=question)
        try:
            rewritten = "".join([piece async for piece in self._generate(messages)])
        except UpstreamUnavailable as error:
            log.warning("condensing the follow-up without the LLM: %s", error.message)
            return carry_names(question, history)
        standalone = checked_rewrite(rewritten, question, history)
        log.info("follow-up %r made standalone as %r (model wrote %r)", question, standalone, rewritten.strip())
        return standalone

    async def compose(self, evidence: Evidence) -> AsyncIterator[AnswerEvent]:
        gate = draft(evidence, 1)  # its ranking serves the prompt and the verdict too: scored once
        confidence = gate.confidence
        if confidence < self.settings.min_answer_score:
            yield Token(NOT_IN_CORPUS)
            yield Composed(NOT_IN_CORPUS, False, (), confidence=confidence)
            return
        composing = analyse(evidence.question).needs_composition
        if gate.settled or (self.settings.llm_questions == "composition" and not composing):
            # A quote answers it: on our held-out questions the extractive answer is right more often than the
            # model's, and it comes at once (README, "Local LLM"). A comparison or a yes/no question that the
            # values the text states settle is answered in code (comparison.py, quantities.py): no model reads
            # numbers more reliably.
            async for event in self.extractive.compose(evidence):
                yield replace(event, answered_by="extractive") if isinstance(event, Composed) else event
            return
        if self.settings.llm_extractive_first:  # shown at once; the model's checked answer replaces it
            async for event in self.extractive.compose(evidence):
                if isinstance(event, Composed) and event.answered:  # "does not say" would only be taken back
                    yield replace(event, answered_by="extractive", stage=EXTRACTIVE)
        if composing:  # a verdict quotes the best of the sentences shown (rag/answer/verdict.py)
            prompt, passages = self.verdict_prompt, number_passages(evidence, VERDICT_SENTENCES, gate.ranked)
        else:
            prompt, passages = self.answer_prompt, number_passages(evidence, self.evidence_sentences, gate.ranked)
        messages = prompt.format_messages(passages=passages, question=evidence.question)
        text = ""
        try:
            async for piece in self._generate(messages):
                text += piece
                yield Token(piece, draft=True)
        except UpstreamUnavailable as error:
            if self.settings.fallback != "extractive" or text:
                raise
            log.warning("answering without the LLM (RAG_FALLBACK=extractive): %s", error.message)
            async for event in self.extractive.compose(evidence):
                yield replace(event, answered_by="extractive") if isinstance(event, Composed) else event
            return
        yield await (
            self._verdict(text, evidence, gate.ranked, confidence) if composing else self._grounded(text, evidence)
        )

    async def _verdict(self, text: str, evidence: Evidence, ranked: Sequence[Candidate], confidence: float) -> Composed:
        """A yes/no or either-or verdict, quoted with the sentences of the passages the model named."""
        verdict = read_verdict(text, evidence.question)
        answer = answer_with(verdict, evidence, VERDICT_SENTENCES, confidence, ranked) if verdict else None
        if answer is not None:
            return answer
        declined = (GroundedSentence(text.strip().splitlines()[0] if text.strip() else "", False, (), 0.0),)
        return await self._unsupported(evidence, declined)

    async def _grounded(self, text: str, evidence: Evidence) -> Composed:
        threshold = self.settings.grounding_threshold
        grounded = await asyncio.to_thread(ground, text, evidence, self.embedder, threshold)
        if grounded.supported:
            span = grounded.answer_span
            return Composed(grounded.answer, True, grounded.citations, grounded.sentences, answer_span=span)
        return await self._unsupported(evidence, grounded.sentences)

    async def _unsupported(self, evidence: Evidence, grounding: tuple[GroundedSentence, ...]) -> Composed:
        """No checked answer: the extractive one (RAG_UNSUPPORTED_ANSWER=extractive) or "the corpus does not say"."""
        if self.settings.unsupported_answer == "extractive":
            async for event in self.extractive.compose(evidence):
                if isinstance(event, Composed):
                    return replace(event, grounding=grounding, answered_by="extractive")
        return Composed(NOT_IN_CORPUS, False, (), grounding)

    async def _generate(self, messages: Sequence[BaseMessage]) -> AsyncIterator[str]:
        """Stream the model's text, retrying once before the first piece.

        The timeout bounds each wait for the next piece, not the whole answer: a slow but steady model may
        write a long answer, a stalled one fails fast. Pieces are never yielded inside a timeout scope, or
        the deadline could fire while our caller holds the piece and cancel the caller instead.
        """
        last_error: Exception | None = None
        for attempt in range(1, ATTEMPTS + 1):
            started = False
            pieces = self.chat.stream(messages)
            try:
                while (piece := await self._next(pieces)) is not None:
                    started = True
                    yield piece
                return
            except Exception as error:  # any client error: connection refused, HTTP 5xx, timeout
                if started:
                    message = f"the LLM at {self.chat.where} failed mid-answer: {_reason(error)}"
                    raise UpstreamUnavailable(message) from error
                last_error = error
                log.warning("LLM attempt %d of %d failed: %s", attempt, ATTEMPTS, _reason(error))
            finally:
                await pieces.aclose()
        raise UpstreamUnavailable(f"the LLM at {self.chat.where} is unavailable: {_reason(last_error)}")

    async def _next(self, pieces: AsyncGenerator[str, None]) -> str | None:
        """The next piece within RAG_LLM_TIMEOUT, or None at the end of the answer."""
        try:
            async with asyncio.timeout(self.settings.llm_timeout):
                return await anext(pieces)
        except StopAsyncIteration:
            return None


def _reason(error: Exception | None) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the timeout (RAG_LLM_TIMEOUT)"
    return f"{type(error).__name__}: {error}" if error else "unknown error"


class LangChainChat:
    """Any LangChain chat model (ChatOpenAI, ChatOllama, …) as a `ChatStream`."""

    def __init__(self, model: object, where: str) -> None:
        self.model = model
        self.where = where

    async def stream(self, messages: Sequence[BaseMessage]) -> AsyncGenerator[str, None]:
        async for chunk in self.model.astream(list(messages)):  # type: ignore[attr-defined]
            if isinstance(chunk.content, str) and chunk.content:
                yield chunk.content
