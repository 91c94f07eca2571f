"""How the index store scales: one-document writes, queries, filters, recall, open time and memory against N.

    python bench/scale.py [--sizes 10000,100000,1000000] [--store faiss] [--source-index var/multihop]
                          [--work var/bench-scale] [--json OUT] [--plot PNG] [--keep] [--serve]

Each size N gets an index of N passages built from a real one (`--source-index`, default the MultiHop-RAG
index: `RAG_INDEX_DIR=var/multihop rag ingest ../shared/external/multihop/corpus.jsonl`): its passages,
sentence spans and sentence vectors are cycled, and every copy's passage vector is the real one plus a little
noise (renormalised), so neighbourhoods look like MiniLM's and no two vectors are equal. Documents have ten
passages, dates over four years and one of twenty sources. The base is written the way a long ingest writes
it, through the store's writer, in segments of `--segment-passages`; it is setup, not measured. Then:

- add_one_doc_s / add_one_doc_bytes_written: one new 10-passage document through the store's writer (vectors given,
  so index work only: tokenising, the segment, the version, any merge). Bytes are what the process passed to
  write(2) (/proc/self/io wchar), so SQLite journals and the version file count too.
  Milvus Lite runs in process, so its writes count too (those it makes within the call; it flushes later).
- delete_one_doc_s: deleting one document (a tombstone and a version).
- query_p50_ms / query_p95_ms: `retrieve()` of 200 real MultiHop-RAG questions, embedded beforehand (the
  query embedding is excluded: it costs the same at any N); filtered_query_p50_ms: the same with a date range
  covering a quarter of the dates.
- recall_at_10: dense top-10 of the store against exact search over the same vectors.
- open_s / rss_mb: a fresh process opens the index and answers 50 questions; its open time and peak RSS, the
  second time (the OS has the files cached, as for a restarted server); open_first_s is the first time, from
  disk when --drop-caches empties the page cache first (as after a reboot).
- query figures come after one untimed pass over the questions (a serving process's steady state).
- disk_mb: the index folder.
- serve_ready_s / serve_rss_mb (with --serve): `rag serve` started on the index as a user starts it, seconds until
  /readyz answers 200 (interpreter, imports, the embedding model and the index; the median of three starts, files
  cached), and its peak RSS after 20 asks.

`--store milvus` builds and measures the same through Milvus Lite (a .db folder under --work); open time and RSS
are not measured for it (Milvus Lite holds its file for the lifetime of the process that opened it).
A last row, `real`, is the recall of the store's HNSW search on real MiniLM vectors only: the source index's
passage and sentence vectors (74k for MultiHop-RAG) as one segment, queried with the questions.
The machine is shared: read the ratios to the smallest N beside the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import ServerProcess  # noqa: E402  (the same launcher the tests and bench.py use)

from rag.config import Settings  # noqa: E402
from rag.models import Document, Passage  # noqa: E402
from rag.retrieval import Filters, retrieve  # noqa: E402
from rag.store import Index, open_reader, open_writer  # noqa: E402

QUESTIONS = Path("../shared/external/multihop/qa_dev.json")
PASSAGES_PER_DOC = 10
SOURCES = [f"Source {i}" for i in range(20)]
MODEL = "bench-model"
SERVED_QUESTIONS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="passages per index, comma-separated")
    parser.add_argument("--store", default="faiss", choices=["faiss", "milvus"])
    parser.add_argument("--source-index", type=Path, default=ROOT / "var/multihop")
    parser.add_argument("--questions", type=Path, default=ROOT / QUESTIONS)
    parser.add_argument(
        "--question-count", type=int, default=200, help="questions per timed pass (fewer for slow stores)"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "var/bench-scale", help="where the indexes are built")
    parser.add_argument("--segment-passages", type=int, default=100_000, help="segment size of the base")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--plot", type=Path, help="write a PNG of query p50 and one-document ingest against N")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes")
    parser.add_argument(
        "--serve", action="store_true", help="also time `rag serve` until /readyz is 200, and its RSS after asks"
    )
    parser.add_argument(
        "--drop-caches", action="store_true", help="empty the OS page cache before the first open (needs root)"
    )
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # internal: open + query in a fresh process
    args = parser.parse_args()
    if args.probe:
        return probe(args.probe, args.store, args.questions, min(50, args.question_count))
    source = load_source(args.source_index)
    queries, query_texts = embedded_questions(args.questions, args.question_count)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        folder = args.work / f"{args.store}-{size}"
        rows.append(measure(folder, size, source, queries, query_texts, args))
        print_table(rows)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rows.append(real_recall(source, queries, args.work))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1))
    if args.plot:
        plot(rows, args.plot)


# -- the data ----------------------------------------------------------------------------------------


class Source:
    """The real passages to cycle: texts, spans, vectors."""

    def __init__(self, index: Index) -> None:
        self.passages: list[Passage] = []
        rows = []
        for row, passage in index.all_passages():
            self.passages.append(passage)
            rows.append(row)
        self.vectors = np.stack([index.vector(r) for r in rows])
        sentence = index.sentence_vectors([p.chunk_id for p in self.passages])
        self.sentence_vectors = [sentence[p.chunk_id] for p in self.passages]
        self.dim = self.vectors.shape[1]


def load_source(folder: Path) -> Source:
    try:
        index = Index.open_current(folder)
    except Exception as error:
        sys.exit(f"{error}\nbuild it first: RAG_INDEX_DIR={folder} rag ingest ../shared/external/multihop/corpus.jsonl")
    print(f"source: {index.size} real passages from {folder}", flush=True)
    return Source(index)


def embedded_questions(path: Path, count: int) -> tuple[np.ndarray, list[str]]:
    from rag.embeddings import load_embedder

    texts = [q["question"] for q in json.loads(path.read_text())][:count]
    return load_embedder(Settings()).encode_queries(texts).astype(np.float32), texts


def synthetic_document(number: int, source: Source, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Document `number`: ten consecutive real passages (cycled), its own id, date and source; noisy vectors."""
    first = (number * PASSAGES_PER_DOC) % len(source.passages)
    picks = [(first + i) % len(source.passages) for i in range(PASSAGES_PER_DOC)]
    doc_id = f"doc{number:07d}"
    texts, passages, offset = [], [], 0
    for i, pick in enumerate(picks):
        real = source.passages[pick]
        shift = offset - real.start
        spans = tuple(type(s)(s.start + shift, s.end + shift) for s in real.sentences)
        passages.append(Passage(f"{doc_id}:{i}", doc_id, offset, offset + len(real.text), real.text, spans))
        texts.append(real.text)
        offset += len(real.text) + 1
    day = number % (4 * 365)
    date = f"{2020 + day // 365}-{(day % 365) // 31 + 1:02d}-{(day % 31) + 1:02d}"
    text = " ".join(texts)
    document = Document(
        doc_id,
        text,
        f"Article {number}",
        f"bench:{doc_id}",
        f"{number:064x}",
        date=date,
        source=SOURCES[number % len(SOURCES)],
    )
    noise = rng.normal(scale=0.25 / np.sqrt(source.dim), size=(PASSAGES_PER_DOC, source.dim))
    vectors = source.vectors[picks] + noise.astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return document, passages, vectors, [source.sentence_vectors[p] for p in picks]


