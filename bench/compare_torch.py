"""Ours vs PyTorch, side by side, alternating, at the issue's shapes (fp32, 2 threads).

Run through bench/compare_torch.sh, which starts this file in PyTorch's best configuration:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
    OMP_WAIT_POLICY=PASSIVE ATEN_CPU_CAPABILITY=avx512 /usr/bin/python3 bench/compare_torch.py

For each of R rounds and each case, in an order that rotates with the round, it times
  ours   a subprocess `deno run ... bench/side_by_side.ts --json --only <case>` in the machine's
         normal environment (the tuned variables above dropped, OPENBLAS_CORETYPE=Haswell,
         FT_NUM_THREADS=2)
  torch  this process (tuned environment), bench/torch_cases.py
  stock  the same torch cases in a long-lived worker subprocess started with the plain
         environment (tuned variables dropped, the caller's OPENBLAS_* restored)
with 0.2 s pauses between sides. Each side reports the median of many timed calls after warm-up
(rule in torch_cases.py); the table shows, per side, the min over rounds of those medians.
Ratio = ours / torch time: < 1 means we are faster.

Options: --rounds R (3)  --only ids|prefixes (gemm,attn,softmax,...)  --no-stock
         --max-minutes M (9.5): if the next round would not fit, drop the stock side, then stop
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import torch

import torch_cases as tc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DENO = os.path.join(REPO, ".tools", "deno")
TUNED_VARS = ("GLIBC_TUNABLES", "OMP_WAIT_POLICY", "ATEN_CPU_CAPABILITY")
CALLER_PREFIX = "FTB_CALLER_"  # compare_torch.sh saves the caller's OPENBLAS_* under this prefix
PAUSE_S = 0.2  # OpenBLAS / OpenMP workers spin a while after a call: keep them off the next side


def caller_env():
    """The environment the user ran compare_torch.sh in: tuned variables dropped, OPENBLAS_* back."""
    env = {k: v for k, v in os.environ.items() if k not in TUNED_VARS and not k.startswith(CALLER_PREFIX)}
    for k, v in os.environ.items():
        if k.startswith(CALLER_PREFIX):
            env[k[len(CALLER_PREFIX):]] = v
    return env


def ours_env():
    env = caller_env()
    env["OPENBLAS_CORETYPE"] = "Haswell"
    env.setdefault("FT_NUM_THREADS", "2")
    return env


def describe_env(env, keys=("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") + TUNED_VARS + ("FT_NUM_THREADS", "FT_LIB_DIR")):
    return " ".join(f"{k}={env[k]}" for k in keys if k in env) or "(none of the tuning variables)"


def run_ours(case_id):
    cmd = [DENO, "run", "--allow-ffi", "--allow-read", "--allow-env", "bench/side_by_side.ts", "--json",
           "--only", case_id]
    p = subprocess.run(cmd, cwd=REPO, env=ours_env(), capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"side_by_side.ts --only {case_id} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


class StockWorker:
    """torch_cases in a subprocess with the plain environment; one JSON line per case id."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"], cwd=REPO,
                                  env=caller_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.p.stdout.readline())

    def run(self, case_id):
        self.p.stdin.write(case_id + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("stock torch worker died")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=60)


def torch_info():
    cap = [ln.strip() for ln in torch.__config__.show().splitlines() if "CPU capability" in ln]
    return {"version": torch.__version__, "threads": torch.get_num_threads(),
            "capability": cap[0] if cap else "?"}


def worker():
    torch.set_num_threads(2)
    print(json.dumps(torch_info()), flush=True)
    for line in sys.stdin:
        case_id = line.strip()
        if case_id:
            print(json.dumps(tc.run_case(case_id, onednn=False)), flush=True)


