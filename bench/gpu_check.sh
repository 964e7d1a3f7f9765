#!/usr/bin/env bash
# One prepared run on a GPU machine (no Deno, no registry there; PyTorch, nvcc and cmake are):
#   1. unpack the carried Deno (.deno_carry/deno.xz) and the carried CPU library + OpenBLAS
#      (.deno_carry/lib.tar.xz: the CPU build needs OpenBLAS headers the GPU image lacks);
#   2. build libft_cuda.so there with cmake (kernels/ on its own; falls back to the carried
#      prebuilt libft_cuda.so if that build fails);
#   3. run the CUDA tests (tests/cuda, CUDA vs CPU backend + guard regions);
#   4. run the kernel benchmarks (bench/gpu_timings.ts) and PyTorch's (bench/gpu_torch.py) on the
#      same card, and merge them into a markdown table.
# Writes under $OUT: summary.log, build.log, tests.log, bench_ours.jsonl, bench_torch.jsonl,
# results.md, machine.txt. Budget: well inside 10 minutes (typically 3-4).
# Prepare (on the dev machine): bash bench/gpu_prepare.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ft_gpu_out}
QUICK=${FT_GPU_CHECK_QUICK:+--quick}  # fewer GEMM shapes and rounds when device time is short
mkdir -p "$OUT"
T0=$(date +%s)
say() { echo "== [$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/summary.log"; }

say "machine"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1
  nvcc --version 2>&1 | tail -1
  cmake --version | head -1
  python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)" 2>&1
  nproc
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt" | tee -a "$OUT/summary.log"

say "unpack deno"
mkdir -p /tmp/ftdeno
xz -dc .deno_carry/deno.xz > /tmp/ftdeno/deno && chmod +x /tmp/ftdeno/deno
DENO=/tmp/ftdeno/deno
export DENO_DIR=/tmp/ftdeno/cache DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
$DENO --version | head -1 | tee -a "$OUT/summary.log"

say "libraries"
LIB=/tmp/ftlib
mkdir -p $LIB
xz -dc .deno_carry/lib.tar.xz | tar -C $LIB -xf -
export LD_LIBRARY_PATH=$LIB:${LD_LIBRARY_PATH:-}
CUBLAS_DIR=$(python3 -c "import nvidia.cublas as m, os; print(os.path.join(list(m.__path__)[0], 'lib'))" 2>/dev/null)
if [ -n "$CUBLAS_DIR" ] && ls "$CUBLAS_DIR"/libcublas.so* >/dev/null 2>&1; then
  export FT_CUBLAS=$(ls "$CUBLAS_DIR"/libcublas.so.* | head -1)
  export LD_LIBRARY_PATH=$CUBLAS_DIR:$LD_LIBRARY_PATH
fi
echo "FT_CUBLAS=${FT_CUBLAS:-none}" | tee -a "$OUT/summary.log"

say "build libft_cuda.so (cmake, kernels only)"
if [ -n "${FT_GPU_CHECK_NO_BUILD:-}" ]; then
  say "FT_GPU_CHECK_NO_BUILD set (dry run): using the carried libft_cuda.so"
elif cmake -S kernels -B /tmp/ftbuild -DCMAKE_BUILD_TYPE=Release -DFT_OUT_DIR=/tmp/ftbuild > "$OUT/build.log" 2>&1 &&
  cmake --build /tmp/ftbuild -j "$(nproc)" >> "$OUT/build.log" 2>&1; then
  cp /tmp/ftbuild/libft_cuda.so $LIB/libft_cuda.so
  say "build ok"
else
  say "BUILD FAILED (tail of build.log below); using the carried libft_cuda.so"
  tail -30 "$OUT/build.log" | tee -a "$OUT/summary.log"
fi
export FT_LIB_DIR=$LIB
# one disassembly pass (~20 s on the 15 MB library): are the Hopper matrix instructions there?
command -v cuobjdump >/dev/null && cuobjdump -sass $LIB/libft_cuda.so | grep -oE "HGMMA|HMMA" | sort | uniq -c | tee -a "$OUT/summary.log"

say "smoke test of the Hopper GEMM (a hang or wrong result turns it off for the rest)"
if ! timeout 25 $DENO run --no-check --allow-ffi --allow-read --allow-env bench/gpu_smoke.ts 2>&1 | tee -a "$OUT/summary.log"; then
  export FT_GEMM_SM90=0
  say "FT_GEMM_SM90=0: using the mma.sync GEMM"
fi

say "benchmarks: ours"
timeout 60 $DENO run --no-check --allow-ffi --allow-read --allow-env bench/gpu_timings.ts $QUICK > "$OUT/bench_ours.jsonl" 2>> "$OUT/summary.log"
echo "ours rc=$?" | tee -a "$OUT/summary.log"
say "benchmarks: torch"
PYTHONUNBUFFERED=1 timeout 50 python3 bench/gpu_torch.py $QUICK > "$OUT/bench_torch.jsonl" 2>> "$OUT/summary.log"
echo "torch rc=$?" | tee -a "$OUT/summary.log"
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
python3 bench/gpu_table.py "$OUT/bench_ours.jsonl" "$OUT/bench_torch.jsonl" "$CARD" > "$OUT/results.md" 2>> "$OUT/summary.log"
cat "$OUT/results.md"

say "CUDA tests (one process per file: a sticky device error stays in its file)"
: > "$OUT/tests.log"
# runtime first (streams, errors), then the kernels most likely to be wrong, the big shapes last;
# runtime_host_test (host code only, an nvcc build) runs in CI, not on device time
for f in $(ls tests/cuda/*_test.ts | sort -t/ -k3 | awk '/runtime_host/{next} /runtime/{print 0, $0; next} /matmul|linear_fused/{print 1, $0; next} /half_entry/{print 2, $0; next} /attention/{print 3, $0; next} /softmax|norm/{print 4, $0; next} /limits/{print 6, $0; next} {print 5, $0}' | sort -n | cut -d" " -f2); do
  t1=$(date +%s)
  if [ $(( t1 - T0 )) -gt ${TEST_BUDGET:-280} ]; then echo "$f skipped: time budget" | tee -a "$OUT/summary.log"; continue; fi
  per=60
  case "$f" in *limits*) per=150 ;; esac  # 10 M-element and model-shape cases vs the CPU backend
  # --allow-run: runtime_test starts one deno subprocess (invalid FT_AUTOCAST probe)
  timeout $per $DENO test --no-check --allow-ffi --allow-read --allow-write --allow-env --allow-run "$f" >> "$OUT/tests.log" 2>&1
  rc=$?
  echo "$f rc=$rc $(( $(date +%s) - t1 ))s $(grep -E '^(ok|FAILED) \|' "$OUT/tests.log" | tail -1)" | tee -a "$OUT/summary.log"
done
grep -E "^cuda: .* => |error: |Error: " "$OUT/tests.log" | head -40 | tee -a "$OUT/summary.log"

say "done"
cat "$OUT/results.md"
