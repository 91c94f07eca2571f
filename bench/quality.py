"""Retrieval and answer quality side by side, on the bundled corpus and the held-out half of our questions.

    python bench/quality.py [--markdown]

Rows: BM25 only, dense only, hybrid (the default, relative score fusion), hybrid with reciprocal rank fusion,
hybrid + sentence re-scoring, hybrid + MMR, and the
common LangChain recipe (RecursiveCharacterTextSplitter 1000/200 over the raw files + FAISS + the same
MiniLM, top-4 chunks). Every row answers with the same extractive composer, so the rows differ only in
what they retrieve (and, for the recipe, in how the text was cleaned and split).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import faiss

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.chunk import sentences  # noqa: E402
from ingest.pipeline import ingest  # noqa: E402
from rag.answer import Evidence, create_backend  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embeddings import Embedder, load_embedder  # noqa: E402
from rag.evaluation import runner  # noqa: E402
from rag.evaluation.split import select  # noqa: E402
from rag.models import Answer, Composed, Document, Hit, Passage, Span  # noqa: E402
from rag.service import RagService  # noqa: E402

QUESTIONS = "corpus_qa.json"  # its held-out half: nothing here was tuned on it
COLUMNS = (
    "evidence_recall@5",
    "doc_recall@1",
    "mrr",
    "accuracy",
    "citation_precision",
    "abstention",
    "false_refusal",
    "total_p50_ms",
)


class LangChainRecipe:
    """The usual tutorial pipeline, exposed with the three service methods the evaluator calls."""

    def __init__(self, corpus: Path, embedder: Embedder, settings: Settings) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
        self.embedder, self.texts, self.chunks = embedder, {}, []
        for path in sorted(corpus.glob("*.txt")):
            text = path.read_text()
            self.texts[path.stem] = text
            for number, chunk in enumerate(splitter.create_documents([text])):
                start = chunk.metadata["start_index"]
                end = start + len(chunk.page_content)
                spans = [s for seg in sentences(text, [Span(start, end)]) for s in seg] or [Span(start, end)]
                chunk_id = f"{path.stem}#{number}"
                self.chunks.append(Passage(chunk_id, path.stem, start, end, text[start:end], tuple(spans)))
        relative = [[Span(s.start - c.start, s.end - c.start) for s in c.sentences] for c in self.chunks]
        vectors, self.sentence_vectors = embedder.encode_passages([c.text for c in self.chunks], relative)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self.backend = create_backend(settings, embedder)

    async def search(self, query: str, top_k: int | None = None) -> tuple[Hit, ...]:
        vector = self.embedder.encode_queries([query])[0]
        scores, rows = self.index.search(vector.reshape(1, -1), min(top_k or 4, len(self.chunks)))
        ranked = zip(rows[0], scores[0], strict=True)
        return tuple(Hit(self.chunks[r], float(s), self.chunks[r].doc_id) for r, s in ranked)

    async def ask(self, question: str, top_k: int | None = None) -> Answer:
        started = time.perf_counter()
        hits = await self.search(question, 4)
        vectors = {h.passage.chunk_id: self.sentence_vectors[self.chunks.index(h.passage)] for h in hits}
        evidence = Evidence(question, self.embedder.encode_queries([question])[0], hits, vectors)
        async for event in self.backend.compose(evidence):
            if isinstance(event, Composed):
                total = (time.perf_counter() - started) * 1000
                return Answer(event.answer, event.answered, event.citations, "recipe", {"total": total})
        raise RuntimeError("no answer")

    async def document(self, doc_id: str) -> Document:
        return Document(doc_id, self.texts[doc_id], doc_id, "", "")


def evaluate(service: object, items: list) -> dict[str, float]:  # type: ignore[type-arg]
    return runner.summarise(asyncio.run(runner.run(service, items)))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    items = select(runner.load_questions(ROOT / "tests/data" / QUESTIONS), "heldout")
    embedder = load_embedder(Settings())
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(index_dir=Path(tmp) / "index")
        ingest([ROOT / "corpus"], base, embedder, "all-MiniLM-L6-v2", progress=False)
        variants = {
            "BM25 only": {"retrieval": "lexical"},
            "dense only": {"retrieval": "dense"},
            "hybrid (default: relative score fusion)": {},
            "hybrid, reciprocal rank fusion": {"fusion": "rrf"},
            "hybrid + sentence re-scoring": {"sentence_rescore": True},
            "hybrid + MMR (0.7)": {"mmr_lambda": 0.7},
        }
        for name, change in variants.items():
            settings = base.model_copy(update=change)
            service = RagService(settings, embedder, create_backend(settings, embedder))
            rows.append((name, evaluate(service, items)))
        recipe = LangChainRecipe(ROOT / "corpus", embedder, base)
        rows.append(("LangChain recipe (1000/200, top-4)", evaluate(recipe, items)))
    print_table(rows, len(items), args.markdown)


def print_table(rows: list[tuple[str, dict[str, float]]], questions: int, markdown: bool) -> None:
    if markdown:
        print("| configuration | " + " | ".join(COLUMNS) + " |")
        print("|---|" + "---|" * len(COLUMNS))
        for name, summary in rows:
            cells = [f"{summary[c]:.1f}" if c.endswith("_ms") else f"{summary[c]:.3f}" for c in COLUMNS]
            print(f"| {name} | " + " | ".join(cells) + " |")
        return
    print(f"{questions} held-out questions of {QUESTIONS} over the bundled corpus")
    print(f"{'configuration':38}" + "".join(f"{c:>20}" for c in COLUMNS))
    for name, summary in rows:
        print(f"{name:38}" + "".join(f"{summary[c]:>20.3f}" for c in COLUMNS))


if __name__ == "__main__":
    main()