# -- measuring --------------------------------------------------------------------------------------


def measure(folder: Path, size: int, source: Source, queries: np.ndarray, texts: list[str], args) -> dict:  # type: ignore[no-untyped-def]
    shutil.rmtree(folder, ignore_errors=True)
    settings = Settings(
        index_dir=folder, store=args.store, milvus_uri="", segment_passages=args.segment_passages, max_segments=8
    )
    rng = np.random.default_rng(size)
    documents = size // PASSAGES_PER_DOC
    vectors = np.zeros((documents * PASSAGES_PER_DOC, source.dim), dtype=np.float32)  # for exact search
    started = time.perf_counter()
    with open_writer(settings, source.dim, MODEL) as writer:
        for number in range(documents):
            document = synthetic_document(number, source, rng)
            vectors[number * PASSAGES_PER_DOC : (number + 1) * PASSAGES_PER_DOC] = document[2]
            writer.put(*document)
            if number % 5000 == 0:
                print(f"  building {size:,}: {number * PASSAGES_PER_DOC:,} passages", end="\r", flush=True)
    print(f"  built {size:,} passages in {time.perf_counter() - started:.0f} s", " " * 20, flush=True)

    new = synthetic_document(documents + 1, source, rng)
    written = _wchar()
    started = time.perf_counter()
    with open_writer(settings, source.dim, MODEL) as writer:
        writer.put(*new)
    add_s = time.perf_counter() - started
    add_bytes = _wchar() - written
    started = time.perf_counter()
    with open_writer(settings, source.dim, MODEL) as writer:
        writer.delete("doc0000003")
    delete_s = time.perf_counter() - started

    index = open_reader(settings)
    quarter = Filters(date_from="2021-01-01", date_to="2021-12-31")
    _latencies(index, queries, texts, settings, None)  # warm-up: what a serving process has in memory
    _latencies(index, queries, texts, settings, quarter)
    plain = _latencies(index, queries, texts, settings, None)
    filtered = _latencies(index, queries, texts, settings, quarter)
    alive = np.ones(len(vectors), dtype=bool)
    alive[3 * PASSAGES_PER_DOC : 4 * PASSAGES_PER_DOC] = False
    ids = [f"doc{n // PASSAGES_PER_DOC:07d}:{n % PASSAGES_PER_DOC}" for n in np.flatnonzero(alive)]
    ids += [p.chunk_id for p in new[1]]
    recall = _recall(index, queries, np.concatenate([vectors[alive], new[2]]), ids)
    segments = len(getattr(index, "segments", [])) or None
    del index
    if args.store == "milvus":  # Milvus Lite keeps its file locked for this process's lifetime: no fresh probe
        cold = probed = {"open_s": None, "rss_mb": None}
        served: dict = {}
    else:
        if args.drop_caches:
            _drop_caches()
        cold = _probe(folder, args)
        probed = _probe(folder, args)
        served = _serve(folder, texts[:SERVED_QUESTIONS]) if args.serve else {}
    return {
        "store": args.store if args.store == "faiss" else "milvus-lite",
        "passages": size - PASSAGES_PER_DOC + len(new[1]),
        "segments": segments,
        "add_one_doc_s": round(add_s, 3),
        "add_one_doc_bytes_written": add_bytes,
        "delete_one_doc_s": round(delete_s, 3),
        "query_p50_ms": round(float(np.percentile(plain, 50)), 2),
        "query_p95_ms": round(float(np.percentile(plain, 95)), 2),
        "filtered_query_p50_ms": round(float(np.percentile(filtered, 50)), 2),
        "recall_at_10": round(recall, 4),
        "open_s": probed["open_s"],
        "open_first_s": cold["open_s"],
        "rss_mb": probed["rss_mb"],
        "disk_mb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1),
        "serve_ready_s": served.get("ready_s"),
        "serve_rss_mb": served.get("rss_mb"),
    }


