"""Bounded load test of a live `rag serve`: closed-loop clients at several concurrency levels.

    python bench/load.py [--url URL] [--index-dir DIR] [--concurrency 1,10,100,1000] [--seconds 10]
                         [--routes ask,search] [--questions distinct|repeated] [--rounds N] [--json OUT] [--markdown]

Without --url it ingests the bundled corpus/ into a temporary index (or reuses --index-dir), starts its own
`rag serve` on a free loopback port with RAG_RATE_LIMIT off (unless --rate-limit), waits for /readyz and
stops it at the end, also on Ctrl-C.

For each route (POST /v1/ask {"question": q}, POST /v1/search {"query": q}) and each concurrency level C,
C clients share one httpx.AsyncClient (C connections) and each sends its next request as soon as the last
one is answered, for --warmup seconds and then --seconds measured seconds. A request counts in the window
when its answer arrives inside it; after the window the clients stop and in-flight requests are drained
(not counted) so the next level starts on a quiet server.

Columns: requests answered in the window, requests/s sustained, the ratio of that to concurrency 1 (or the
lowest level run), p50/p99 latency of the HTTP answers (any status), counts of 2xx, 429 (rate limited), 503
(overloaded), other 4xx, other 5xx, and transport errors (refused, reset, timeouts; also any 1xx/3xx), and
the CPU used by this client and (own server only) by the server, in % of one core. The machine is shared
and small, so read the ratios and the CPU columns beside the absolute figures: when the client's own CPU
nears a core, the figures measure the load generator rather than the server.

A client that gets 429 or 503 waits what Retry-After says (at most 5 s) before its next request, as a
well-behaved client does; --no-backoff makes it retry at once.

--questions distinct (the default) walks a shuffled pool of ~10,000 distinct questions (the
questions of tests/data/corpus_qa.json and dev_qa.json, and phrasings of them) without restarting between
levels, so the server's query-embedding cache rarely hits; --questions repeated uses 5 questions, to show
what that cache buys.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import ServerProcess  # noqa: E402  (the same launcher the tests and bench.py use)

QA_FILES = [ROOT / "tests/data/corpus_qa.json", ROOT / "tests/data/dev_qa.json"]
ROUTES = {"ask": ("/v1/ask", "question"), "search": ("/v1/search", "query")}
READY_TIMEOUT = 120.0

# Innocent re-phrasings: each makes a different string (so a different cache key) with the same meaning.
PREFIXES = [
    "",
    "According to the news articles, ",
    "In the corpus, ",
    "Quick question: ",
    "From the reports, ",
    "I'd like to know: ",
    "Based on the coverage, ",
    "Can you tell me: ",
    "Per the articles, ",
    "Question: ",
]
QUESTION_WORDS = {
    "who",
    "whom",
    "whose",
    "what",
    "which",
    "when",
    "where",
    "why",
    "how",
    "did",
    "does",
    "do",
    "is",
    "was",
    "were",
    "are",
    "according",
    "in",
    "on",
    "at",
    "for",
    "by",
    "from",
    "name",
    "list",
    "give",
}
SUFFIXES = ["", " Please answer briefly.", " Cite the source.", " (from the news)"]


# --------------------------------------------------------------------------------------------- questions


def base_questions() -> list[str]:
    seen: dict[str, None] = {}
    for path in QA_FILES:
        for item in json.loads(path.read_text()):
            question = " ".join(str(item.get("question", "")).split())
            if question:
                seen.setdefault(question, None)
    if not seen:
        raise SystemExit(f"no questions found in {', '.join(str(p) for p in QA_FILES)}")
    return list(seen)


def question_pool(mode: str, seed: int = 14) -> list[str]:
    base = base_questions()
    rng = random.Random(seed)
    if mode == "repeated":
        return rng.sample(base, min(5, len(base)))
    pool = []
    for prefix in PREFIXES:
        for suffix in SUFFIXES:
            for question in base:
                first, _, rest = question.partition(" ")
                text = f"{first.lower()} {rest}" if prefix and first.lower() in QUESTION_WORDS else question
                pool.append(f"{prefix}{text}{suffix}")
    rng.shuffle(pool)
    return pool


class Questions:
    """Hands out the pool in order, shared by every client, levels and routes (never restarts)."""

    def __init__(self, pool: list[str]) -> None:
        self.pool = pool
        self.taken = 0

    def next(self) -> str:
        question = self.pool[self.taken % len(self.pool)]
        self.taken += 1
        return question


# ------------------------------------------------------------------------------------------------ server


def build_index(index_dir: Path) -> None:
    print(f"ingesting {ROOT / 'corpus'} into {index_dir} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(ROOT / "corpus"), "--no-progress"],
        env={**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_LOG_LEVEL": "WARNING"},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"`rag ingest` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    print(f"  ingested in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


class Server(ServerProcess):
    """The tests' `rag serve` launcher, in its own session so a terminal Ctrl-C reaches only this script."""

    def __init__(self, index_dir: Path, env: dict[str, str], log_path: Path) -> None:
        super().__init__(index_dir, env, log_path, new_session=True)

    def seconds_to_ready(self) -> float:
        started = time.monotonic()
        try:
            self.wait_ready(timeout=READY_TIMEOUT)
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        return time.monotonic() - started

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux /proc), NaN if unknown."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")


