#!/usr/bin/env bash
# Configure (once) and build the native libraries into build/. CMake's own dependency
# tracking makes this a no-op when no source changed, so every task may call it.
# Env: FT_BUILD_DIR (default build), FT_CUDA=OFF to skip the CUDA library.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${FT_BUILD_DIR:-build}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  extra=()
  if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    extra+=("-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc")
  fi
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DFT_CUDA="${FT_CUDA:-ON}" "${extra[@]}" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
fi
cmake --build "$dir" -j "$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\] (Building|Linking)|^(Consolidate|Scanning|Built target)' || true
test -f "$dir/libft_cpu.so" || { echo "build: $dir/libft_cpu.so was not produced" >&2; exit 1; }