def _serve(folder: Path, questions: list[str], starts: int = 3) -> dict:
    """`rag serve` on the index, as a user starts it: the median seconds until /readyz says 200 over `starts`
    starts (the machine is shared: one start can take 3x another), and the peak RSS after asks."""
    ready = []
    for _ in range(starts):
        ready_s, rss_mb = _serve_once(folder, questions)
        ready.append(ready_s)
    median = float(np.median(ready))
    print(
        f"  rag serve ready in {median:.2f} s (median of {', '.join(f'{r:.2f}' for r in ready)});"
        f" peak RSS {rss_mb:,} MB after {len(questions)} asks"
    )
    return {"ready_s": round(median, 2), "rss_mb": rss_mb}


def _serve_once(folder: Path, questions: list[str]) -> tuple[float, int]:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        server = ServerProcess(folder, {"RAG_LOG_LEVEL": "WARNING"}, Path(tmp) / "serve.log")
        try:
            server.wait_ready(poll=0.02)  # start-up is what is timed: look often
            ready_s = time.perf_counter() - started
            for question in questions:
                httpx.post(f"{server.url}/v1/ask", json={"question": question}, timeout=60).raise_for_status()
            rss_kb = _peak_rss_kb(server.process.pid)
        finally:
            server.stop()
    return ready_s, round(rss_kb / 1024)


def _latencies(index, queries: np.ndarray, texts: list[str], settings: Settings, filters) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for vector, text in zip(queries, texts, strict=True):
        started = time.perf_counter()
        retrieve(index, None, text, 4, settings, filters, vector)  # type: ignore[arg-type]  # never embeds
        times.append((time.perf_counter() - started) * 1000)
    return times