# -------------------------------------------------------------------------------------------------- load


@dataclass
class Row:
    route: str
    concurrency: int
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    ok: int = 0
    r429: int = 0
    r503: int = 0
    r4xx: int = 0
    r5xx: int = 0
    errors: int = 0
    client_cpu_pct: float = float("nan")
    server_cpu_pct: float = float("nan")
    error_kinds: dict[str, int] = field(default_factory=dict)
    rounds_rps: list[float] = field(default_factory=list)  # with --rounds: every round's rate, this row the median


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


MAX_BACKOFF = 5.0  # seconds; a Retry-After longer than this is capped so a level still ends on time


async def run_level(
    url: str,
    route: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    timeout: float,
    questions: Questions,
    headers: dict[str, str],
    server: Server | None,
    backoff: bool = True,
) -> Row:
    path, field_name = ROUTES[route]
    row = Row(route, concurrency)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start, window_end = start + warmup, start + warmup + seconds
    marks: dict[str, float] = {}

    def mark_window_start() -> None:
        marks["cpu"] = time.process_time()
        marks["server_cpu"] = server.cpu_seconds() if server else float("nan")

    loop.call_at(window_start, mark_window_start)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while loop.time() < window_end:
            body = {field_name: questions.next()}
            sent = loop.time()
            status, kind, retry_after = 0, "", 0.0
            try:
                response = await client.post(path, json=body)
                status = response.status_code
                if backoff and status in (429, 503):
                    retry_after = min(float(response.headers.get("retry-after", "1") or 1), MAX_BACKOFF)
            except httpx.HTTPError as exc:  # transport errors, timeouts, protocol errors
                kind = type(exc).__name__
            except OSError as exc:  # e.g. EMFILE raised before httpx can wrap it
                kind = type(exc).__name__
            answered = loop.time()
            if retry_after:  # a well-behaved client waits as told before asking again
                await asyncio.sleep(retry_after)
            if not window_start <= answered <= window_end:
                continue
            row.requests += 1
            if kind:
                row.errors += 1
                row.error_kinds[kind] = row.error_kinds.get(kind, 0) + 1
                continue
            latencies.append((answered - sent) * 1000)
            if 200 <= status < 300:
                row.ok += 1
            elif status == 429:
                row.r429 += 1
            elif status == 503:
                row.r503 += 1
            elif 400 <= status < 500:
                row.r4xx += 1
            elif status >= 500:
                row.r5xx += 1
            else:
                row.errors += 1
                row.error_kinds[f"HTTP {status}"] = row.error_kinds.get(f"HTTP {status}", 0) + 1

    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=httpx.Timeout(timeout, connect=timeout)
    ) as client:
        tasks = [asyncio.create_task(client_loop(client)) for _ in range(concurrency)]
        try:
            await asyncio.sleep(max(0.0, window_end - loop.time()))
            cpu_end = time.process_time()
            server_cpu_end = server.cpu_seconds() if server else float("nan")
            # Drain what is still in flight (not counted) so the next level starts on a quiet server.
            await asyncio.wait(tasks, timeout=timeout + 5)
        finally:  # also on Ctrl-C / SIGTERM, which cancel this coroutine
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    latencies.sort()
    row.rps = row.requests / seconds
    row.p50_ms = percentile(latencies, 50)
    row.p99_ms = percentile(latencies, 99)
    if "cpu" in marks:
        row.client_cpu_pct = (cpu_end - marks["cpu"]) / seconds * 100
        row.server_cpu_pct = (server_cpu_end - marks["server_cpu"]) / seconds * 100
    return row


# ------------------------------------------------------------------------------------------------ output

COLUMNS = [
    ("concurrency", ">"),
    ("requests", ">"),
    ("req/s", ">"),
    ("ratio", ">"),
    ("p50 ms", ">"),
    ("p99 ms", ">"),
    ("2xx", ">"),
    ("429", ">"),
    ("503", ">"),
    ("4xx", ">"),
    ("5xx", ">"),
    ("errors", ">"),
    ("client cpu", ">"),
    ("server cpu", ">"),
]


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:.{digits}f}"  # NaN -> "-"


