"""Logic of the operations layer: who may write, batched query embeddings, the answer queue, damaged indexes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from starlette.requests import Request

from rag.api.access import Access, is_loopback
from rag.api.limits import AnswerSlots
from rag.config import Settings
from rag.errors import Forbidden, Overloaded, RateLimited, Unauthorized
from rag.jobs import SAFE_DOC_ID, safe_file_name
from rag.query_encoder import BatchingEmbedder
from tests.support import run_sync


def request(authorization: str | None = None, client: str = "10.0.0.1") -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "client": (client, 1)})


def test_writes_need_a_key_when_keys_are_set() -> None:
    access = Access(Settings(api_keys="alpha, beta", host="0.0.0.0"))
    with pytest.raises(Unauthorized, match="needs an API key"):
        access.check(request(), write=True)
    with pytest.raises(Unauthorized, match="not accepted"):
        access.check(request("Bearer gamma"), write=True)
    access.check(request("Bearer beta"), write=True)
    access.check(request(), write=False)  # reads stay public by default


def test_private_reads_need_a_key() -> None:
    access = Access(Settings(api_keys="alpha", public_read=False))
    assert access.read_requires_key
    with pytest.raises(Unauthorized):
        access.check(request("Basic alpha"), write=False)
    access.check(request("Bearer alpha"), write=False)


def test_without_keys_writes_are_off_unless_on_loopback() -> None:
    with pytest.raises(Forbidden, match="RAG_API_KEYS"):
        Access(Settings(host="0.0.0.0")).check(request(), write=True)
    Access(Settings(host="127.0.0.1")).check(request(), write=True)
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "example.org")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_keys_file_is_read(tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nfirst\n\n  second  \n")
    assert Settings(api_keys="third", api_keys_file=keys).accepted_keys() == {"first", "second", "third"}


def test_rate_limit_counts_per_client_and_says_when_to_retry() -> None:
    access = Access(Settings(rate_limit="2/minute"))
    for _ in range(2):
        access.check(request(client="10.0.0.1"), write=False)
    with pytest.raises(RateLimited) as refused:
        access.check(request(client="10.0.0.1"), write=False)
    assert 1 <= (refused.value.retry_after or 0) <= 60
    access.check(request(client="10.0.0.2"), write=False)  # another client has its own budget


def test_a_bad_rate_limit_is_a_config_error() -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="RAG_RATE_LIMIT"):
        Access(Settings(rate_limit="lots"))


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("a.txt", True),
        ("../x.txt", False),
        ("dir/a.txt", False),
        (".hidden", False),
        ("", False),
        ("x" * 300 + ".txt", False),
        ("tab\there.txt", False),
    ],
)
def test_uploaded_file_names_must_be_plain(name: str, safe: bool) -> None:
    assert (safe_file_name(name) is not None) == safe


def test_doc_ids_from_http_are_plain_tokens() -> None:
    assert SAFE_DOC_ID.fullmatch("mh0001") and SAFE_DOC_ID.fullmatch("reuters:2023-11-27.a")
    assert not any(SAFE_DOC_ID.fullmatch(bad) for bad in ("../x", "/etc/passwd", "a b", ".x", "", "abc\n"))


def test_a_missing_keys_file_is_a_config_error(tmp_path) -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="RAG_API_KEYS_FILE"):
        Settings(api_keys_file=tmp_path / "absent").accepted_keys()


class CountingEmbedder:
    """Encodes a text as a vector of its length; counts encoder calls and slows each one down a little."""

    dim = 4

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(len(texts))
        threading.Event().wait(0.02)
        return np.array([[len(t), 0, 0, 1] for t in texts], dtype=np.float32)

    def encode_passages(self, texts, sentences):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_concurrent_queries_share_encoder_calls_and_get_their_own_rows() -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner, window_ms=0, cache_size=0)
    questions = [f"question {'x' * n}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        vectors = list(pool.map(lambda q: batching.encode_queries([q])[0], questions))
    assert [int(v[0]) for v in vectors] == [len(q) for q in questions]
    assert sum(inner.calls) == 40
    assert len(inner.calls) < 20  # a crowd is batched by itself


def test_repeated_questions_come_from_the_cache() -> None:
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner, cache_size=2)
    for _ in range(3):
        batching.encode_queries(["same question"])
    assert inner.calls == [1] and batching.cache_hits == 2
    batching.encode_queries(["b"])
    batching.encode_queries(["c"])  # the cache holds two: "same question" is evicted
    batching.encode_queries(["same question"])
    assert len(inner.calls) == 4


def test_an_encoder_error_reaches_the_caller_and_the_loop_survives() -> None:
    class Failing(CountingEmbedder):
        def encode_queries(self, texts):  # type: ignore[no-untyped-def]
            if "boom" in texts:
                raise RuntimeError("encoder failed")
            return super().encode_queries(texts)

    batching = BatchingEmbedder(Failing(), cache_size=0)
    with pytest.raises(RuntimeError, match="encoder failed"):
        batching.encode_queries(["boom"])
    assert batching.encode_queries(["fine"]).shape == (1, 4)


def test_answer_slots_refuse_quickly_when_the_queue_is_full() -> None:
    async def scenario() -> list[str]:
        slots = AnswerSlots(concurrent=1, queued=1, timeout=0.2)
        outcomes: list[str] = []

        async def one() -> None:
            try:
                async with slots.hold():
                    await asyncio.sleep(0.1)
                outcomes.append("ok")
            except Overloaded as error:
                assert error.retry_after
                outcomes.append("busy")

        await asyncio.gather(*(one() for _ in range(4)))
        return outcomes

    outcomes = run_sync(scenario())
    assert sorted(outcomes) == ["busy", "busy", "ok", "ok"]


def test_waiting_longer_than_the_timeout_is_refused() -> None:
    async def scenario() -> str:
        slots = AnswerSlots(concurrent=1, queued=10, timeout=0.05)
        async with slots.hold():
            try:
                async with slots.hold():
                    return "served"
            except Overloaded:
                return "refused"

    assert run_sync(scenario()) == "refused"


def test_a_caller_that_went_away_does_not_stop_the_encoder() -> None:
    async def scenario() -> np.ndarray:
        batching = BatchingEmbedder(CountingEmbedder(), cache_size=0)
        first = asyncio.ensure_future(batching.encode_query("slow one"))
        second = asyncio.ensure_future(batching.encode_query("cancelled one"))
        await asyncio.sleep(0)
        second.cancel()  # what a closed stream does to its question
        await first
        return await asyncio.wait_for(batching.encode_query("a later question"), 5)

    assert run_sync(scenario()).shape == (4,)


def test_made_up_tokens_do_not_buy_a_fresh_rate_limit() -> None:
    access = Access(Settings(rate_limit="2/minute", api_keys="real"))
    for n in range(2):
        access.check(request(f"Bearer junk{n}"), write=False)
    with pytest.raises(RateLimited):
        access.check(request("Bearer junk9"), write=False)
    with pytest.raises(RateLimited):  # guessing keys for a write is limited too
        access.check(request("Bearer guess"), write=True)
    access.check(request("Bearer real"), write=True)  # a real key has its own budget
