"""The `rag` command as a user runs it: help, ingest report, ask, search, docs, and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def rag(*args: str, index_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


COMMANDS = [[], ["ingest"], ["serve"], ["ask"], ["search"], ["docs"], ["docs", "rm"], ["eval"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = rag(*command, "--help", index_dir=tmp_path)
    assert "Usage" in result.stdout and "--help" in result.stdout


def test_ingest_reports_and_docs_rm(tmp_path: Path, corpus_dir: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "blank.txt").write_text("   ")
    (extra / "scan.pdf").write_bytes(b"%PDF-1.4")
    (extra / "note.md").write_text("The envoy reached Muscat on Monday for talks with Omani officials about trade.")
    index_dir = tmp_path / "index"
    report = rag("ingest", str(corpus_dir), str(extra), "--no-progress", index_dir=index_dir).stdout
    assert "added" in report and "6" in report
    assert "blank.txt: empty" in report and "scan.pdf: unsupported type .pdf" in report
    again = rag("ingest", str(corpus_dir), str(extra), "--no-progress", index_dir=index_dir).stdout
    assert "unchanged" in again and "index version v000001" in again
    listing = rag("docs", index_dir=index_dir).stdout
    assert "note" in listing and "6 documents" in listing
    assert "removed note" in rag("docs", "rm", "note", index_dir=index_dir).stdout
    assert "5 documents" in rag("docs", index_dir=index_dir).stdout
    missing = rag("docs", "rm", "note", index_dir=index_dir, check=False)
    assert missing.returncode == 3 and missing.stderr.strip() == "error: unknown document 'note'"


def test_ask_and_search_print_citations(built_index: Path) -> None:
    answer = rag("ask", "Why was Kadhimi's visit to Riyadh postponed?", index_dir=built_index).stdout
    assert "hospital" in answer and "[1]" in answer and "004_3432d813c02bbff3, chars" in answer
    hits = rag("search", "coalition forces", "-k", "2", index_dir=built_index).stdout
    assert hits.startswith("1. ") and "\n2. " in hits


def test_errors_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    empty = rag("ask", "Who?", index_dir=tmp_path / "nothing", check=False)
    assert empty.returncode == 4 and empty.stderr.startswith("error: no index in") and "Traceback" not in empty.stderr
    bad = rag("ask", "  ", index_dir=tmp_path, check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: the question is empty"