def cells(row: Row, base_rps: float) -> list[str]:
    ratio = row.rps / base_rps if base_rps > 0 else float("nan")
    return [
        str(row.concurrency),
        str(row.requests),
        fmt(row.rps),
        "-" if ratio != ratio else f"x{ratio:.2f}",
        fmt(row.p50_ms),
        fmt(row.p99_ms),
        str(row.ok),
        str(row.r429),
        str(row.r503),
        str(row.r4xx),
        str(row.r5xx),
        str(row.errors),
        "-" if row.client_cpu_pct != row.client_cpu_pct else f"{row.client_cpu_pct:.0f}%",
        "-" if row.server_cpu_pct != row.server_cpu_pct else f"{row.server_cpu_pct:.0f}%",
    ]


def base_of(rows: list[Row]) -> tuple[float, int]:
    """Requests/s at concurrency 1, else at the lowest level run."""
    if not rows:
        return float("nan"), 0
    base = next((r for r in rows if r.concurrency == 1), min(rows, key=lambda r: r.concurrency))
    return base.rps, base.concurrency


def print_tables(rows: list[Row], routes: list[str], markdown: bool) -> None:
    for route in routes:
        mine = [r for r in rows if r.route == route]
        if not mine:
            continue
        base_rps, base_c = base_of(mine)
        path = ROUTES[route][0]
        headers = [name if name != "ratio" else f"vs C={base_c}" for name, _ in COLUMNS]
        body = [cells(r, base_rps) for r in mine]
        print()
        if markdown:
            print(f"**POST {path}**\n")
            print("| " + " | ".join(headers) + " |")
            print("|" + "|".join("---:" for _ in headers) + "|")
            for line in body:
                print("| " + " | ".join(line) + " |")
        else:
            print(f"POST {path}")
            widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
            print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
            for line in body:
                print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))
        kinds: dict[str, int] = {}
        for r in mine:
            for kind, count in r.error_kinds.items():
                kinds[f"C={r.concurrency} {kind}"] = count
        if kinds:
            print(("\n" if markdown else "") + "errors: " + ", ".join(f"{k}: {v}" for k, v in kinds.items()))


def write_json(path: Path, rows: list[Row], meta: dict[str, object]) -> None:
    keys = ["route", "concurrency", "requests", "rps", "p50_ms", "p99_ms", "ok", "r429", "r503", "r4xx", "r5xx"]
    out = []
    for row in rows:
        data = asdict(row)
        item = {key: data[key] for key in keys}
        item["errors"] = row.errors
        for key in ("rps", "p50_ms", "p99_ms", "client_cpu_pct", "server_cpu_pct"):
            value = data[key]
            item[key] = None if value != value else round(value, 2)  # NaN is not JSON
        item["error_kinds"] = row.error_kinds
        if row.rounds_rps:
            item["rounds_rps"] = row.rounds_rps
        out.append(item)
    path.write_text(json.dumps({"rows": out, "meta": meta}, indent=2) + "\n")


# -------------------------------------------------------------------------------------------------- main


def csv_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("concurrency levels must be integers >= 1")
    return values