def _recall(index, queries: np.ndarray, vectors: np.ndarray, chunk_ids: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Dense recall@10 of the store against exact search over the same live vectors."""
    overlap = []
    for query in queries[:100]:  # at most 100 questions
        exact = {chunk_ids[i] for i in np.argsort(-(vectors @ query))[:10]}
        rows = [r for r, _ in index.search(query, 10)]
        found = {p.chunk_id for p in index.passages(rows).values()}
        overlap.append(len(exact & found) / 10)
    return float(np.mean(overlap))


def probe(folder: Path, store: str, questions: Path, count: int = 50) -> None:
    """In a fresh process: open the index, answer 50 questions, print open time and peak RSS as JSON."""
    settings = Settings(index_dir=folder, store=store, milvus_uri="")
    started = time.perf_counter()
    index = open_reader(settings)
    open_s = time.perf_counter() - started
    texts = [q["question"] for q in json.loads(questions.read_text())][:count]
    rng = np.random.default_rng(0)
    for text in texts:  # a question's vector does not matter for memory: a random unit vector
        vector = rng.normal(size=int(index.manifest["dim"])).astype(np.float32)
        retrieve(index, None, text, 4, settings, None, vector / np.linalg.norm(vector))  # type: ignore[arg-type]
    print(json.dumps({"open_s": round(open_s, 3), "rss_mb": round(_peak_rss_kb() / 1024)}))


def real_recall(source: Source, queries: np.ndarray, work: Path) -> dict:
    """Recall@10 of HNSW on real MiniLM vectors: the source's passage and sentence vectors as one segment."""
    from rag.store.dense import DenseSegment, write_vectors

    vectors = np.concatenate([source.vectors, *source.sentence_vectors]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    folder = work / "real-hnsw"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_vectors(folder, vectors, ann_min_rows=1)
    dense = DenseSegment(folder)
    overlap, times = [], []
    for query in queries:
        exact = set(np.argsort(-(vectors @ query))[:10].tolist())
        started = time.perf_counter()
        rows, _ = dense.search(query, 10, None)
        times.append((time.perf_counter() - started) * 1000)
        overlap.append(len(exact & set(rows.tolist())) / 10)
    shutil.rmtree(folder, ignore_errors=True)
    empty = dict.fromkeys(
        [
            "add_one_doc_s",
            "add_one_doc_bytes_written",
            "delete_one_doc_s",
            "filtered_query_p50_ms",
            "open_first_s",
            "open_s",
            "rss_mb",
            "disk_mb",
            "serve_ready_s",
            "serve_rss_mb",
        ]
    )
    return {
        "store": "faiss (real MiniLM vectors, HNSW alone)",
        "passages": len(vectors),
        **empty,
        "query_p50_ms": round(float(np.percentile(times, 50)), 3),
        "query_p95_ms": round(float(np.percentile(times, 95)), 3),
        "recall_at_10": round(float(np.mean(overlap)), 4),
    }


def _probe(folder: Path, args) -> dict:  # type: ignore[no-untyped-def]
    command = [
        sys.executable,
        __file__,
        "--probe",
        str(folder),
        "--store",
        args.store,
        "--questions",
        str(args.questions),
        "--question-count",
        str(args.question_count),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the probe failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _drop_caches() -> None:
    """Empty the OS page cache (root only), so the first open reads from disk as after a reboot."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        print(f"  cannot drop the page cache ({error}); the first open is after the build, warm")


def _peak_rss_kb(pid: int | str = "self") -> int:
    """A process' peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's peak through exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _wchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


# -- output -----------------------------------------------------------------------------------------

COLUMNS = [
    ("passages", "passages"),
    ("segments", "segs"),
    ("add_one_doc_s", "add 1 doc s"),
    ("add_one_doc_bytes_written", "add MB written"),
    ("delete_one_doc_s", "delete s"),
    ("query_p50_ms", "query p50 ms"),
    ("query_p95_ms", "p95 ms"),
    ("filtered_query_p50_ms", "filtered p50 ms"),
    ("recall_at_10", "recall@10"),
    ("open_s", "open s"),
    ("open_first_s", "first open s"),
    ("rss_mb", "RSS MB"),
    ("disk_mb", "disk MB"),
    ("serve_ready_s", "serve ready s"),
    ("serve_rss_mb", "serve RSS MB"),
]


def print_table(rows: list[dict]) -> None:
    base = rows[0]
    print("| " + " | ".join(head for _, head in COLUMNS) + " | query p50 ×smallest |")
    print("|" + "---|" * (len(COLUMNS) + 1))
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row.get(key)
            if key == "add_one_doc_bytes_written" and value is not None:
                value = round(value / 1e6, 2)
            cells.append("—" if value is None else f"{value:,}" if isinstance(value, int) else str(value))
        ratio = row["query_p50_ms"] / base["query_p50_ms"] if row.get("segments") else None
        print("| " + " | ".join(cells) + f" | {'—' if ratio is None else f'×{ratio:.2f}'} |")
    print(flush=True)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.get("segments")]
    sizes = [r["passages"] for r in measured]
    figure, left = plt.subplots(figsize=(7, 4))
    left.plot(sizes, [r["query_p50_ms"] for r in measured], "o-", label="retrieve() p50, ms")
    left.plot(sizes, [r["filtered_query_p50_ms"] for r in measured], "s--", label="with a date filter, ms")
    left.set_xscale("log")
    left.set_xlabel("passages in the index")
    left.set_ylabel("query ms")
    right = left.twinx()
    right.plot(sizes, [r["add_one_doc_s"] for r in measured], "^-", color="tab:red", label="add one document, s")
    right.set_ylabel("add one document, s")
    figure.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
    left.set_title("newsrag store on 2 cores: cost against index size")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
