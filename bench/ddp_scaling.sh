#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 21): the `tiny` model, pretraining stage (all four
# losses, every parameter trained), global batch 16, comparing
#   A: 1 process x 2 threads, --batch 16          (FT_NUM_THREADS=2)
#   B: 2 Gloo processes x 1 thread, --batch 8 each (--nproc 2, FT_NUM_THREADS=1)
# Throughput = global samples/s over steps 3..STEPS from rank 0's log.jsonl (steps 1-2 warm up).
# Usage: bash bench/ddp_scaling.sh [STEPS=8] [ROUNDS=1]   (needs build/libft_dist.so)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-8}
rounds=${2:-1}
tmp=$(mktemp -d /tmp/ft_ddp_bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
deno=.tools/deno
$deno run --allow-all src/cli/synth.ts --out "$tmp/data" --n 60 --seed 1 --size 224 --quiet >/dev/null
common=(--config tiny --data "$tmp/data" --stage pretrain --steps "$steps" --eval-every 100000 --eval-samples 1
  --save-every 100000 --log-every 1000 --workers 0 --seed 0)
rate() { # log.jsonl -> global samples/s between step 2 and the last step
  python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"type":"train"' in l]
t = {r["step"]: r["elapsed_s"] for r in rows}
last = max(t)
print(f"{(last - 2) * int(sys.argv[2]) / (t[last] - t[2]):.2f}")
PY
}
for r in $(seq 1 "$rounds"); do
  FT_NUM_THREADS=2 $deno run --allow-all src/cli/train.ts "${common[@]}" --batch 16 --out "$tmp/a$r" >/dev/null
  echo "round $r  1 process x 2 threads (batch 16):      $(rate "$tmp/a$r/log.jsonl" 16) samples/s"
  FT_NUM_THREADS=1 FT_DIST_STORE="$tmp/store$r" $deno run --allow-all src/cli/train.ts "${common[@]}" --batch 8 \
    --nproc 2 --master-port $((29600 + r)) --out "$tmp/b$r" >/dev/null
  echo "round $r  2 processes x 1 thread (batch 8 each): $(rate "$tmp/b$r/log.jsonl" 16) samples/s"
done