def csv_routes(text: str) -> list[str]:
    routes = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [r for r in routes if r not in ROUTES]
    if not routes or unknown:
        raise argparse.ArgumentTypeError(f"routes are a comma-separated subset of {','.join(ROUTES)}")
    return routes


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def raise_fd_limit() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_argument_group("server")
    target.add_argument("--url", help="load an already running server at this base URL (no server is started)")
    target.add_argument(
        "--index-dir",
        type=Path,
        help="index for our own server: reused if the folder is non-empty, else the bundled corpus/ is "
        "ingested into it and kept (default: a temporary index, deleted at the end)",
    )
    target.add_argument(
        "--rate-limit",
        default="",
        metavar="SPEC",
        help='RAG_RATE_LIMIT for our own server, e.g. "60/minute" (default: off)',
    )
    target.add_argument(
        "--env",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for our own server, e.g. --env RAG_MAX_CONCURRENT=4 (repeatable)",
    )
    target.add_argument("--api-key", help="send `Authorization: Bearer KEY` with every request")
    load = parser.add_argument_group("load")
    load.add_argument(
        "--concurrency",
        type=csv_ints,
        default=[1, 10, 100, 1000],
        metavar="C1,C2,...",
        help="concurrent clients per level (default: 1,10,100,1000)",
    )
    load.add_argument("--seconds", type=float, default=10.0, help="measured seconds per level (default: 10)")
    load.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run each level this many times and report the round with the median rate (the machine is shared)",
    )
    load.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each level (default: 2)")
    load.add_argument(
        "--routes", type=csv_routes, default=["ask", "search"], metavar="R1,R2", help="ask,search (default: both)"
    )
    load.add_argument(
        "--questions",
        choices=["distinct", "repeated"],
        default="distinct",
        help="distinct: a large pool, rare repeats (default); repeated: 5 questions (embedding cache hits)",
    )
    load.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds (default: 60)")
    load.add_argument(
        "--no-backoff",
        action="store_true",
        help="retry at once after a 429/503 instead of waiting its Retry-After (a hostile client)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="OUT", help="also write the rows to this JSON file")
    output.add_argument("--markdown", action="store_true", help="print Markdown tables (for the README)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.timeout <= 0:
        parser.error("--seconds and --timeout must be > 0, --warmup >= 0")
    if args.url and (args.index_dir or args.rate_limit or args.env):
        parser.error("--index-dir, --rate-limit and --env only apply to our own server (without --url)")
    return args


@contextlib.contextmanager
def own_server(args: argparse.Namespace) -> Iterator[tuple[str, Server | None, float]]:
    if args.url:
        yield args.url.rstrip("/"), None, float("nan")
        return
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        index_dir = args.index_dir or Path(tmp) / "index"
        if not (index_dir.is_dir() and any(index_dir.iterdir())):
            build_index(index_dir)
        env = {"RAG_LOG_LEVEL": "WARNING", "RAG_RATE_LIMIT": args.rate_limit, **dict(args.env)}
        server = Server(index_dir, env, Path(tmp) / "serve.log")
        try:
            ready = server.seconds_to_ready()
            yield server.url, server, ready
        finally:
            server.stop()
            if server.process.returncode not in (0, -signal.SIGTERM, None):
                print(f"rag serve exited with {server.process.returncode}; log tail:", file=sys.stderr)
                print(server.log_tail(), file=sys.stderr)
            if args.index_dir is None:
                shutil.rmtree(index_dir, ignore_errors=True)


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _median_round(rounds: list[Row]) -> Row:
    """The round with the median rate, whole (its latencies and counts belong to it), with every round's rate."""
    chosen = sorted(rounds, key=lambda r: r.rps)[(len(rounds) - 1) // 2]
    chosen.rounds_rps = [round(r.rps, 1) for r in rounds] if len(rounds) > 1 else []
    return chosen


async def interruptible(level: Coroutine[None, None, Row]) -> Row:
    """Run one level; SIGTERM cancels it like Ctrl-C does (asyncio.run handles SIGINT itself)."""
    task = asyncio.current_task()
    terminated = False

    def on_term() -> None:
        nonlocal terminated
        terminated = True
        if task:
            task.cancel()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        return await level
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    soft, _ = raise_fd_limit()
    if soft < max(args.concurrency) + 100:
        print(f"warning: open-file limit {soft} is low for {max(args.concurrency)} clients", file=sys.stderr)
    questions = Questions(question_pool(args.questions))
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    rows: list[Row] = []
    meta: dict[str, object] = {
        "questions": args.questions,
        "question_pool": len(questions.pool),
        "seconds": args.seconds,
        "warmup": args.warmup,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg()[0],
    }
    interrupted = False
    try:
        with own_server(args) as (url, server, ready_s):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                meta["readyz"] = httpx.get(url + "/readyz", headers=headers, timeout=10).json()
            where = "own server" if server else "given server"
            print(
                f"{where} {url}"
                + (f" (ready in {ready_s:.1f} s)" if server else "")
                + f"; {os.cpu_count()} CPUs; questions {args.questions} (pool {len(questions.pool)}); "
                f"{args.warmup:g} s warm-up + {args.seconds:g} s per level; "
                f"load average {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
            for route in args.routes:
                for concurrency in args.concurrency:
                    level = (
                        url,
                        route,
                        concurrency,
                        args.seconds,
                        args.warmup,
                        args.timeout,
                        questions,
                        headers,
                        server,
                        not args.no_backoff,
                    )
                    row = _median_round([asyncio.run(interruptible(run_level(*level))) for _ in range(args.rounds)])
                    rows.append(row)
                    print(
                        f"  {route:6} C={concurrency:<5} {row.requests:6d} requests  {row.rps:8.1f}/s  "
                        f"p50 {fmt(row.p50_ms)} ms  p99 {fmt(row.p99_ms)} ms  2xx {row.ok}  "
                        f"non-2xx {row.requests - row.ok}  (load average {os.getloadavg()[0]:.1f})"
                        + (f"  rounds {row.rounds_rps} /s, median shown" if row.rounds_rps else ""),
                        file=sys.stderr,
                        flush=True,
                    )
                    if server and server.process.poll() is not None:
                        raise SystemExit(f"rag serve died ({server.process.returncode}):\n{server.log_tail()}")
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted; the server is stopped" + ("; rows so far:" if rows else ""), file=sys.stderr)
    meta["loadavg_end"] = os.getloadavg()[0]
    print_tables(rows, args.routes, args.markdown)
    if args.json:
        write_json(args.json, rows, meta)
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
