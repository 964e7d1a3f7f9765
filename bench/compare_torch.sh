#!/usr/bin/env bash
# Ours vs PyTorch side by side at the issue's shapes (bench/compare_torch.py; results in
# bench/RESULTS.md). Builds the native library first (scripts/build.sh; if that fails, e.g. on
# in-progress CUDA work, a CPU-only build in /tmp/ftbench used through FT_LIB_DIR). With FT_LIB_DIR
# already set, that library is used as is and nothing is built.
# Usage: bash bench/compare_torch.sh [--rounds 3] [--only gemm,attn,...] [--no-stock]
# Env: FT_LIB_DIR (use that library, no build), TORCH_OPENBLAS_CORETYPE (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FT_LIB_DIR:-}" ]; then
  if ! bash scripts/build.sh >/tmp/compare_torch_build.log 2>&1; then
    echo "compare_torch: scripts/build.sh failed (log /tmp/compare_torch_build.log); CPU-only build in /tmp/ftbench" >&2
    FT_CUDA=OFF FT_BUILD_DIR=/tmp/ftbench bash scripts/build.sh >&2
    export FT_LIB_DIR=/tmp/ftbench
  fi
fi
# The driver runs torch in its best configuration; the caller's OPENBLAS_* are passed on under
# FTB_CALLER_* so that the stock-torch and our subprocesses get the plain environment back.
caller=()
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  if [ -n "${!v+x}" ]; then caller+=("FTB_CALLER_$v=${!v}"); fi
done
# TORCH_OPENBLAS_CORETYPE=SkylakeX (say) gives the tuned torch that OpenBLAS core instead of none:
# unset, this Debian OpenBLAS picks its SSE3 "Prescott" kernel on this CPU, which torch.matmul/bmm
# (and so GEMM and attention) then run on. Default: unset, as specified for the comparison.
tuned=()
if [ -n "${TORCH_OPENBLAS_CORETYPE:-}" ]; then tuned+=("OPENBLAS_CORETYPE=$TORCH_OPENBLAS_CORETYPE"); fi
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u TORCH_OPENBLAS_CORETYPE "${caller[@]}" "${tuned[@]}" \
  GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
  OMP_WAIT_POLICY=PASSIVE ATEN_CPU_CAPABILITY=avx512 /usr/bin/python3 bench/compare_torch.py "$@"