def fmt_ms(v, case_id):
    if v is None:
        return "–"
    if case_id == "dispatch":
        return f"{v * 1e3:.2f} µs"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def ratio(a, b):
    return "–" if a is None or b is None or b <= 0 else f"{a / b:.2f}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--no-stock", action="store_true")
    ap.add_argument("--max-minutes", type=float, default=9.5,
                    help="skip the stock side, then whole rounds, when the next round would overrun")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker()

    torch.set_num_threads(2)
    cases = tc.select(args.only)
    t_start = time.time()
    info = torch_info()
    print(f"# ours vs PyTorch, {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; both sides 2 threads, float32")
    print(f"load average at start: {loadavg()}")
    print(f"torch {info['version']} ({info['capability']}), threads {info['threads']}")
    print(f"torch env (this process): {describe_env(os.environ)}")
    print(f"ours env: {describe_env(ours_env())}")
    stock = None
    if not args.no_stock:
        stock = StockWorker()
        print(f"stock torch env: {describe_env(caller_env())} ({stock.info['capability']})")
    print(f"rounds {args.rounds}; per side and round: median of timed calls after warm-up "
          f"(budget {tc.BUDGET_S} s, {tc.MIN_CALLS}..{tc.MAX_CALLS} calls); table: min over rounds", flush=True)

    sides = ["ours", "torch"] + (["stock"] if stock else [])
    res = {s: {c: [] for c in cases} for s in list(sides)}  # side -> case -> [per-round result dicts]
    meta = {}
    spent = {s: 0.0 for s in sides}  # seconds per side in the last round, for the time guard
    notes = []
    for r in range(args.rounds):
        if r > 0:  # time guard: drop the stock side, then whole rounds, rather than overrun
            left = args.max_minutes * 60 - (time.time() - t_start)
            need = sum(spent[s] for s in sides)
            if need > left and "stock" in sides and need - spent["stock"] <= left:
                sides.remove("stock")
                notes.append(f"stock torch skipped from round {r + 1} on (time guard, --max-minutes "
                             f"{args.max_minutes})")
            elif need > left:
                notes.append(f"stopped after round {r} of {args.rounds} (time guard, --max-minutes "
                             f"{args.max_minutes})")
                break
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        spent = {s: 0.0 for s in sides}
        for c in cases:
            line = []
            for s in order:
                t_side = time.time()
                try:
                    if s == "ours":
                        out = run_ours(c)
                        meta = out.get("_meta", meta)
                        v = out[c]
                    elif s == "torch":
                        v = tc.run_case(c)
                    else:
                        v = stock.run(c)
                except Exception as e:  # report and go on: one broken case must not sink the table
                    print(f"  round {r + 1} {c} {s}: ERROR {e}", file=sys.stderr, flush=True)
                    v = None
                if v is not None:
                    res[s][c].append(v)
                    line.append(f"{s} {fmt_ms(v['fwd_ms'], c)}/{fmt_ms(v.get('fwdbwd_ms'), c)}")
                time.sleep(PAUSE_S)
                spent[s] += time.time() - t_side
            print(f"  round {r + 1}/{args.rounds} {c:22s} " + "  ".join(line) + f"   (load {loadavg()})",
                  file=sys.stderr, flush=True)
    if stock:
        stock.close()

    def best(s, c, key):
        vals = [v[key] for v in res[s][c] if v.get(key) is not None]
        return min(vals) if vals else None

    print(f"\nours: GEMM implementation {meta.get('gemm_impl', '?')}, threads {meta.get('threads', '?')}, "
          f"library dir {meta.get('lib_dir', '?')}")
    print(f"load average at end: {loadavg()}; wall time {time.time() - t_start:.0f} s")
    for n in notes:
        print(f"NOTE: {n}")
    print()
    stock_cols = " stock fwd | stock fwd+bwd |" if stock else ""
    print("| case | ours fwd | torch fwd | ratio | ours fwd+bwd | torch fwd+bwd | ratio |" + stock_cols)
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if stock else ""))
    for c in cases:
        of, tf, ob, tb = best("ours", c, "fwd_ms"), best("torch", c, "fwd_ms"), best("ours", c, "fwdbwd_ms"), \
            best("torch", c, "fwdbwd_ms")
        row = (f"| {tc.LABELS[c]} | {fmt_ms(of, c)} | {fmt_ms(tf, c)} | {ratio(of, tf)} | {fmt_ms(ob, c)} | "
               f"{fmt_ms(tb, c)} | {ratio(ob, tb)} |")
        if stock:
            row += f" {fmt_ms(best('stock', c, 'fwd_ms'), c)} | {fmt_ms(best('stock', c, 'fwdbwd_ms'), c)} |"
        print(row)
    print("\ntimes in ms (dispatch: µs per op); ratio = ours / torch (tuned), < 1 = we are faster")

    gemms = [c for c in cases if tc.gemm_flops(c)]
    if gemms:
        def gf(ms, c, mult=1):
            return "–" if ms is None else f"{mult * tc.gemm_flops(c) / (ms * 1e-3) / 1e9:.0f}"

        print("\nGEMM GFLOP/s (fwd = 2MNK per call; fwd+bwd = 6MNK: NN, then NT and TN in backward)\n")
        print("| M,N,K | ours fwd | torch matmul fwd | torch oneDNN fwd | ours fwd+bwd | torch fwd+bwd |"
              + (" stock fwd | stock fwd+bwd |" if stock else ""))
        print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if stock else ""))
        for c in gemms:
            row = (f"| {c[5:].replace('x', ',')} | {gf(best('ours', c, 'fwd_ms'), c)} | "
                   f"{gf(best('torch', c, 'fwd_ms'), c)} | {gf(best('torch', c, 'onednn_fwd_ms'), c)} | "
                   f"{gf(best('ours', c, 'fwdbwd_ms'), c, 3)} | {gf(best('torch', c, 'fwdbwd_ms'), c, 3)} |")
            if stock:
                row += f" {gf(best('stock', c, 'fwd_ms'), c)} | {gf(best('stock', c, 'fwdbwd_ms'), c, 3)} |"
            print(row)

    print("\nper-round medians, ms (fwd / fwd+bwd), to judge the noise:\n")
    for c in cases:
        parts = []
        for s in res:
            rs = " ".join(f"{fmt_ms(v['fwd_ms'], c)}/{fmt_ms(v.get('fwdbwd_ms'), c)}" for v in res[s][c])
            parts.append(f"{s}: {rs}")
        print(f"- {tc.LABELS[c]}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
