#!/usr/bin/env bash
# Dev-machine side of bench/gpu_check.sh: fills the git-ignored .deno_carry/ with an xz copy of
# the pinned Deno binary and lib.tar.xz: the CPU library (built from native/ now) with the
# OpenBLAS runtime it links, and a prebuilt libft_cuda.so as a fallback (< 64 MiB in all).
#   bash bench/gpu_prepare.sh [build-dir]   (default build/gpu_prepare)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/gpu_prepare}
mkdir -p .deno_carry/lib
rm -f .deno_carry/lib/*
bin=$(readlink -f .tools/deno 2>/dev/null || readlink -f "$(command -v deno)")
if [ ! -f .deno_carry/deno.xz ] || [ "$bin" -nt .deno_carry/deno.xz ]; then xz -T2 -6 -c "$bin" > .deno_carry/deno.xz; fi
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -f "$dir/CMakeCache.txt" ] || cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target ft_cpu ft_cuda | grep -E "error|warning" || true
cp "$dir/libft_cpu.so" "$dir/libft_cuda.so" .deno_carry/lib/
for l in $(ldd "$dir/libft_cpu.so" | awk '/openblas|gfortran|quadmath/ {print $3}'); do cp -L "$l" .deno_carry/lib/; done
# xz the libraries (OpenBLAS alone is ~36 MB raw) so the carry stays under 64 MiB
tar -C .deno_carry/lib -cf - . | xz -T2 -6 > .deno_carry/lib.tar.xz
rm -rf .deno_carry/lib
du -sh .deno_carry; ls -la .deno_carry
